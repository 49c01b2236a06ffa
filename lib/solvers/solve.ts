// The kernel solvers from TypeScript: validation and layout here, numerics in the native core
// (native/core/solver_*.cc) through the addon's solveLstsqGrid / solveKernelLogistic / solveLogistic /
// solveSvc / solveSvr / solveAsym jobs. docs/solvers.md: what each solves, and where it follows the paper
// (A.3) rather than the reference code.
import { InputError, OptionError } from '../errors.js';
import { native, withCancel } from '../addon/load.js';
import type { AddonDenseProblem } from '../addon/types.js';
import type { ProgressFn } from '../types.js';
import { checkInt, isInt, isNumber } from '../validate.js';
import {
  accuracy,
  decode,
  flattenKernel,
  flattenLogits,
  shapeString,
  targetsOf,
  type KernelInput,
  type LogitsInput,
} from './shapes.js';

export const SOLVERS = ['lstsq', 'logistic', 'logistic-rows', 'svr', 'svc', 'asym'] as const;
export type SolverName = (typeof SOLVERS)[number];
export type LstsqMethod = 'auto' | 'eigh' | 'per-lambda' | 'per-point';

export interface SolverParams {
  /**
   * lambda, relative to sigma_max(K_train) = ||K_train||_op: K_train + lambda * sigma_max * I (lstsq,
   * logistic-rows, svr, svc, asym; default 0), or the penalty (lambda * sigma_max / 2) a^T K a of kernel
   * logistic regression (logistic: > 0, default 1e-3; lstsq's ridge is the same penalty on the squared loss).
   */
  kernelRegularization?: number;
  /** s: the pre-trained output f0/s is a fixed offset of the fitted function (lstsq, svr, asym: fit Y - f0/s;
   * logistic: the logits' offset) and is added to the predictions; 0 = no f0. Default 0. */
  f0Scaling?: number;
  /** Inverse L2 strength (logistic-rows, default 1) or box constraint (svr, svc, default 1). */
  C?: number;
  /** epsilon-insensitive tube of svr. Default 0.1. */
  epsilon?: number;
  /** gamma of asym. Default 1. */
  gamma?: number;
  /** Mix of the two asym predictions (lambda*omega + (1-lambda)*nu). Default 1: only omega, the paper's
   * predictor (A.3). */
  lambda?: number;
  /** Stopping tolerance: logistic (Newton decrement, default 1e-12), logistic-rows (projected gradient,
   * default 1e-4), svr/svc (libsvm gap, default 1e-3). */
  tol?: number;
  /** Iteration cap (logistic default 100 Newton steps, logistic-rows 10000, svr/svc 1e7). */
  maxIter?: number;
  /** lstsq algorithm (default 'auto': one eigendecomposition when K_train is symmetric). */
  method?: LstsqMethod;
}

export interface SolveInput {
  kernelTrainTrain: KernelInput;
  kernelTrainTest: KernelInput;
  /** asym only, and only for a lambda != 1: <g(train), sign g(test)> with shape [N][C][M][C]. */
  kernelTrainTestFlipped?: KernelInput;
  f0Train?: LogitsInput;
  f0Test?: LogitsInput;
  trainLabels: readonly number[];
  testLabels?: readonly number[];
  /** Number of label classes (2 for a binary problem). */
  numClasses: number;
  /** One output logit1 - logit0 per example (kernel C = 1), targets +-1. */
  binary: boolean;
  solver: SolverName;
  params?: SolverParams;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
}

export interface SolveResult {
  /** Flattened per (example, logit), or one per example when binary (as the fixtures). */
  predictions: number[];
  /** [M][numClasses]; binary: [-p, p]. */
  scores: number[][];
  predictedLabels: number[];
  metrics?: { accuracy: number };
  /** Solver details: lstsq rank/sigmaMax/method, iterations, convergence... */
  info: Record<string, number | string | boolean | number[]>;
}

/** A validated, flattened problem: n = N*C train coordinates, m = M*C test coordinates. */
export interface Problem {
  N: number;
  M: number;
  C: number;
  n: number;
  m: number;
  numClasses: number;
  binary: boolean;
  K: Float64Array;
  Kx: Float64Array;
  Kflip?: Float64Array;
  f0?: Float64Array;
  f0x?: Float64Array;
  targets: Float64Array;
  trainLabels: readonly number[];
  testLabels?: readonly number[];
}

function checkLabels(labels: readonly number[] | undefined, numClasses: number, what: string): void {
  if (labels === undefined) return;
  if (!Array.isArray(labels)) throw new OptionError(what, 'an array of label indices', labels);
  labels.forEach((l, i) => {
    if (!isInt(l) || l < 0 || l >= numClasses)
      throw new OptionError(`${what}[${i}]`, `an integer label index in [0, ${numClasses - 1}]`, l);
  });
}

