// The fine-tuning runner's options, defaults and result lines (the runner itself: finetuneRun.ts).
import { OptionError } from '../errors.js';
import {
  checkDropout,
  OPTIMIZERS,
  type FinetuneOptions,
  type FinetuneResult,
  type Optimizer,
  type TrainingDivergedError,
} from '../finetune.js';
import type { LmModel } from '../model.js';
import type { Metrics } from '../metrics.js';
import { FORMULAS, type Formula, type ProgressFn } from '../types.js';
import { checkInt, checkIntList, checkNumber, oneOf } from '../validate.js';
import { resolveExperiment, type ExperimentOptions } from './options.js';
import type { EncodedSplits, PreparedModel, SeedHead } from './prepare.js';
import type { ResultLineBase } from './results.js';

/** Bump when the meaning of fine-tuning result lines changes (2: dropout, 32·k·C steps, Table 4 grids, kernel distance formula). */
export const FT_RUNNER_VERSION = 2;

/**
 * Default learning-rate grids: the paper's Table 4 (Adam: LM-BFF's {1e-5, 2e-5, 5e-5}; SGD: the wider range
 * {1e-4, 5e-4, 1e-3, 5e-3, 1e-2} that A.3 describes). SignGD is not in Table 4: its grid is ours.
 */
export const DEFAULT_FT_LRS: Readonly<Record<Optimizer, number[]>> = {
  adam: [1e-5, 2e-5, 5e-5],
  sgd: [1e-4, 5e-4, 1e-3, 5e-3, 1e-2],
  signgd: [1e-6, 1e-5, 1e-4],
};
export const DEFAULT_FT_BATCH_SIZES = [2, 4, 8];
/** LM-BFF's (RoBERTa's) hidden and attention dropout during fine-tuning. */
export const DEFAULT_FT_DROPOUT = 0.1;

/**
 * Steps proportional to k·C (A.3): 32·k·C, 1024 for a 16-shot binary task, "comparable" to LM-BFF's 1000.
 * The paper's exact formula is lost in our copy of the text; this one is inferred from its description.
 */
export function defaultSteps(k: number, numClasses: number): number {
  return 32 * k * numClasses;
}

/** Dev evaluation every 4·k·C steps (128 for a 16-shot binary task; LM-BFF: every 100), inferred as defaultSteps. */
export function defaultEvalEvery(k: number, numClasses: number): number {
  return 4 * k * numClasses;
}

/**
 * The kernel of the Fixed Features distance by default: the optimizer's kernel analog (the paper's
 * Table 7: SGD → the SGD eNTK; Adam and SignGD → the SignGD eNTK).
 */
export function defaultKernelDistanceFormula(optimizer: Optimizer): Formula {
  return optimizer === 'sgd' ? 'sgd' : 'signgd';
}

export interface FinetuneRunOptions extends ExperimentOptions {
  optimizer: Optimizer;
  /** Learning rates to try (default DEFAULT_FT_LRS[optimizer]). */
  lrs?: number[];
  /** Batch sizes to try (default 2, 4, 8; sizes >= the training set mean full batch and are tried once). */
  batchSizes?: number[];
  /** Updates per run (default defaultSteps(k, C) = 32·k·C). */
  steps?: number;
  /** Dev evaluation interval (default defaultEvalEvery(k, C) = 4·k·C, at most `steps`). */
  evalEvery?: number;
  /** Dropout of the training steps (default 0.1, LM-BFF's). */
  dropout?: number;
  /** The eNTK of the kernel distance (default: the optimizer's analog, defaultKernelDistanceFormula). */
  kernelDistanceFormula?: Formula;
  /** LoRA on query/value (A Kaiming-uniform seeded by the data seed, B = 0); trains the LoRA matrices and the heads. */
  lora?: { r: number; alpha: number } | null;
  /** Record the kernel-behaviour measurements (pre-trained, linearized, kernel distances). */
  behaviour?: boolean;
  maxGradNorm?: number;
  weightDecay?: number;
  evalBatchSize?: number;
  kernelBatchSize?: number;
  /** Progress of the current training run (label names the seed and grid point). */
  onProgress?: (label: string) => ProgressFn | undefined;
}

export interface GridRunRecord {
  lr: number;
  batch_size: number;
  dev_score: number | null;
  best_step: number;
  steps: number;
  error?: string;
}

export interface BehaviourRecord {
  pre_test: Metrics;
  linearized_test: Metrics;
  ft_test: Metrics;
  /** Selection metric (acc for most tasks) of the three models. */
  pre_test_score: number;
  linearized_test_score: number;
  ft_test_score: number;
  /** (lin − pre)/(ft − pre) on the selection metric; null when ft = pre. */
  share_recovered: number | null;
  /** The same on accuracy. */
  share_recovered_acc: number | null;
  kernel_distance_train_train: number | null;
  kernel_distance_train_test: number | null;
  /** The eNTK formula of the two distances (lines before runner version 2: the SGD kernel). */
  kernel_distance_formula?: Formula;
  /** The re-run of the selected setting reproduced its dev score (grids of more than one point). */
  rerun_dev_score?: number | null;
}

