// The kernel solvers against every `solvers` entry of fixtures-a.json (roberta cases 0 and 1), through
// the TS API and the `lmkernel solve` CLI; bad inputs; dev selection.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { run } from '../lib/cli/solve.js';
import { InputError, OptionError } from '../lib/errors.js';
import { gridOf, selectOnDev, solve, type SolveInput, type SolverName } from '../lib/solvers/index.js';
import { fixturesDir } from './helpers/fixtures.js';

type K4 = number[][][][];
interface Case {
  binary: boolean;
  num_logits: number;
  f0_train: number[][];
  f0_test: number[][];
  kernels: Record<string, { train_train: K4; train_test: K4; train_test_flipped?: K4 }>;
  solvers: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const fixtures = JSON.parse(readFileSync(join(fixturesDir, 'fixtures-a.json'), 'utf8'));
const rob = fixtures.roberta;
const trainLabels: number[] = rob.inputs.prompt.train_labels;
const testLabels: number[] = rob.inputs.prompt.test_labels;
const cases: Case[] = rob.cases;
const multi = cases[0];
const bin = cases[1];

function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let d = 0;
  let s = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    s = Math.max(s, Math.abs(want[i]));
  }
  return d / (s || 1);
}

function baseInput(c: Case, solver: SolverName, formula = 'sgd'): SolveInput {
  const k = c.kernels[formula];
  return {
    kernelTrainTrain: k.train_train,
    kernelTrainTest: k.train_test,
    kernelTrainTestFlipped: k.train_test_flipped,
    f0Train: c.f0_train,
    f0Test: c.f0_test,
    trainLabels,
    testLabels,
    numClasses: 2,
    binary: c.binary,
    solver,
  };
}

// Every fixture entry as (case, solver, params, expected, tolerance).
interface Entry {
  name: string;
  c: Case;
  solver: SolverName;
  params: Record<string, number>;
  cli: string[];
  want: number[];
  tol: number;
}
const entries: Entry[] = [];
for (const [ci, c] of [multi, bin].entries()) {
  for (const e of c.solvers.lstsq)
    entries.push({
      name: `case${ci} lstsq lambda=${e.kernel_regularization} s=${e.f0_scaling}`,
      c,
      solver: 'lstsq',
      params: { kernelRegularization: e.kernel_regularization, f0Scaling: e.f0_scaling },
      cli: ['--kernel-regularization', String(e.kernel_regularization), '--f0-scaling', String(e.f0_scaling)],
      want: e.predictions,
      tol: 1e-9,
    });
}
for (const e of bin.solvers.logistic)
  entries.push({
    name: `case1 logistic-rows C=${e.C}`,
    c: bin,
    solver: 'logistic-rows',
    params: { C: e.C },
    cli: ['--C', String(e.C)],
    want: e.decision_function,
    tol: 1e-4,
  });
{
  const e = bin.solvers.svr;
  entries.push({
    name: 'case1 svr',
    c: bin,
    solver: 'svr',
    params: { C: e.C, epsilon: e.epsilon },
    cli: ['--C', String(e.C), '--epsilon', String(e.epsilon)],
    want: e.predictions,
    tol: 1e-4,
  });
  const s = bin.solvers.svc;
  entries.push({
    name: 'case1 svc',
    c: bin,
    solver: 'svc',
    params: { C: s.C },
    cli: ['--C', String(s.C)],
    want: s.decision_function,
    tol: 1e-4,
  });
}
for (const e of bin.solvers.asym)
  entries.push({
    name: `case1 asym gamma=${e.gamma} lambda=${e.lambda}`,
    c: bin,
    solver: 'asym',
    params: { gamma: e.gamma, lambda: e.lambda },
    cli: ['--gamma', String(e.gamma), '--lambda', String(e.lambda)],
    want: e.predictions,
    tol: 1e-9,
  });

const errors: Record<string, number> = {};