/** Validates shapes and flattens kernels, f0 and targets (no math). */
export function prepareProblem(input: Omit<SolveInput, 'params' | 'signal' | 'onProgress'>): Problem {
  const { numClasses, binary, solver } = input;
  if (!(SOLVERS as readonly string[]).includes(solver)) throw new OptionError('solver', SOLVERS.join(' | '), solver);
  if (typeof binary !== 'boolean') throw new OptionError('binary', 'a boolean', binary);
  checkInt(numClasses, 'numClasses', 2);
  if (binary && numClasses !== 2) throw new OptionError('numClasses', '2 for a binary problem', numClasses);
  checkLabels(input.trainLabels, numClasses, 'trainLabels');
  checkLabels(input.testLabels, numClasses, 'testLabels');
  const C = binary ? 1 : numClasses;
  const N = input.trainLabels.length;
  const tt = flattenKernel(input.kernelTrainTrain, 'kernelTrainTrain');
  const tx = flattenKernel(input.kernelTrainTest, 'kernelTrainTest');
  const wantTT = [N, C, N, C];
  if (tt.shape.some((d, i) => d !== wantTT[i]))
    throw new InputError(
      'kernelTrainTrain',
      `shape ${shapeString(tt.shape)} does not match trainLabels (${N} examples) and ${C} output(s): expected ${shapeString(wantTT)}`,
    );
  const M = tx.shape[2];
  const wantTX = [N, C, M, C];
  if (tx.shape.some((d, i) => d !== wantTX[i]))
    throw new InputError(
      'kernelTrainTest',
      `shape ${shapeString(tx.shape)} does not match the train x train kernel ${shapeString(tt.shape)}: expected ${shapeString(wantTX)}`,
    );
  if (input.testLabels !== undefined && input.testLabels.length !== M)
    throw new InputError(
      'testLabels',
      `${input.testLabels.length} labels do not match kernelTrainTest of shape ${shapeString(tx.shape)} (${M} test examples)`,
    );
  let Kflip: Float64Array | undefined;
  // asym: the flipped kernel is optional (read only for λ ≠ 1, asymLambdas checks)
  if (solver === 'asym' && input.kernelTrainTestFlipped !== undefined) {
    const fl = flattenKernel(input.kernelTrainTestFlipped, 'kernelTrainTestFlipped');
    if (fl.shape.some((d, i) => d !== tx.shape[i]))
      throw new InputError(
        'kernelTrainTestFlipped',
        `shape ${shapeString(fl.shape)} does not match kernelTrainTest ${shapeString(tx.shape)}`,
      );
    Kflip = fl.data;
  }
  const f0 = input.f0Train !== undefined ? flattenLogits(input.f0Train, N, C, 'f0Train') : undefined;
  const f0x = input.f0Test !== undefined ? flattenLogits(input.f0Test, M, C, 'f0Test') : undefined;
  return {
    N,
    M,
    C,
    n: N * C,
    m: M * C,
    numClasses,
    binary,
    K: tt.data,
    Kx: tx.data,
    Kflip,
    f0,
    f0x,
    targets: targetsOf(input.trainLabels, numClasses, binary),
    trainLabels: input.trainLabels,
    testLabels: input.testLabels,
  };
}

function num(p: SolverParams, key: keyof SolverParams, def: number, ok: (v: number) => boolean, expected: string): number {
  const v = p[key];
  if (v === undefined) return def;
  if (!isNumber(v) || !ok(v)) throw new OptionError(key, expected, v);
  return v;
}

