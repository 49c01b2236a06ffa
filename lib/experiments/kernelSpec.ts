// The kernel runner's options, result lines and run state (the runner itself: kernelRun.ts).
import type { Metrics } from '../metrics.js';
import type { LmModel } from '../model.js';
import type { SolverName, SolverParams } from '../solvers/index.js';
import type { Formula, Precision, Subset } from '../types.js';
import type { GridAxes } from './grids.js';
import type { Experiment, ExperimentOptions, RunProgress } from './options.js';
import type { PreparedModel, SeedHead } from './prepare.js';
import type { ResultLineBase } from './results.js';

export interface RunOptions extends ExperimentOptions {
  formula?: Formula;
  solver?: SolverName;
  /** One output logit1 - logit0 (2-class tasks only). */
  binary?: boolean;
  /** Hyper-parameter grid (per solver defaults in DEFAULT_GRIDS). */
  grid?: GridAxes;
  subset?: Subset;
  /** subset 'lora': LoRA on query and value (A Kaiming-uniform as loralib, B = 0, scaling alpha / r); the
   * kernel K^LoRA is over the LoRA matrices (paper Table 12). A's seed: `seed`, or each data seed. */
  lora?: LoraKernelOptions | null;
  batchSize?: number;
  /** exact (default) or fast (TF32 and int8/fp8 sign products on CUDA); fast kernels are cached apart. */
  precision?: Precision;
  /** Several devices for the kernels (the model is loaded on `device`); the same kernels as one. */
  devices?: string[];
  /** Cache folder for kernels, f0 and linear-probe heads; null disables the cache. Default: `<dir of out>/.lmkernel-cache`. */
  cacheDir?: string | null;
  /** Progress bar factory (the CLI passes cliProgressBar). */
  progress?: (label: string) => RunProgress;
}

export interface LoraKernelOptions {
  r: number;
  alpha: number;
  /** The seed of A (default: the data seed, as finetune-run's LoRA, so both start from the same theta0). */
  seed?: number | null;
}

export type CacheState = 'hit' | 'miss' | 'off';

export interface ResultLine extends ResultLineBase {
  formula: Formula;
  solver: SolverName;
  binary: boolean;
  subset: Subset;
  /** subset 'lora': rank, alpha and the seed of A used for this line. */
  lora?: { r: number; alpha: number; seed: number } | null;
  params: SolverParams;
  grid: GridAxes;
  grid_size: number;
  dev: Metrics;
  test: Metrics;
  dev_score: number;
  test_score: number;
  grad_dim: number;
  num_outputs: number;
  n_train: number;
  n_dev: number;
  n_test: number;
  max_test: number | null;
  label_word_ids: number[] | null;
  kernel_cache: CacheState;
  kernel_key: string;
  linear_probe: SeedHead['info'];
  timings: { encode_s: number; linear_probe_s: number; kernel_s: number; select_s: number; eval_s: number; total_s: number };
}

export interface SeedStatus {
  seed: number;
  status: 'done' | 'skipped';
  kernelCache?: CacheState;
  line: ResultLine;
}

export interface RunStats {
  /** One line per seed, in seed order (skipped seeds: the line found in the output file). */
  lines: ResultLine[];
  seeds: SeedStatus[];
  skipped: number;
  cacheHits: number;
  cacheMisses: number;
  /** Whether the model was loaded at all (not when every seed was skipped or cached in prompt output). */
  modelLoaded: boolean;
  total_s: number;
}

/** The validated settings of a kernel run, and the state its seeds share. */
export interface KernelRun extends Experiment {
  opts: RunOptions;
  formula: Formula;
  solver: SolverName;
  /** The asymmetric kernel's flip ⟨g(train), sign g(x)⟩ is computed: only for solver asym with a λ ≠ 1. */
  flipped: boolean;
  binary: boolean;
  subset: Subset;
  lora: { r: number; alpha: number; seed: number | null } | null;
  batchSize: number;
  precision: Precision;
  devices: string[];
  gridAxes: GridAxes;
  grid: SolverParams[];
  cacheDir: string | null;
  progress: (label: string) => RunProgress;
  prepared: PreparedModel;
  getModel: () => Promise<LmModel>;
  /** The model whose kernels a seed takes: the base model, or (subset 'lora') one with LoRA seeded for it. */
  kernelModel: (seed: number) => Promise<LmModel>;
  modelLoaded: () => boolean;
}
