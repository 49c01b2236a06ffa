// The experiments layer: per-seed runs over k-shot splits (kernels -> dev-selected solvers, and
// fine-tuning with the kernel-behaviour measurements) -> results.jsonl, their shared options and per-seed
// preparation, the content-addressed cache, linear probing for the standard output, and the Table 2 report.
export { resolveExperiment, secs, type Experiment, type ExperimentOptions, type RunProgress } from './options.js';
export {
  RUNNER_VERSION,
  checkTokenizerFitsModel,
  loadEncodedSplits,
  modelContentId,
  prepareModel,
  seedHead,
  tokenizerDirFor,
  type EncodedSplits,
  type ModelVocab,
  type PreparedModel,
  type SeedHead,
} from './prepare.js';
export { readResultLines, readResultFiles, finishedLines } from './results.js';
export { ASYM_LAMBDA_SEARCH, DEFAULT_GRIDS, SOLVER_AXES, resolveGrid, type GridAxes, type GridAxis } from './grids.js';
export { solveSeed, type SeedSolveInput, type SeedSolveResult } from './solveSeed.js';
export { runKernelExperiment } from './kernelRun.js';
export type { LoraKernelOptions, RunOptions, RunStats, ResultLine, SeedStatus } from './kernelSpec.js';
export { runFinetuneExperiment } from './finetuneRun.js';
export {
  DEFAULT_FT_BATCH_SIZES,
  DEFAULT_FT_DROPOUT,
  DEFAULT_FT_LRS,
  FT_RUNNER_VERSION,
  defaultEvalEvery,
  defaultKernelDistanceFormula,
  defaultSteps,
  resolveFtOptions,
  type BehaviourRecord,
  type FinetuneRunOptions,
  type FtResultLine,
  type FtRunStats,
  type FtSeedResult,
  type GridRunRecord,
} from './finetuneSpec.js';
export { linearProbe, stratifiedFolds, DEFAULT_LP_CS, type LinearProbeOptions, type LinearProbeResult } from './linearProbe.js';
export {
  canonicalJson,
  hashJson,
  fileSha256,
  readEntry,
  writeEntry,
  kernelCacheKey,
  ENGINE_VERSION,
  type CacheEntry,
} from './cache.js';
export { reportTable, renderMarkdown, renderCsv, formatCell, type ReportTable, type ReportCell } from './report.js';