/** Validated parameters with defaults, per solver. Unknown keys and f0 use where unsupported are errors. */
export function checkParams(
  solver: SolverName,
  params: SolverParams | undefined,
  prob: Pick<Problem, 'f0' | 'f0x'>,
): Required<Omit<SolverParams, 'method'>> & { method: LstsqMethod } {
  const p = params ?? {};
  if (typeof p !== 'object' || p === null) throw new OptionError('params', 'an object', p);
  const known = ['kernelRegularization', 'f0Scaling', 'C', 'epsilon', 'gamma', 'lambda', 'tol', 'maxIter', 'method'];
  for (const k of Object.keys(p)) if (!known.includes(k)) throw new OptionError(`params.${k}`, `one of ${known.join(', ')}`, k);
  const klr = solver === 'logistic';
  const out = {
    kernelRegularization: klr
      ? num(p, 'kernelRegularization', 1e-3, (v) => v > 0, "a number > 0 for solver 'logistic' (lambda * ||K||_op)")
      : num(p, 'kernelRegularization', 0, (v) => v >= 0, 'a number >= 0'),
    f0Scaling: num(p, 'f0Scaling', 0, (v) => v >= 0, 'a number >= 0 (0 = no f0)'),
    C: num(p, 'C', 1, (v) => v > 0, 'a number > 0'),
    epsilon: num(p, 'epsilon', 0.1, (v) => v >= 0, 'a number >= 0'),
    gamma: num(p, 'gamma', 1, (v) => v > 0, 'a number > 0'),
    lambda: num(p, 'lambda', 1, () => true, 'a finite number'),
    tol: num(p, 'tol', klr ? 1e-12 : solver === 'logistic-rows' ? 1e-4 : 1e-3, (v) => v > 0, 'a number > 0'),
    maxIter: num(
      p,
      'maxIter',
      klr ? 100 : solver === 'logistic-rows' ? 10000 : 10_000_000,
      (v) => isInt(v) && v > 0,
      'a positive integer',
    ),
    method: (p.method ?? 'auto') as LstsqMethod,
  };
  if (!['auto', 'eigh', 'per-lambda', 'per-point'].includes(out.method))
    throw new OptionError('method', "'auto' | 'eigh' | 'per-lambda' | 'per-point'", p.method);
  if (out.f0Scaling > 0) {
    if (solver === 'logistic-rows' || solver === 'svc')
      throw new OptionError('f0Scaling', `0 for solver '${solver}' (it does not use f0)`, out.f0Scaling);
    if (!prob.f0 || !prob.f0x) throw new OptionError('f0Scaling', '0 when f0Train / f0Test are not given', out.f0Scaling);
  }
  return out;
}

function finish(prob: Problem, pred: ArrayLike<number>, info: SolveResult['info']): SolveResult {
  const { scores, labels } = decode(pred, prob.M, prob.numClasses, prob.binary);
  const res: SolveResult = { predictions: Array.from(pred), scores, predictedLabels: labels, info };
  if (prob.testLabels) res.metrics = { accuracy: accuracy(labels, prob.testLabels) };
  return res;
}

function dense(prob: Problem, targets: Float64Array): AddonDenseProblem & { targets: Float64Array; labels: Float64Array } {
  return { n: prob.n, m: prob.m, kernel: prob.K, kernelTest: prob.Kx, targets, labels: targets };
}

/** Kernel regression over a lambda x s grid in one native call (one eigendecomposition when K is
 * symmetric). Returns predictions[lambdaIndex * scales.length + scaleIndex] (flattened per coordinate). */
export async function lstsqGrid(
  prob: Problem,
  lambdas: readonly number[],
  scales: readonly number[],
  opts: { method?: LstsqMethod; signal?: AbortSignal; onProgress?: ProgressFn } = {},
): Promise<{ predictions: Float64Array[]; ranks: number[]; sigmaMax: number; method: string }> {
  lambdas.forEach((l) => checkParams('lstsq', { kernelRegularization: l }, prob));
  scales.forEach((s) => checkParams('lstsq', { f0Scaling: s }, prob));
  if (lambdas.length === 0 || scales.length === 0)
    throw new OptionError('grid', 'at least one lambda and one f0 scaling', lambdas.length === 0 ? lambdas : scales);
  const r = await withCancel(opts.signal, (token) =>
    native().solveLstsqGrid(
      {
        ...dense(prob, prob.targets),
        f0: prob.f0,
        f0Test: prob.f0x,
        lambdas: [...lambdas],
        scales: [...scales],
        method: opts.method ?? 'auto',
      },
      opts.onProgress,
      token,
    ),
  );
  const predictions: Float64Array[] = [];
  for (let g = 0; g < lambdas.length * scales.length; g++) predictions.push(r.predictions.subarray(g * prob.m, (g + 1) * prob.m));
  return { predictions, ranks: r.ranks, sigmaMax: r.sigmaMax, method: r.method };
}

/** Asym predictions for several lambdas sharing one (gamma, s, regularization) solve. Targets are +-1 per
 * coordinate: the binary labels, or 2 * one-hot - 1 on the flattened (example, class) problem. */
