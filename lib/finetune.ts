// Fine-tuning (REFERENCE.md §7) and the paper's kernel-behaviour measurements (§8.3): one step or many
// of SGD, AdamW or SignGD on a copy of the model (the original is left as it is), the trained model as a
// new LmModel, the test outputs, the linearized model's test outputs f(θ0) + ∇f(θ0)·(θ1 − θ0), and the
// relative distance of an eNTK (SGD, SignGD or asymmetric SignGD) between θ0 and θ1. Training steps can
// use dropout (LM-BFF's 0.1, seeded); evaluation, f0, linearization and the kernels are in eval mode. Options are checked here with messages that name
// the option; the native core re-checks ranges (vocabulary, positions).
import { native, withCancel } from './addon/load.js';
import type { AddonFinetuneData, AddonFinetuneOptions } from './addon/types.js';
import { LmkError, OptionError } from './errors.js';
import { rowsOfFlat } from './kernels/layout.js';
import { LmModel, checkExamples } from './model.js';
import { FORMULAS, OUTPUT_KINDS, SUBSETS, type Formula, type OutputKind, type ProgressFn, type Subset } from './types.js';
import { checkInt, checkNumber, isInt, isNumber, isPlainObject, oneOf } from './validate.js';

export type Optimizer = 'sgd' | 'adam' | 'signgd';
export type DevMetric = 'accuracy' | 'f1' | 'mcc' | 'loss';
/** 'all'; 'lora' = LoRA matrices + heads (the reference's run.py); the kernel subsets; or parameter names. */
export type Trainable = Exclude<Subset, 'lora'> | 'lora' | string[];

export const OPTIMIZERS: readonly Optimizer[] = ['sgd', 'adam', 'signgd'];
export const DEV_METRICS: readonly DevMetric[] = ['accuracy', 'f1', 'mcc', 'loss'];

