// The solver step of one seed, kernels given: select the solver's setting on dev with the task's selection
// metric, fit once with it, predict dev and test (REFERENCE.md §6).
import { InputError, OptionError } from '../errors.js';
import { concatColumns } from '../kernels/layout.js';
import { computeMetrics, selectionMetric, type Metrics } from '../metrics.js';
import { taskName } from '../prompts/index.js';
import { selectOnDev, solve, type SolverName, type SolverParams } from '../solvers/index.js';
import { getTask } from '../tasks/index.js';
import type { Kernel, ProgressFn } from '../types.js';

export interface SeedSolveInput {
  task: string;
  solver: SolverName;
  binary: boolean;
  grid: readonly SolverParams[];
  kernelTrainTrain: Kernel;
  kernelTrainDev: Kernel;
  kernelTrainTest: Kernel;
  /** asym: <g(train), sign g(x)> for dev and test. */
  kernelTrainDevFlipped?: Kernel;
  kernelTrainTestFlipped?: Kernel;
  f0Train?: ArrayLike<number>;
  f0Dev?: ArrayLike<number>;
  f0Test?: ArrayLike<number>;
  trainLabels: readonly number[];
  devLabels: readonly number[];
  testLabels: readonly number[];
  signal?: AbortSignal;
  onProgress?: ProgressFn;
}

export interface SeedSolveResult {
  metric: string;
  best: SolverParams;
  bestIndex: number;
  /** Dev selection score per grid setting. */
  scores: number[];
  dev: Metrics;
  test: Metrics;
  devScore: number;
  testScore: number;
  info: Record<string, unknown>;
  select_s: number;
  eval_s: number;
}

/** Dev and test kernels must match their labels and the train x train kernel; errors name the kernel. */
function checkSeedKernels(input: SeedSolveInput): void {
  for (const [name, k, labels] of [
    ['kernelTrainDev', input.kernelTrainDev, input.devLabels],
    ['kernelTrainTest', input.kernelTrainTest, input.testLabels],
  ] as const) {
    if (!Array.isArray(labels))
      throw new OptionError(name === 'kernelTrainDev' ? 'devLabels' : 'testLabels', 'an array of label indices', labels);
    if (!k || !Array.isArray(k.shape) || k.shape.length !== 4)
      throw new InputError(name, 'expected a kernel {shape: [N, C, M, C], data}');
    if (k.shape[2] !== labels.length)
      throw new InputError(
        name,
        `shape [${k.shape.join(', ')}] does not match ${labels.length} ${name === 'kernelTrainDev' ? 'dev' : 'test'} labels`,
      );
  }
  // The solver layer checks train x train against the train labels and train x dev against it; check the
  // test kernel here too, so that it is named as such (dev and test are joined for the final fit).
  const tt = input.kernelTrainTrain;
  const ttOk = tt && Array.isArray(tt.shape) && tt.shape[0] === input.trainLabels.length;
  for (const [name, k] of [
    ['kernelTrainDev', input.kernelTrainDev],
    ['kernelTrainTest', input.kernelTrainTest],
  ] as const)
    if (ttOk && (k.shape[0] !== tt.shape[0] || k.shape[1] !== tt.shape[1] || k.shape[3] !== tt.shape[3]))
      throw new InputError(
        name,
        `shape [${k.shape.join(', ')}] does not match the train x train kernel [${tt.shape.join(', ')}]`,
      );
}

const arrayOf = (x: ArrayLike<number> | undefined) => (x === undefined ? undefined : Array.from(x));
const joinF0 = (a?: ArrayLike<number>, b?: ArrayLike<number>) =>
  a === undefined || b === undefined ? undefined : [...Array.from(a), ...Array.from(b)];
const joinKernels = (a: Kernel | undefined, b: Kernel | undefined) => (a && b ? concatColumns(a, b) : undefined);

/**
 * Selects the solver setting on dev over `grid` with the task's selection metric (ties to the first
 * setting), then fits once with it and predicts dev and test (train x [dev | test] in one solve).
 * Shape mismatches are reported by the solver layer.
 */
export async function solveSeed(input: SeedSolveInput): Promise<SeedSolveResult> {
  const spec = getTask(taskName(input.task));
  const metric = selectionMetric(spec);
  const numClasses = spec.labels.length;
  const scoreOf = (m: Metrics) => (m as unknown as Record<string, number>)[metric];
  checkSeedKernels(input);
  const t0 = performance.now();
  const sel = await selectOnDev(
    {
      kernelTrainTrain: input.kernelTrainTrain,
      kernelTrainDev: input.kernelTrainDev,
      kernelTrainDevFlipped: input.kernelTrainDevFlipped,
      f0Train: arrayOf(input.f0Train),
      f0Dev: arrayOf(input.f0Dev),
      trainLabels: input.trainLabels,
      devLabels: input.devLabels,
      numClasses,
      binary: input.binary,
      solver: input.solver,
      grid: input.grid,
      metric: (pred, labels) => scoreOf(computeMetrics(spec, pred, labels)),
    },
    { signal: input.signal, onProgress: input.onProgress },
  );
  const t1 = performance.now();
  const res = await solve({
    kernelTrainTrain: input.kernelTrainTrain,
    kernelTrainTest: concatColumns(input.kernelTrainDev, input.kernelTrainTest),
    kernelTrainTestFlipped: joinKernels(input.kernelTrainDevFlipped, input.kernelTrainTestFlipped),
    f0Train: arrayOf(input.f0Train),
    f0Test: joinF0(input.f0Dev, input.f0Test),
    trainLabels: input.trainLabels,
    testLabels: [...input.devLabels, ...input.testLabels],
    numClasses,
    binary: input.binary,
    solver: input.solver,
    params: sel.best,
    signal: input.signal,
  });
  const t2 = performance.now();
  const nDev = input.devLabels.length;
  const dev = computeMetrics(spec, res.predictedLabels.slice(0, nDev), input.devLabels);
  const test = computeMetrics(spec, res.predictedLabels.slice(nDev), input.testLabels);
  return {
    metric,
    best: sel.best,
    bestIndex: sel.bestIndex,
    scores: sel.scores,
    dev,
    test,
    devScore: scoreOf(dev),
    testScore: scoreOf(test),
    info: res.info,
    select_s: (t1 - t0) / 1000,
    eval_s: (t2 - t1) / 1000,
  };
}