export interface FtResultLine extends ResultLineBase {
  method: 'finetune';
  status: 'done' | 'aborted' | 'diverged';
  /** The optimizer (report column `<output>/<optimizer>/ft`). */
  formula: Optimizer;
  solver: 'ft';
  binary: false;
  /** 'lora' for LoRA runs (the report appends `/lora`), else 'all'. */
  subset: 'all' | 'lora';
  params: { lr: number; batch_size: number; best_step: number; steps: number } | null;
  grid: { lr: number[]; batch_size: number[] };
  grid_size: number;
  grid_runs: GridRunRecord[];
  dev: Metrics | null;
  test: Metrics | null;
  dev_score: number | null;
  test_score: number | null;
  steps: number;
  eval_every: number;
  /** Dropout of the training steps (absent in lines before runner version 2: 0). */
  dropout?: number;
  lora: { r: number; alpha: number } | null;
  n_train: number;
  n_dev: number;
  n_test: number;
  max_test: number | null;
  label_word_ids: number[] | null;
  linear_probe: SeedHead['info'];
  behaviour: BehaviourRecord | null;
  /** Aborted / diverged: the state reached (its step, and its test metrics). */
  partial?: { lr: number; batch_size: number; step: number; test: Metrics | null; error?: string };
  train_loss: { first: number; last: number } | null;
  timings: { encode_s: number; grid_s: number; behaviour_s: number; total_s: number };
}

export interface FtSeedResult {
  seed: number;
  status: 'done' | 'skipped' | 'aborted' | 'diverged';
  line: FtResultLine;
  /** Not in the line (sizes): the selected run's test outputs, the linearized and the pre-trained ones. */
  testLogits?: number[][];
  linearizedTestLogits?: number[][];
  preTestLogits?: number[][];
}

export interface FtRunStats {
  seeds: FtSeedResult[];
  lines: FtResultLine[];
  skipped: number;
  aborted: boolean;
  total_s: number;
}

/** Validates the options and returns the resolved settings (exported for the CLI's early checks). */
export function resolveFtOptions(opts: FinetuneRunOptions) {
  const x = resolveExperiment(opts);
  const optimizer = oneOf(opts.optimizer, 'optimizer', OPTIMIZERS);
  const lrs = opts.lrs ?? DEFAULT_FT_LRS[optimizer];
  if (!Array.isArray(lrs) || lrs.length === 0) throw new OptionError('lrs', 'a non-empty list of learning rates', lrs);
  lrs.forEach((lr, i) => checkNumber(lr, `lrs[${i}]`, { min: 0, exclusiveMin: true }));
  const batchSizes = checkIntList(opts.batchSizes ?? DEFAULT_FT_BATCH_SIZES, 'batchSizes', 1);
  const C = x.spec.labels.length;
  const steps = opts.steps === undefined ? defaultSteps(x.k, C) : checkInt(opts.steps, 'steps', 1);
  const evalEvery =
    opts.evalEvery === undefined ? Math.min(steps, defaultEvalEvery(x.k, C)) : checkInt(opts.evalEvery, 'evalEvery', 1);
  const dropout = opts.dropout === undefined ? DEFAULT_FT_DROPOUT : checkDropout(opts.dropout);
  const kernelDistanceFormula = oneOf(
    opts.kernelDistanceFormula,
    'kernelDistanceFormula',
    FORMULAS,
    defaultKernelDistanceFormula(optimizer),
  );
  let lora: { r: number; alpha: number } | null = null;
  if (opts.lora) {
    checkInt(opts.lora.r, 'lora.r', 1);
    checkNumber(opts.lora.alpha, 'lora.alpha', { min: 0, exclusiveMin: true });
    lora = { r: opts.lora.r, alpha: opts.lora.alpha };
  }
  return { ...x, optimizer, lrs, batchSizes, steps, evalEvery, dropout, kernelDistanceFormula, lora };
}

/** The validated settings of a fine-tuning run and the state its seeds share. */
export interface FtRun extends ReturnType<typeof resolveFtOptions> {
  opts: FinetuneRunOptions;
  prepared: PreparedModel;
  /** The model at θ0 (loaded once). */
  base: LmModel;
  behaviour: boolean;
  metric: string;
}

/** One seed's data, model at θ0 and fine-tuning options common to its grid. */
export interface FtSeed {
  seed: number;
  t0: number;
  encode_s: number;
  e: EncodedSplits;
  configId: string;
  model: LmModel;
  head: SeedHead | null;
  bss: number[];
  oneShot: boolean;
  common: Omit<FinetuneOptions, 'lr' | 'batchSize'>;
}

export interface GridOutcome {
  runs: GridRunRecord[];
  best?: { lr: number; bs: number; dev: number; result: FinetuneResult };
  aborted?: { lr: number; bs: number; result: FinetuneResult };
  lastDiverged?: { lr: number; bs: number; err: TrainingDivergedError };
  grid_s: number;
}