export interface FinetuneOptions extends AddonFinetuneData {
  optimizer: Optimizer;
  /** Peak learning rate (linear decay to 0 over `steps`, no warm-up). */
  lr: number;
  /** Number of updates (exactly; the reference's off-by-one is not reproduced). */
  steps: number;
  /** Examples per step; absent or >= N: the full training set every step. Smaller: seeded random batches. */
  batchSize?: number;
  /** Clip the gradient to this total norm (default 1.0); 0 or null: no clipping. */
  maxGradNorm?: number | null;
  /** Weight decay (default 0): decoupled for Adam, L2 for SGD/SignGD; never on biases or LayerNorm weights. */
  weightDecay?: number;
  betas?: [number, number];
  eps?: number;
  /** Evaluate on dev every N steps (and after the last); the best state is returned. Needs `dev`. */
  evalEvery?: number;
  /** The dev metric that selects the best state (default accuracy; f1/mcc: binary, positive = label 1; loss: lower is better). */
  metric?: DevMetric;
  /** Seed of the batch sampler (default 42). */
  seed?: number;
  trainable?: Trainable;
  /** Also return the linearized model's test outputs (needs `test`). */
  linearize?: boolean;
  /** Also return ‖K(θ1) − K(θ0)‖_F / ‖K(θ0)‖_F of an eNTK (train × train, and train × test with `test`). */
  kernelDistance?: boolean;
  /** The eNTK of the kernel distance (default 'sgd'; the paper's Table 7 uses the optimizer's analog: SignGD after Adam). */
  kernelDistanceFormula?: Formula;
  /** Dropout probability of the training steps (hidden and attention; default 0, LM-BFF trains with 0.1). Seeded by `seed`. */
  dropout?: number;
  evalBatchSize?: number;
  kernelBatchSize?: number;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

export interface DevPoint {
  step: number;
  metric: number;
  loss: number;
}

export interface FinetuneResult {
  /** The trained model: the best dev state when dev was evaluated, else the state after the last step. */
  model: LmModel;
  /** Outputs [N_test][C] of the returned model. */
  testLogits?: number[][];
  /** f(θ0) + ∇f(θ0)·(θ1 − θ0) on the test inputs [N_test][C]. */
  linearizedTestLogits?: number[][];
  /** ‖K(θ1) − K(θ0)‖_F / ‖K(θ0)‖_F of `kernelDistanceFormula`'s kernel, train × train and train × test. */
  trainKernelRelativeDistance?: number;
  trainTestKernelRelativeDistance?: number;
  /** The formula of those kernels (with `kernelDistance`). */
  kernelDistanceFormula?: Formula;
  devHistory: DevPoint[];
  /** The step whose state was returned (0 = the initial model). */
  bestStep: number;
  /** Updates taken. */
  steps: number;
  /** Cancelled through `signal`: the partial state is returned, measurements are skipped. */
  aborted?: boolean;
  /** Training loss of every step, on its batch, before its update. */
  trainLoss: number[];
  /** Pre-clip gradient norm and clip coefficient of the first step. */
  gradNorm: number;
  clipCoef: number;
  trainedParams: string[];
}

/** Training stopped on a non-finite loss or gradient; `result` holds the last good state. */
export class TrainingDivergedError extends LmkError {
  constructor(
    message: string,
    readonly step: number,
    readonly result: FinetuneResult,
  ) {
    super(message, 'LMK_DIVERGED');
    this.name = 'TrainingDivergedError';
  }
}

function checkLabels(ys: unknown, option: string, n: number, C: number): number[] {
  if (!Array.isArray(ys)) throw new OptionError(option, `an array of ${n} label indices`, ys);
  if (ys.length !== n) throw new OptionError(option, `${n} labels (one per example)`, ys);
  ys.forEach((y, i) => {
    if (!isInt(y) || y < 0 || y >= C) throw new OptionError(`${option}[${i}]`, `a label index in [0, ${C})`, y);
  });
  return ys as number[];
}

/** A dropout probability in [0, 1) (default 0: no dropout). */
export function checkDropout(v: unknown, option = 'dropout'): number {
  if (v === undefined) return 0;
  if (!isNumber(v) || v < 0 || v >= 1) throw new OptionError(option, 'a probability in [0, 1)', v);
  return v;
}

/** An optional integer option: `def` when absent. */
const optInt = (v: unknown, option: string, min: number, def: number): number =>
  v === undefined ? def : checkInt(v, option, min);

/** The output, its label words and the number of outputs C. */
function checkOutput(model: LmModel, opts: FinetuneOptions): { output: OutputKind; labelWordIds?: number[]; numOutputs: number } {
  const output = oneOf(opts.output, 'output', OUTPUT_KINDS, 'prompt');
  if (output === 'prompt') {
    const ids = opts.labelWordIds;
    if (!Array.isArray(ids) || ids.length < 2 || !ids.every((v) => isInt(v) && v >= 0))
      throw new OptionError('labelWordIds', 'an array of >= 2 token ids, one per label (prompt mode)', ids);
    return { output, labelWordIds: ids, numOutputs: ids.length };
  }
  const numOutputs = model.info.numLabels;
  if (numOutputs === 0)
    throw new OptionError(
      'output',
      "a model with a 'classifier' head for the standard output (set one with setClassifier)",
      output,
    );
  return { output, numOutputs };
}

/** The training, dev and test sets with their labels. */
function checkSplits(opts: FinetuneOptions, prompt: boolean, numOutputs: number) {
  const train = checkExamples(opts.train, 'train', prompt, false);
  const trainLabels = checkLabels(opts.trainLabels, 'trainLabels', train.length, numOutputs);
  const dev = checkExamples(opts.dev ?? [], 'dev', prompt, true);
  const evalEvery = optInt(opts.evalEvery, 'evalEvery', 0, 0);
  if (evalEvery > 0 && dev.length === 0)
    throw new OptionError('dev', `a non-empty dev set (evalEvery is ${evalEvery})`, opts.dev);
  const devLabels = dev.length > 0 ? checkLabels(opts.devLabels, 'devLabels', dev.length, numOutputs) : [];
  const test = checkExamples(opts.test ?? [], 'test', prompt, true);
  if (opts.linearize && test.length === 0) throw new OptionError('test', 'a non-empty test set (linearize is set)', opts.test);
  return { train, trainLabels, dev, devLabels, test, evalEvery };
}

/** The optimizer's hyper-parameters. */
function checkOptimizer(opts: FinetuneOptions) {
  const optimizer = oneOf(opts.optimizer, 'optimizer', OPTIMIZERS);
  if (!isNumber(opts.lr) || opts.lr <= 0) throw new OptionError('lr', 'a finite learning rate > 0', opts.lr);
  const steps = checkInt(opts.steps, 'steps', 1);
  let maxGradNorm = 1.0;
  if (opts.maxGradNorm === null) maxGradNorm = 0;
  else if (opts.maxGradNorm !== undefined) {
    if (!isNumber(opts.maxGradNorm) || opts.maxGradNorm < 0)
      throw new OptionError('maxGradNorm', 'a number >= 0 (0 or null: no clipping)', opts.maxGradNorm);
    maxGradNorm = opts.maxGradNorm;
  }
  const weightDecay = checkNumber(opts.weightDecay ?? 0, 'weightDecay', { min: 0 });
  const betas = opts.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => isNumber(b) && b >= 0 && b < 1))
    throw new OptionError('betas', 'two numbers in [0, 1)', opts.betas);
  const eps = checkNumber(opts.eps ?? 1e-8, 'eps', { min: 0, exclusiveMin: true });
  return { optimizer, lr: opts.lr, steps, maxGradNorm, weightDecay, beta1: betas[0], beta2: betas[1], eps };
}