describe('solvers: fixtures through the TS API', () => {
  it('covers every fixture entry', () => {
    const count = [multi, bin].reduce(
      (acc, c) => acc + Object.values(c.solvers).reduce((a: number, v) => a + (Array.isArray(v) ? v.length : 1), 0),
      0,
    );
    expect(entries.length).toBe(count);
    expect(count).toBe(19);
  });

  for (const e of entries) {
    it(e.name, async () => {
      const formula = e.solver === 'asym' ? 'asymmetric_signgd' : 'sgd';
      const r = await solve({ ...baseInput(e.c, e.solver, formula), params: e.params });
      const err = maxRelErr(r.predictions, e.want);
      errors[e.name] = err;
      expect(err).toBeLessThanOrEqual(e.tol);
      expect(r.predictedLabels).toHaveLength(testLabels.length);
      expect(r.metrics?.accuracy).toBeGreaterThanOrEqual(0);
      // argmax decoding: binary p > 0 -> 1; multi-class argmax over the C logits of each example
      for (let j = 0; j < testLabels.length; j++) {
        if (e.c.binary) expect(r.predictedLabels[j]).toBe(r.predictions[j] > 0 ? 1 : 0);
        else expect(r.predictedLabels[j]).toBe(r.predictions[2 * j + 1] > r.predictions[2 * j] ? 1 : 0);
      }
    });
  }

  it('lstsq reports the rank and agrees across methods', async () => {
    const base = { ...baseInput(multi, 'lstsq') };
    const want = multi.solvers.lstsq[4];
    const params = { kernelRegularization: want.kernel_regularization, f0Scaling: want.f0_scaling };
    for (const method of ['eigh', 'per-lambda', 'per-point'] as const) {
      const r = await solve({ ...base, params: { ...params, method } });
      expect(r.info.method).toBe(method);
      expect(r.info.rank).toBe(16);
      expect(maxRelErr(r.predictions, want.predictions)).toBeLessThanOrEqual(1e-9);
    }
  });

  it('accepts flat Float64Array kernels', async () => {
    const k = multi.kernels.sgd;
    const r = await solve({
      ...baseInput(multi, 'lstsq'),
      kernelTrainTrain: { data: Float64Array.from(k.train_train.flat(3)), shape: [8, 2, 8, 2] },
      kernelTrainTest: { data: Float64Array.from(k.train_test.flat(3)), shape: [8, 2, 8, 2] },
      params: { kernelRegularization: 0.01 },
    });
    expect(maxRelErr(r.predictions, multi.solvers.lstsq[3].predictions)).toBeLessThanOrEqual(1e-9);
  });

  afterAll(() => {
    const bySolver: Record<string, number> = {};
    for (const [name, err] of Object.entries(errors)) {
      const key = name.split(' ')[1];
      bySolver[key] = Math.max(bySolver[key] ?? 0, err);
    }
    console.log('max relative error per solver:', bySolver);
  });
});

