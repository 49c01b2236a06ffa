// The experiment runner: kernels -> dev-selected solvers -> results.jsonl, its cache, linear probing for
// the standard setting, and the Table 2 report.
export {
  runKernelExperiment,
  solveSeed,
  resolveGrid,
  readResultLines,
  DEFAULT_GRIDS,
  SOLVER_AXES,
  RUNNER_VERSION,
  type RunOptions,
  type RunStats,
  type RunProgress,
  type ResultLine,
  type SeedStatus,
  type SeedSolveInput,
  type SeedSolveResult,
  type GridAxes,
  type GridAxis,
} from './experiment.js';
export { linearProbe, stratifiedFolds, DEFAULT_LP_CS, type LinearProbeOptions, type LinearProbeResult } from './linearProbe.js';
export { splitColumns, concatColumns } from './kernels.js';
export { canonicalJson, hashJson, fileSha256, readEntry, writeEntry, type CacheEntry } from './cache.js';
export { reportTable, renderMarkdown, renderCsv, formatCell, type ReportTable, type ReportCell } from './report.js';