/** What to train: a subset name or a list of the model's parameter names. */
function checkTrainable(model: LmModel, trainable: unknown): string | string[] {
  if (trainable === undefined) return 'all';
  if (Array.isArray(trainable)) {
    if (trainable.length === 0 || !trainable.every((n) => typeof n === 'string'))
      throw new OptionError('trainable', 'a non-empty array of parameter names', trainable);
    const known = new Set(model.info.params);
    const unknown = trainable.find((n) => !known.has(n));
    if (unknown !== undefined) throw new OptionError('trainable', "names of the model's parameters (model.info.params)", unknown);
    return trainable;
  }
  const subset = oneOf(trainable, 'trainable', SUBSETS, 'all');
  if (subset === 'lora' && !model.info.hasLora)
    throw new OptionError('trainable', "a subset the model has ('lora' needs applyLora first)", 'lora');
  return subset;
}

/** Checks the options and returns what the native call takes. */
function prepare(model: LmModel, opts: FinetuneOptions): AddonFinetuneOptions {
  if (!isPlainObject(opts)) throw new OptionError('options', 'an object', opts);
  const optimizer = checkOptimizer(opts);
  const { output, labelWordIds, numOutputs } = checkOutput(model, opts);
  const splits = checkSplits(opts, output === 'prompt', numOutputs);
  const metric = oneOf(opts.metric, 'metric', DEV_METRICS, 'accuracy');
  if ((metric === 'f1' || metric === 'mcc') && numOutputs !== 2)
    throw new OptionError('metric', `accuracy or loss (${metric} needs 2 labels, there are ${numOutputs})`, metric);
  for (const k of ['linearize', 'kernelDistance'] as const)
    if (opts[k] !== undefined && typeof opts[k] !== 'boolean') throw new OptionError(k, 'a boolean', opts[k]);
  return {
    ...splits,
    ...optimizer,
    output,
    labelWordIds,
    metric,
    batchSize: optInt(opts.batchSize, 'batchSize', 1, 0),
    seed: optInt(opts.seed, 'seed', 0, 42),
    trainable: checkTrainable(model, opts.trainable),
    linearize: !!opts.linearize,
    kernelDistance: !!opts.kernelDistance,
    kernelDistanceFormula: oneOf(opts.kernelDistanceFormula, 'kernelDistanceFormula', FORMULAS, 'sgd'),
    dropout: checkDropout(opts.dropout),
    evalBatchSize: optInt(opts.evalBatchSize, 'evalBatchSize', 1, 16),
    kernelBatchSize: optInt(opts.kernelBatchSize, 'kernelBatchSize', 1, 8),
  };
}

/**
 * Fine-tunes a copy of `model`. Resolves with the trained model and the requested measurements; a run
 * cancelled through `signal` resolves with `aborted: true` and the state reached. A non-finite loss or
 * gradient rejects with a TrainingDivergedError that names the step and carries the last good state.
 */
