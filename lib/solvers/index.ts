// Kernel solvers: lstsq, logistic, svr, svc, asym (REFERENCE.md §6), dev selection.
export {
  SOLVERS,
  solve,
  solveProblem,
  prepareProblem,
  checkParams,
  lstsqGrid,
  asymLambdas,
  finishPredictions,
  type SolverName,
  type SolverParams,
  type SolveInput,
  type SolveResult,
  type Problem,
  type LstsqMethod,
} from './solve.js';
export { selectOnDev, gridOf, type SelectInput, type SelectResult, type DevMetric } from './select.js';
export {
  flattenKernel,
  flattenLogits,
  targetsOf,
  decode,
  accuracy,
  type KernelInput,
  type NestedKernel,
  type FlatKernel,
  type LogitsInput,
} from './shapes.js';
