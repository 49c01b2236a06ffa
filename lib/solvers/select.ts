// Hyper-parameter selection on dev: every setting of a grid is fitted on train and scored on dev; the best
// score wins, ties going to the first setting in grid order (the reference's gather_result picks the best
// dev run per seed). lstsq grids are evaluated in one native call (one eigendecomposition), asym settings
// that differ only in lambda share one solve.
import { OptionError } from '../errors.js';
import type { ProgressFn } from '../types.js';
import { accuracy, decode } from './shapes.js';
import {
  asymLambdas,
  checkParams,
  lstsqGrid,
  prepareProblem,
  solveProblem,
  type SolveInput,
  type SolverParams,
} from './solve.js';

/** Scores dev predictions; higher is better. Default: accuracy of the argmax labels. */
export type DevMetric = (predictedLabels: number[], labels: readonly number[], scores: number[][]) => number;

export interface SelectInput extends Omit<
  SolveInput,
  'params' | 'testLabels' | 'kernelTrainTest' | 'kernelTrainTestFlipped' | 'f0Test'
> {
  /** train x dev kernel [N][C][M_dev][C]. */
  kernelTrainDev: SolveInput['kernelTrainTest'];
  kernelTrainDevFlipped?: SolveInput['kernelTrainTestFlipped'];
  f0Dev?: SolveInput['f0Test'];
  devLabels: readonly number[];
  /** The settings to try, in grid order. */
  grid: readonly SolverParams[];
  metric?: DevMetric;
}

export interface SelectResult {
  best: SolverParams;
  bestIndex: number;
  bestScore: number;
  /** One score per grid setting, in grid order. */
  scores: number[];
}

const defaultMetric: DevMetric = (pred, labels) => accuracy(pred, labels);

/** Expands {a: [..], b: [..]} into the cartesian product of settings (first key varies slowest). */
export function gridOf(axes: { [K in keyof SolverParams]?: readonly SolverParams[K][] }): SolverParams[] {
  let out: SolverParams[] = [{}];
  for (const [key, values] of Object.entries(axes)) {
    if (!Array.isArray(values) || values.length === 0) throw new OptionError(`grid.${key}`, 'a non-empty array', values);
    out = out.flatMap((s) => values.map((v) => ({ ...s, [key]: v })));
  }
  return out;
}

export async function selectOnDev(
  input: SelectInput,
  opts: { signal?: AbortSignal; onProgress?: ProgressFn } = {},
): Promise<SelectResult> {
  if (!Array.isArray(input.grid) || input.grid.length === 0)
    throw new OptionError('grid', 'a non-empty array of settings', input.grid);
  const metric = input.metric ?? defaultMetric;
  const prob = prepareProblem({
    ...input,
    kernelTrainTest: input.kernelTrainDev,
    kernelTrainTestFlipped: input.kernelTrainDevFlipped,
    f0Test: input.f0Dev,
    testLabels: input.devLabels,
  });
  const grid = input.grid;
  grid.forEach((p) => checkParams(input.solver, p, prob));
  const score = (pred: ArrayLike<number>): number => {
    const { scores, labels } = decode(pred, prob.M, prob.numClasses, prob.binary);
    return metric(labels, input.devLabels, scores);
  };
  const scores: number[] = new Array(grid.length).fill(NaN);
  if (input.solver === 'lstsq') {
    // Group by method; each group is one native grid over its distinct lambdas and scales.
    const byMethod = new Map<string, number[]>();
    grid.forEach((p, i) => byMethod.set(p.method ?? 'auto', [...(byMethod.get(p.method ?? 'auto') ?? []), i]));
    for (const [method, idx] of byMethod) {
      const lambdas = [...new Set(idx.map((i) => grid[i].kernelRegularization ?? 0))];
      const scales = [...new Set(idx.map((i) => grid[i].f0Scaling ?? 0))];
      const r = await lstsqGrid(prob, lambdas, scales, { method: method as never, ...opts });
      for (const i of idx) {
        const g = lambdas.indexOf(grid[i].kernelRegularization ?? 0) * scales.length + scales.indexOf(grid[i].f0Scaling ?? 0);
        scores[i] = score(r.predictions[g]);
      }
    }
  } else if (input.solver === 'asym') {
    const groups = new Map<string, number[]>();
    grid.forEach((p, i) => {
      const key = JSON.stringify([p.gamma ?? 1, p.f0Scaling ?? 0, p.kernelRegularization ?? 0]);
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    for (const idx of groups.values()) {
      const r = await asymLambdas(
        prob,
        { ...grid[idx[0]], lambda: undefined },
        idx.map((i) => grid[i].lambda ?? 1), // checkParams' default: omega only (A.3)
        opts,
      );
      idx.forEach((i, k) => (scores[i] = score(r.predictions[k])));
    }
  } else {
    for (let i = 0; i < grid.length; i++) scores[i] = score((await solveProblem(prob, input.solver, grid[i], opts)).predictions);
  }
  let bestIndex = 0;
  for (let i = 1; i < grid.length; i++)
    if (scores[i] > scores[bestIndex] || (Number.isNaN(scores[bestIndex]) && !Number.isNaN(scores[i]))) bestIndex = i;
  return { best: { ...grid[bestIndex] }, bestIndex, bestScore: scores[bestIndex], scores };
}