export async function finetune(model: LmModel, opts: FinetuneOptions): Promise<FinetuneResult> {
  if (!(model instanceof LmModel)) throw new OptionError('model', 'an LmModel (from loadModel)', model);
  const args = prepare(model, opts);
  const nTest = args.test?.length ?? 0;
  const raw = await withCancel(opts.signal, (token) => native().finetune(model.handle, args, opts.onProgress, token));
  const res: FinetuneResult = {
    model: new LmModel(raw.model, model.dir),
    devHistory: raw.devHistory,
    bestStep: raw.bestStep,
    steps: raw.steps,
    trainLoss: raw.trainLoss,
    gradNorm: raw.gradNorm,
    clipCoef: raw.clipCoef,
    trainedParams: raw.trainedParams,
  };
  if (raw.aborted) res.aborted = true;
  if (raw.testLogits) res.testLogits = rowsOfFlat(raw.testLogits, nTest);
  if (raw.linearizedTestLogits) res.linearizedTestLogits = rowsOfFlat(raw.linearizedTestLogits, nTest);
  if (raw.trainTrainKernelDistance !== undefined) res.trainKernelRelativeDistance = raw.trainTrainKernelDistance;
  if (raw.trainTestKernelDistance !== undefined) res.trainTestKernelRelativeDistance = raw.trainTestKernelDistance;
  if (args.kernelDistance) res.kernelDistanceFormula = args.kernelDistanceFormula;
  if (raw.error) throw new TrainingDivergedError(raw.error, raw.errorStep ?? -1, res);
  return res;
}

export interface FinetuneGridOptions extends Omit<FinetuneOptions, 'lr' | 'batchSize'> {
  lrs: number[];
  /** Batch sizes to try (default: the full batch only). */
  batchSizes?: number[];
}

export interface GridRun {
  lr: number;
  batchSize?: number;
  /** The best dev metric of the run (NaN when it diverged). */
  metric: number;
  bestStep: number;
  error?: string;
}

/**
 * Learning rate × batch size grid, each run selected on dev (best step), the best run kept (ties: the
 * first in grid order). Needs `dev` and `devLabels`. Diverged runs are recorded and skipped.
 */
export async function finetuneGrid(
  model: LmModel,
  opts: FinetuneGridOptions,
): Promise<{ best: GridRun & { result: FinetuneResult }; runs: GridRun[] }> {
  if (!Array.isArray(opts.lrs) || opts.lrs.length === 0)
    throw new OptionError('lrs', 'a non-empty array of learning rates', opts.lrs);
  const batchSizes: Array<number | undefined> = opts.batchSizes ?? [undefined];
  if (!Array.isArray(batchSizes) || batchSizes.length === 0)
    throw new OptionError('batchSizes', 'a non-empty array of batch sizes', opts.batchSizes);
  if (!Array.isArray(opts.dev) || opts.dev.length === 0)
    throw new OptionError('dev', 'a non-empty dev set (the grid selects on dev)', opts.dev);
  const lower = (opts.metric ?? 'accuracy') === 'loss';
  const { lrs, batchSizes: _b, ...base } = opts;
  void _b;
  const runs: GridRun[] = [];
  let best: (GridRun & { result: FinetuneResult }) | undefined;
  for (const batchSize of batchSizes) {
    for (const lr of lrs) {
      if (opts.signal?.aborted) break;
      let result: FinetuneResult;
      try {
        result = await finetune(model, { ...base, lr, batchSize });
      } catch (e) {
        if (!(e instanceof TrainingDivergedError)) throw e;
        runs.push({ lr, batchSize, metric: NaN, bestStep: e.result.bestStep, error: e.message });
        continue;
      }
      const point = result.devHistory.find((p) => p.step === result.bestStep);
      const metric = point ? point.metric : NaN;
      const run: GridRun = { lr, batchSize, metric, bestStep: result.bestStep };
      runs.push(run);
      const better = best === undefined || Number.isNaN(best.metric) || (lower ? metric < best.metric : metric > best.metric);
      if (better && !(best !== undefined && Number.isNaN(metric))) best = { ...run, result };
    }
  }
  if (!best) throw new LmkError('finetuneGrid: every run diverged or was aborted: ' + runs.map((r) => r.error).join('; '));
  return { best, runs };
}
