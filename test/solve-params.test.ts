// lib/solvers/solve.ts's validation (docs/mutation.md): checkParams's defaults per solver (as
// docs/solvers.md and the SolverParams comments state them, written out here) and each refusal with its
// message, and prepareProblem's flattened sizes and shape errors. No solver runs: no addon call.
// (The asymmetric solver's flipped kernel is left to test/solvers.test.ts.)
import { describe, expect, it } from 'vitest';
import { InputError, OptionError } from '../lib/errors.js';
import { thrownMessage } from './helpers/thrown.js';
import { checkParams, prepareProblem, SOLVERS, type SolverName, type SolverParams } from '../lib/solvers/solve.js';

const f0 = { f0: new Float64Array(2), f0x: new Float64Array(2) };
const common = { f0Scaling: 0, C: 1, epsilon: 0.1, gamma: 1, lambda: 1, method: 'auto' };
const defaults: Record<SolverName, object> = {
  lstsq: { ...common, kernelRegularization: 0, tol: 1e-3, maxIter: 10_000_000 },
  logistic: { ...common, kernelRegularization: 1e-3, tol: 1e-12, maxIter: 100 },
  'logistic-rows': { ...common, kernelRegularization: 0, tol: 1e-4, maxIter: 10_000 },
  svr: { ...common, kernelRegularization: 0, tol: 1e-3, maxIter: 10_000_000 },
  svc: { ...common, kernelRegularization: 0, tol: 1e-3, maxIter: 10_000_000 },
  asym: { ...common, kernelRegularization: 0, tol: 1e-3, maxIter: 10_000_000 },
};

const message = (f: () => unknown, type: typeof OptionError | typeof InputError = OptionError): string => thrownMessage(f, type);

describe('checkParams', () => {
  it('the defaults of every solver', () => {
    for (const s of SOLVERS) {
      expect(checkParams(s, undefined, {}), s).toEqual(defaults[s]);
      expect(checkParams(s, {}, {}), s).toEqual(defaults[s]);
    }
  });

  it('given values are kept; an f0 scaling needs f0 train and test', () => {
    const p: SolverParams = {
      kernelRegularization: 0.5,
      f0Scaling: 10,
      C: 3,
      epsilon: 0,
      gamma: 2,
      lambda: -0.5,
      tol: 1e-6,
      maxIter: 7,
      method: 'eigh',
    };
    expect(checkParams('svr', p, f0)).toEqual(p);
    expect(checkParams('lstsq', { f0Scaling: 0 }, {}).f0Scaling).toBe(0);
    for (const prob of [{}, { f0: f0.f0 }, { f0x: f0.f0x }])
      expect(message(() => checkParams('lstsq', { f0Scaling: 1 }, prob))).toBe(
        "option 'f0Scaling': expected 0 when f0Train / f0Test are not given, received 1",
      );
    for (const s of ['logistic-rows', 'svc'] as const)
      expect(message(() => checkParams(s, { f0Scaling: 2 }, f0))).toBe(
        `option 'f0Scaling': expected 0 for solver '${s}' (it does not use f0), received 2`,
      );
    for (const m of ['per-lambda', 'per-point', 'auto'] as const) expect(checkParams('lstsq', { method: m }, {}).method).toBe(m);
  });

  it('each bad value named with what is expected; the bounds themselves', () => {
    const bad: [SolverName, SolverParams, string][] = [
      ['lstsq', { kernelRegularization: -1e-9 }, "option 'kernelRegularization': expected a number >= 0, received -1e-9"],
      [
        'logistic',
        { kernelRegularization: 0 },
        "option 'kernelRegularization': expected a number > 0 for solver 'logistic' (lambda * ||K||_op), received 0",
      ],
      ['lstsq', { f0Scaling: -1 }, "option 'f0Scaling': expected a number >= 0 (0 = no f0), received -1"],
      ['svc', { C: 0 }, "option 'C': expected a number > 0, received 0"],
      ['svr', { epsilon: -0.1 }, "option 'epsilon': expected a number >= 0, received -0.1"],
      ['asym', { gamma: 0 }, "option 'gamma': expected a number > 0, received 0"],
      ['asym', { lambda: Infinity }, "option 'lambda': expected a finite number, received Infinity"],
      ['svc', { tol: 0 }, "option 'tol': expected a number > 0, received 0"],
      ['svc', { maxIter: 0 }, "option 'maxIter': expected a positive integer, received 0"],
      ['svc', { maxIter: 2.5 }, "option 'maxIter': expected a positive integer, received 2.5"],
      ['lstsq', { C: '1' as unknown as number }, `option 'C': expected a number > 0, received "1"`],
      [
        'lstsq',
        { method: 'qr' as never },
        `option 'method': expected 'auto' | 'eigh' | 'per-lambda' | 'per-point', received "qr"`,
      ],
    ];
    for (const [s, p, want] of bad)
      expect(
        message(() => checkParams(s, p, f0)),
        JSON.stringify(p),
      ).toBe(want);
    expect(message(() => checkParams('lstsq', { foo: 1 } as never, {}))).toBe(
      `option 'params.foo': expected one of kernelRegularization, f0Scaling, C, epsilon, gamma, lambda, tol, maxIter, method, received "foo"`,
    );
    expect(message(() => checkParams('lstsq', 3 as never, {}))).toBe("option 'params': expected an object, received 3");
    // null is absent, as undefined (params ?? {})
    expect(checkParams('lstsq', null as never, {})).toEqual(defaults.lstsq);
    // the bounds: 0 is allowed where >= 0, the smallest positive where > 0
    expect(checkParams('svr', { kernelRegularization: 0, epsilon: 0, C: 5e-324, tol: 5e-324, maxIter: 1 }, {})).toMatchObject({
      kernelRegularization: 0,
      epsilon: 0,
      C: 5e-324,
      tol: 5e-324,
      maxIter: 1,
    });
    expect(checkParams('logistic', { kernelRegularization: 5e-324 }, {}).kernelRegularization).toBe(5e-324);
    expect(checkParams('asym', { gamma: 5e-324, lambda: -3 }, {})).toMatchObject({ gamma: 5e-324, lambda: -3 });
  });
});