export async function asymLambdas(
  prob: Problem,
  params: SolverParams,
  lambdas: readonly number[],
  opts: { signal?: AbortSignal; onProgress?: ProgressFn } = {},
): Promise<{ predictions: Float64Array[]; rank: number }> {
  const flipped = prob.Kflip;
  const p = checkParams('asym', params, prob);
  lambdas.forEach((l) => checkParams('asym', { lambda: l }, prob));
  const mixed = lambdas.find((l) => l !== 1);
  if (!flipped && mixed !== undefined)
    throw new OptionError(
      'kernelTrainTestFlipped',
      `a kernel [N][C][M][C] for solver 'asym' with lambda ${mixed} (only lambda = 1 predicts without the flipped kernel)`,
      undefined,
    );
  const r = await withCancel(opts.signal, (token) =>
    native().solveAsym(
      {
        ...dense(prob, prob.binary ? prob.targets : prob.targets.map((t) => 2 * t - 1)),
        kernelTestFlipped: flipped,
        f0: prob.f0,
        f0Test: prob.f0x,
        gamma: p.gamma,
        lambdas: [...lambdas],
        scale: p.f0Scaling,
        regularization: p.kernelRegularization,
      },
      opts.onProgress,
      token,
    ),
  );
  return { predictions: lambdas.map((_, i) => r.predictions.subarray(i * prob.m, (i + 1) * prob.m)), rank: r.rank };
}

/** Fits one solver on a prepared problem and returns the flattened test predictions. */
export async function solveProblem(
  prob: Problem,
  solver: SolverName,
  params: SolverParams | undefined,
  opts: { signal?: AbortSignal; onProgress?: ProgressFn } = {},
): Promise<{ predictions: Float64Array; info: SolveResult['info'] }> {
  const p = checkParams(solver, params, prob);
  const addon = native();
  switch (solver) {
    case 'lstsq': {
      const r = await lstsqGrid(prob, [p.kernelRegularization], [p.f0Scaling], { ...opts, method: p.method });
      return { predictions: r.predictions[0], info: { rank: r.ranks[0], sigmaMax: r.sigmaMax, method: r.method } };
    }
    case 'asym': {
      const r = await asymLambdas(prob, params ?? {}, [p.lambda], opts);
      return { predictions: r.predictions[0], info: { rank: r.rank } };
    }
    case 'logistic': {
      // Binary: the 0/1 label of the one output; multi-class: one-hot over the C outputs of an example.
      const targets = prob.binary ? prob.targets.map((t) => (t + 1) / 2) : prob.targets;
      const r = await withCancel(opts.signal, (token) =>
        addon.solveKernelLogistic(
          {
            ...dense(prob, targets),
            f0: prob.f0,
            f0Test: prob.f0x,
            numOutputs: prob.C,
            scale: p.f0Scaling,
            regularization: p.kernelRegularization,
            tol: p.tol,
            maxIter: p.maxIter,
          },
          opts.onProgress,
          token,
        ),
      );
      return {
        predictions: r.decision,
        info: { iterations: r.iterations, converged: r.converged, objective: r.objective, sigmaMax: r.sigmaMax },
      };
    }
    case 'logistic-rows': {
      // Targets +-1 or one-hot 0/1 -> labels 0/1, as ((t + 1) / 2).int() in the reference.
      const labels = prob.binary ? prob.targets.map((t) => (t + 1) / 2) : prob.targets;
      const r = await withCancel(opts.signal, (token) =>
        addon.solveLogistic(
          { ...dense(prob, labels), C: p.C, tol: p.tol, maxIter: p.maxIter, regularization: p.kernelRegularization },
          opts.onProgress,
          token,
        ),
      );
      return { predictions: r.decision, info: { iterations: r.iterations, converged: r.converged, objective: r.objective } };
    }
    case 'svr':
    case 'svc': {
      const fn = solver === 'svr' ? addon.solveSvr : addon.solveSvc;
      const r = await withCancel(opts.signal, (token) =>
        fn(
          {
            ...dense(prob, prob.targets),
            f0: prob.f0,
            f0Test: prob.f0x,
            scale: p.f0Scaling,
            C: p.C,
            epsilon: p.epsilon,
            tol: p.tol,
            maxIter: p.maxIter,
            regularization: p.kernelRegularization,
          },
          opts.onProgress,
          token,
        ),
      );
      return {
        predictions: r.decision,
        info: { iterations: r.iterations, converged: r.converged, supportVectors: r.supportVectors },
      };
    }
  }
}

/**
 * Fits a kernel solver on train x train and predicts on train x test. Multi-class problems are one
 * flattened (example x class) problem with one-hot targets and argmax decoding; binary problems use one
 * logit and +-1 targets.
 */
export async function solve(input: SolveInput): Promise<SolveResult> {
  const prob = prepareProblem(input);
  const r = await solveProblem(prob, input.solver, input.params, { signal: input.signal, onProgress: input.onProgress });
  return finish(prob, r.predictions, r.info);
}

export { finish as finishPredictions };
