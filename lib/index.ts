// lmkernel public API.
export * from './errors.js';
export * from './types.js';
export * from './model.js';
export {
  resolveModelDir,
  cachedModelDir,
  hubCacheDir,
  parseHubId,
  HubHttpError,
  type ResolveOptions,
  type HubId,
} from './hub/index.js';
export * from './prompts/index.js';
export * from './tasks/index.js';
export * from './data/index.js';
export * from './metrics.js';
export * from './solvers/index.js';
export { accuracy } from './metrics.js';
export { mean, populationStd, sampleStd, meanStd, l2Norm, relativeDifference, argmaxRows } from './stats.js';
export { hasCuda } from './addon/load.js';
export {
  finetune,
  finetuneGrid,
  TrainingDivergedError,
  OPTIMIZERS,
  type Optimizer,
  type Trainable,
  type FinetuneOptions,
  type FinetuneResult,
  type FinetuneGridOptions,
  type GridRun,
  type DevPoint,
  type DevMetric as FinetuneDevMetric,
} from './finetune.js';
export * from './experiments/index.js';
export {
  splitColumns,
  concatColumns,
  flatRows,
  rowsOfFlat,
  nestedToFlat,
  flatToNested,
  tileRows,
  shardTiles,
} from './kernels/layout.js';
export * from './kernels/merge.js';
