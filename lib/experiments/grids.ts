// The solvers' hyper-parameter grids, searched on dev (REFERENCE.md §6.7: the paper's grids are not
// recoverable from the reference code; these are ours, documented in the README and docs/solvers.md).
// As the paper's A.3: the regularisation is relative to ||K||_op and the label scaling s (f0) is searched
// for every solver that takes f0; the asymmetric solver predicts with omega only (lambda = 1).
import { OptionError } from '../errors.js';
import type { SolverName } from '../solvers/index.js';

export type GridAxes = { [K in 'kernelRegularization' | 'f0Scaling' | 'C' | 'epsilon' | 'gamma' | 'lambda']?: number[] };
export type GridAxis = keyof GridAxes;

/** The hyper-parameters each solver takes, in grid order (first varies slowest). */
export const SOLVER_AXES: Readonly<Record<SolverName, readonly GridAxis[]>> = {
  lstsq: ['kernelRegularization', 'f0Scaling'],
  logistic: ['kernelRegularization', 'f0Scaling'],
  'logistic-rows': ['kernelRegularization', 'C'],
  svr: ['kernelRegularization', 'f0Scaling', 'C', 'epsilon'],
  svc: ['kernelRegularization', 'C'],
  asym: ['kernelRegularization', 'f0Scaling', 'gamma', 'lambda'],
};

const decades = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, i) => Number(`1e${lo + i}`));

/** Default grids (the paper's grids are not recoverable from the reference code, REFERENCE.md §6.7). */
export const DEFAULT_GRIDS: Readonly<Record<SolverName, GridAxes>> = {
  lstsq: { kernelRegularization: [0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1], f0Scaling: [0, 1, 10, 100, 1000] },
  logistic: { kernelRegularization: decades(-6, -1), f0Scaling: [0, 1, 10, 100, 1000] },
  'logistic-rows': { kernelRegularization: [0], C: decades(-4, 4) },
  svr: { kernelRegularization: [0], f0Scaling: [0, 1, 10, 100], C: [0.01, 0.1, 1, 10, 100], epsilon: [0.1] },
  svc: { kernelRegularization: [0], C: [0.01, 0.1, 1, 10, 100] },
  asym: { kernelRegularization: [0], f0Scaling: [0, 1, 10, 100], gamma: [0.1, 1, 10], lambda: [1] },
};

/** The asym lambdas searched on dev with `--asym-lambda search` (what lmkernel searched by default before:
 * lambda < 1 mixes in the predictor with the sign on the test side, which A.3 calls wrong for SignGD). */
export const ASYM_LAMBDA_SEARCH: readonly number[] = [0, 0.25, 0.5, 0.75, 1];

/** The grid axes actually used: the user's axes replace the defaults; axes a solver does not take are errors. */
export function resolveGrid(solver: SolverName, axes: GridAxes = {}): GridAxes {
  const allowed = SOLVER_AXES[solver];
  const out: GridAxes = {};
  for (const [k, v] of Object.entries(axes) as [GridAxis, number[] | undefined][]) {
    if (v === undefined) continue;
    if (!allowed.includes(k)) throw new OptionError(`grid.${k}`, `only ${allowed.join(', ')} for solver '${solver}'`, v);
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x)))
      throw new OptionError(`grid.${k}`, 'a non-empty list of finite numbers', v);
    if (solver === 'logistic' && k === 'kernelRegularization' && v.some((x) => x <= 0))
      throw new OptionError(`grid.${k}`, "numbers > 0 for solver 'logistic' (the penalty lambda * ||K||_op)", v);
  }
  for (const k of allowed) out[k] = [...(axes[k] ?? DEFAULT_GRIDS[solver][k]!)];
  return out;
}
