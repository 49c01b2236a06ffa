// lmkernel public API.
export * from './errors.js';
export * from './model.js';
export * from './prompts/index.js';
export * from './tasks/index.js';
export * from './data/index.js';
export * from './metrics.js';
export * from './solvers/index.js';
export { accuracy } from './metrics.js';
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
export * from './runner/index.js';
export * from './kernels/merge.js';