describe('solvers: fixtures through the CLI', () => {
  let dir: string;
  const files: Record<string, string> = {};
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lmk-solve-'));
    for (const [name, c] of [
      ['multi', multi],
      ['bin', bin],
    ] as const) {
      const doc = {
        grad_dim: 3289755,
        num_logits: c.num_logits,
        f0_train: c.f0_train,
        f0_test: c.f0_test,
        kernels: c.kernels,
        train_labels: trainLabels,
        test_labels: testLabels,
      };
      files[name] = join(dir, `${name}.json`);
      writeFileSync(files[name], JSON.stringify(doc));
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [i, e] of entries.entries()) {
    it(e.name, async () => {
      const out = join(dir, `out-${i}.json`);
      const input = e.c.binary ? files.bin : files.multi;
      const code = await run([
        '--input',
        input,
        '--out',
        out,
        '--solver',
        e.solver,
        ...e.cli,
        ...(e.c.binary ? ['--binary'] : []),
      ]);
      expect(code).toBe(0);
      const res = JSON.parse(readFileSync(out, 'utf8'));
      expect(maxRelErr(res.predictions, e.want)).toBeLessThanOrEqual(e.tol);
      expect(res.predictions).toHaveLength(e.c.binary ? 8 : 16);
      expect(res.predicted_labels).toHaveLength(8);
      expect(typeof res.metrics.accuracy).toBe('number');
      expect(res.formula).toBe(e.solver === 'asym' ? 'asymmetric_signgd' : 'sgd');
    });
  }

  it('asym on a kernel file without the flipped kernel: lambda 1 solves, another lambda names the missing kernel', async () => {
    const { train_test_flipped: _f, ...asym } = bin.kernels.asymmetric_signgd;
    const input = join(dir, 'no-flip.json');
    const doc = JSON.parse(readFileSync(files.bin, 'utf8'));
    writeFileSync(input, JSON.stringify({ ...doc, kernels: { asymmetric_signgd: asym } }));
    const e = bin.solvers.asym.find((x: { lambda: number }) => x.lambda === 1);
    const out = join(dir, 'no-flip-out.json');
    const args = ['--input', input, '--out', out, '--solver', 'asym', '--gamma', String(e.gamma), '--binary'];
    expect(await run([...args, '--lambda', '1'])).toBe(0);
    expect(maxRelErr(JSON.parse(readFileSync(out, 'utf8')).predictions, e.predictions)).toBeLessThanOrEqual(1e-9);
    await expect(run([...args, '--lambda', '0.5'])).rejects.toThrow(/train_test_flipped.*lambda 0\.5.*--flipped/);
  });

  it('rejects an unknown solver, a bad formula, --binary on a 2-logit kernel and a missing f0', async () => {
    const out = join(dir, 'bad.json');
    await expect(run(['--input', files.bin, '--out', out, '--solver', 'ridge'])).rejects.toThrow(
      /--solver.*lstsq \| logistic \| logistic-rows \| svr \| svc \| asym.*"ridge"/,
    );
    await expect(run(['--input', files.bin, '--out', out, '--solver', 'lstsq', '--formula', 'adam'])).rejects.toThrow(
      /--formula/,
    );
    await expect(run(['--input', files.multi, '--out', out, '--solver', 'lstsq', '--binary'])).rejects.toThrow(/num_logits 2/);
    await expect(
      run(['--input', files.multi, '--out', out, '--solver', 'lstsq', '--kernel-regularization', '-1']),
    ).rejects.toThrow(/kernelRegularization.*>= 0.*-1/);
  });
});