describe('prepareProblem', () => {
  // a [N][C][M][C] kernel of zeros as nested arrays
  const kernel = (N: number, C: number, M: number) =>
    Array.from({ length: N }, () =>
      Array.from({ length: C }, () => Array.from({ length: M }, () => new Array<number>(C).fill(0))),
    );

  it('sizes, targets and labels: multi-class (one-hot) and binary (±1)', () => {
    const multi = prepareProblem({
      kernelTrainTrain: kernel(3, 3, 3),
      kernelTrainTest: kernel(3, 3, 2),
      trainLabels: [2, 0, 1],
      testLabels: [1, 1],
      numClasses: 3,
      binary: false,
      solver: 'lstsq',
    });
    expect([multi.N, multi.M, multi.C, multi.n, multi.m, multi.numClasses, multi.binary]).toEqual([3, 2, 3, 9, 6, 3, false]);
    expect(Array.from(multi.targets)).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0]);
    expect([multi.K.length, multi.Kx.length, multi.f0, multi.f0x, multi.Kflip]).toEqual([
      81,
      54,
      undefined,
      undefined,
      undefined,
    ]);
    const bin = prepareProblem({
      kernelTrainTrain: kernel(2, 1, 2),
      kernelTrainTest: kernel(2, 1, 4),
      f0Train: [[0.5], [-1]],
      f0Test: [[1], [2], [3], [4]],
      trainLabels: [1, 0],
      numClasses: 2,
      binary: true,
      solver: 'svr',
    });
    expect([bin.N, bin.M, bin.C, bin.n, bin.m]).toEqual([2, 4, 1, 2, 4]);
    expect(Array.from(bin.targets)).toEqual([1, -1]);
    expect(Array.from(bin.f0!)).toEqual([0.5, -1]);
    expect(Array.from(bin.f0x!)).toEqual([1, 2, 3, 4]);
  });

  it('refuses a bad solver, binary flag, class count, label, and shapes that do not agree', () => {
    const base = {
      kernelTrainTrain: kernel(2, 2, 2),
      kernelTrainTest: kernel(2, 2, 3),
      trainLabels: [0, 1],
      numClasses: 2,
      binary: false,
      solver: 'lstsq' as SolverName,
    };
    expect(message(() => prepareProblem({ ...base, solver: 'ridge' as SolverName }))).toBe(
      `option 'solver': expected lstsq | logistic | logistic-rows | svr | svc | asym, received "ridge"`,
    );
    expect(message(() => prepareProblem({ ...base, binary: 1 as never }))).toBe(
      "option 'binary': expected a boolean, received 1",
    );
    expect(message(() => prepareProblem({ ...base, numClasses: 3, binary: true }))).toBe(
      "option 'numClasses': expected 2 for a binary problem, received 3",
    );
    expect(message(() => prepareProblem({ ...base, trainLabels: [0, 2] }))).toBe(
      "option 'trainLabels[1]': expected an integer label index in [0, 1], received 2",
    );
    expect(message(() => prepareProblem({ ...base, testLabels: [0, -1, 0] }))).toBe(
      "option 'testLabels[1]': expected an integer label index in [0, 1], received -1",
    );
    expect(message(() => prepareProblem({ ...base, testLabels: 'x' as never }))).toBe(
      `option 'testLabels': expected an array of label indices, received "x"`,
    );
    expect(message(() => prepareProblem({ ...base, kernelTrainTrain: kernel(2, 2, 3) }), InputError)).toBe(
      'kernelTrainTrain: shape [2, 2, 3, 2] does not match trainLabels (2 examples) and 2 output(s): expected [2, 2, 2, 2]',
    );
    expect(message(() => prepareProblem({ ...base, kernelTrainTest: kernel(3, 2, 3) }), InputError)).toBe(
      'kernelTrainTest: shape [3, 2, 3, 2] does not match the train x train kernel [2, 2, 2, 2]: expected [2, 2, 3, 2]',
    );
    // each input is named in its own errors
    expect(message(() => prepareProblem({ ...base, numClasses: 1 }))).toMatch(/^option 'numClasses': /);
    expect(message(() => prepareProblem({ ...base, kernelTrainTrain: 'k' as never }), InputError)).toMatch(/^kernelTrainTrain: /);
    expect(message(() => prepareProblem({ ...base, kernelTrainTest: 'k' as never }), InputError)).toMatch(/^kernelTrainTest: /);
    expect(message(() => prepareProblem({ ...base, f0Train: [[1]] }), InputError)).toMatch(/^f0Train: /);
    expect(message(() => prepareProblem({ ...base, f0Test: [[1]] }), InputError)).toMatch(/^f0Test: /);
    expect(message(() => prepareProblem({ ...base, testLabels: [0, 1] }), InputError)).toBe(
      'testLabels: 2 labels do not match kernelTrainTest of shape [2, 2, 3, 2] (3 test examples)',
    );
  });
});