describe('solvers: bad inputs', () => {
  it('kernel / label shape mismatch names both shapes', async () => {
    const p = solve({ ...baseInput(multi, 'lstsq'), trainLabels: trainLabels.slice(0, 6) });
    await expect(p).rejects.toBeInstanceOf(InputError);
    await expect(solve({ ...baseInput(multi, 'lstsq'), trainLabels: trainLabels.slice(0, 6) })).rejects.toThrow(
      /shape \[8, 2, 8, 2\].*6 examples.*expected \[6, 2, 6, 2\]/,
    );
    await expect(solve({ ...baseInput(multi, 'lstsq'), testLabels: testLabels.slice(0, 5) })).rejects.toThrow(
      /5 labels.*\[8, 2, 8, 2\]/,
    );
    // a binary (1-logit) kernel given as a 2-class multi-class problem
    await expect(solve({ ...baseInput(bin, 'lstsq'), binary: false })).rejects.toThrow(/\[8, 1, 8, 1\].*expected \[8, 2, 8, 2\]/);
  });

  it('negative regularization is an OptionError naming the option and the value', async () => {
    const p = solve({ ...baseInput(multi, 'lstsq'), params: { kernelRegularization: -0.1 } });
    await expect(p).rejects.toBeInstanceOf(OptionError);
    await expect(solve({ ...baseInput(multi, 'lstsq'), params: { kernelRegularization: -0.1 } })).rejects.toThrow(
      "option 'kernelRegularization': expected a number >= 0, received -0.1",
    );
  });

  it('unknown solver, bad parameters and unsupported combinations', async () => {
    await expect(solve({ ...baseInput(bin, 'lstsq'), solver: 'ridge' as SolverName })).rejects.toThrow(
      /option 'solver'.*"ridge"/,
    );
    await expect(solve({ ...baseInput(bin, 'svc'), params: { C: 0 } })).rejects.toThrow(
      /option 'C': expected a number > 0, received 0/,
    );
    await expect(solve({ ...baseInput(bin, 'svr'), params: { epsilon: -1 } })).rejects.toThrow(/option 'epsilon'/);
    await expect(solve({ ...baseInput(bin, 'asym', 'asymmetric_signgd'), params: { gamma: -1 } })).rejects.toThrow(
      /option 'gamma'/,
    );
    await expect(solve({ ...baseInput(bin, 'lstsq'), params: { foo: 1 } as never })).rejects.toThrow(/params.foo/);
    await expect(solve({ ...baseInput(bin, 'logistic-rows'), params: { f0Scaling: 1 } })).rejects.toThrow(
      /f0Scaling.*'logistic-rows'.*does not use f0/,
    );
    await expect(solve({ ...baseInput(bin, 'lstsq'), f0Train: undefined, params: { f0Scaling: 1 } })).rejects.toThrow(
      /f0Scaling.*not given/,
    );
    await expect(solve({ ...baseInput(bin, 'lstsq'), trainLabels: [0, 1, 2, 0, 1, 0, 1, 0] })).rejects.toThrow(
      /trainLabels\[2\]/,
    );
  });

  it('asym at lambda = 1 needs no flipped kernel: the fixture predictions, whatever Kflip is', async () => {
    const e = bin.solvers.asym.find((x: { lambda: number }) => x.lambda === 1);
    const params = { gamma: e.gamma, lambda: 1 };
    const none = await solve({ ...baseInput(bin, 'asym', 'asymmetric_signgd'), kernelTrainTestFlipped: undefined, params });
    expect(maxRelErr(none.predictions, e.predictions)).toBeLessThanOrEqual(1e-9);
    // any other flipped kernel (here: the fixture's negated plus 1000 on every entry) leaves them unchanged
    const other = (bin.kernels.asymmetric_signgd.train_test_flipped as K4).map((a) =>
      a.map((b) => b.map((c) => c.map((v) => 1000 - v))),
    );
    const changed = await solve({ ...baseInput(bin, 'asym', 'asymmetric_signgd'), kernelTrainTestFlipped: other, params });
    const given = await solve({ ...baseInput(bin, 'asym', 'asymmetric_signgd'), params });
    // (each call solves the system again: multi-threaded BLAS may differ in the last bits between calls)
    expect(maxRelErr(changed.predictions, none.predictions)).toBeLessThanOrEqual(1e-12);
    expect(maxRelErr(given.predictions, none.predictions)).toBeLessThanOrEqual(1e-12);
    // the default lambda is 1, in a fit and in dev selection
    const byDefault = await solve({
      ...baseInput(bin, 'asym', 'asymmetric_signgd'),
      kernelTrainTestFlipped: undefined,
      params: { gamma: e.gamma },
    });
    expect(maxRelErr(byDefault.predictions, none.predictions)).toBeLessThanOrEqual(1e-12);
    const input = { ...baseInput(bin, 'asym', 'asymmetric_signgd'), kernelTrainTestFlipped: undefined };
    const sel = await selectOnDev({
      ...input,
      kernelTrainDev: input.kernelTrainTest,
      devLabels: testLabels,
      grid: [{ gamma: e.gamma }],
    });
    const accuracy = e.predictions.filter((v: number, i: number) => (v > 0 ? 1 : 0) === testLabels[i]).length / testLabels.length;
    expect(sel.scores).toEqual([accuracy]);
  });

  it('asym with lambda != 1 and no flipped kernel is rejected, naming the kernel and lambda', async () => {
    const input = { ...baseInput(bin, 'asym', 'asymmetric_signgd'), kernelTrainTestFlipped: undefined };
    await expect(solve({ ...input, params: { lambda: 0.5 } })).rejects.toThrow(/kernelTrainTestFlipped.*lambda 0\.5/);
    await expect(
      selectOnDev({
        ...input,
        kernelTrainDev: input.kernelTrainTest,
        devLabels: testLabels,
        grid: [{ lambda: 1 }, { lambda: 0.5 }],
      }),
    ).rejects.toThrow(/kernelTrainTestFlipped.*lambda 0\.5/);
  });

  it('an aborted signal rejects with AbortError', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(solve({ ...baseInput(bin, 'lstsq'), signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('solvers: dev selection', () => {
  it('evaluates an lstsq grid in one call and matches per-setting solves', async () => {
    const grid = gridOf({ kernelRegularization: [0, 0.01], f0Scaling: [0, 1, 10] });
    expect(grid).toHaveLength(6);
    const input = baseInput(multi, 'lstsq');
    const sel = await selectOnDev({
      ...input,
      kernelTrainDev: input.kernelTrainTest,
      f0Dev: input.f0Test,
      devLabels: testLabels,
      grid,
    });
    expect(sel.scores).toHaveLength(6);
    for (const [i, p] of grid.entries()) {
      const r = await solve({ ...input, params: p });
      expect(sel.scores[i]).toBe(r.metrics!.accuracy);
    }
    const max = Math.max(...sel.scores);
    expect(sel.bestScore).toBe(max);
    expect(sel.bestIndex).toBe(sel.scores.indexOf(max)); // ties: first in grid order
    expect(sel.best).toEqual(grid[sel.bestIndex]);
  });

  it('ties go to the first setting; a custom metric is used', async () => {
    const input = baseInput(bin, 'asym', 'asymmetric_signgd');
    const sel = await selectOnDev({
      ...input,
      kernelTrainDev: input.kernelTrainTest,
      kernelTrainDevFlipped: input.kernelTrainTestFlipped,
      devLabels: testLabels,
      grid: [{ lambda: 0 }, { lambda: 0.5 }, { lambda: 1 }],
      metric: () => 1,
    });
    expect(sel.scores).toEqual([1, 1, 1]);
    expect(sel.bestIndex).toBe(0);
    // custom metric: the dev score of the mean binary margin picks the setting that maximises it
    const margin = await selectOnDev({
      ...input,
      kernelTrainDev: input.kernelTrainTest,
      kernelTrainDevFlipped: input.kernelTrainTestFlipped,
      devLabels: testLabels,
      grid: [{ lambda: 0 }, { lambda: 0.5 }, { lambda: 1 }],
      metric: (_p, _l, scores) => scores.reduce((a, s) => a + s[1], 0),
    });
    const sums = bin.solvers.asym.map((e: { predictions: number[] }) => e.predictions.reduce((a, b) => a + b, 0));
    expect(margin.bestIndex).toBe(sums.indexOf(Math.max(...sums)));
  });

  it('selects C for svc / logistic-rows one setting at a time: each score is the accuracy of the fixture decision function', async () => {
    // binary: class 1 where the (scikit-learn) decision function is positive
    const accuracyOf = (df: number[]) => df.filter((v, i) => (v > 0 ? 1 : 0) === testLabels[i]).length / testLabels.length;
    const svc = bin.solvers.svc;
    // by hand: signs + + + - + - - + against labels 1 0 1 1 0 1 0 0 agree at 3 of 8 examples
    expect(accuracyOf(svc.decision_function)).toBe(3 / 8);
    const svcInput = baseInput(bin, 'svc');
    const selSvc = await selectOnDev({
      ...svcInput,
      f0Train: undefined,
      kernelTrainDev: svcInput.kernelTrainTest,
      devLabels: testLabels,
      grid: [{ C: svc.C }],
    });
    expect(selSvc.scores).toEqual([3 / 8]);
    const logistic: { C: number; decision_function: number[] }[] = bin.solvers.logistic;
    const input = baseInput(bin, 'logistic-rows');
    const sel = await selectOnDev({
      ...input,
      f0Train: undefined,
      kernelTrainDev: input.kernelTrainTest,
      devLabels: testLabels,
      grid: logistic.map((e) => ({ C: e.C })),
    });
    const want = logistic.map((e) => accuracyOf(e.decision_function));
    expect(sel.scores).toEqual(want);
    expect(sel.bestIndex).toBe(want.indexOf(Math.max(...want)));
  });
});
