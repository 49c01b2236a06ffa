// The native addon's JavaScript-visible interface (native/addon/*.cc), declared once: every export, the
// option objects it reads and the result objects it builds. Long jobs take (options, onProgress?,
// cancelToken?) and return a Promise; matrices cross as flat row-major Float64Arrays.
import type { Dtype, EncodedExample, Formula, OutputKind, Plan, Precision, ProgressFn, Subset } from '../types.js';

/** addon/common.cc CancelToken: one per call, cancelled from an AbortSignal. */
export interface AddonCancelToken {
  cancel(): void;
  cancelled(): boolean;
}

/** model.cc Model#info(). */
export interface AddonModelInfo {
  arch: 'roberta' | 'bert' | 'gpt2' | 'llama' | 'qwen2';
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  maxPositions: number;
  padId: number;
  dtype: Dtype;
  device: string;
  tied: boolean;
  numParams: number;
  /** Rows of the standard setting's classifier head (0: none). */
  numLabels: number;
  hasLora: boolean;
  params: string[];
}

/** The output a job reads (model.cc ReadOutput). */
export interface AddonOutputSpec {
  output?: OutputKind;
  binary?: boolean;
  labelWordIds?: number[];
}

export interface AddonKernelOptions extends AddonOutputSpec {
  train: EncodedExample[];
  test?: EncodedExample[];
  /** Empty or absent: sgd only. */
  formulas?: Formula[];
  /** With asymmetric_signgd: also its flipped train × test kernel ⟨g(train), sign g(x)⟩ (default false). */
  asymmetricFlipped?: boolean;
  subset?: Subset;
  batchSize?: number;
  trainTile?: number;
  shardIndex?: number;
  shardCount?: number;
  precision?: Precision;
  plan?: Plan;
  /** Several devices: the tiles are scheduled over them (empty or absent: the model's device). */
  devices?: string[];
}

export interface AddonKernelResult {
  gradDim: number;
  numOutputs: number;
  nTrain: number;
  nTest: number;
  tileSize: number;
  numTiles: number;
  tiles: number[];
  paramNames: string[];
  /** [nTrain, numOutputs] */
  f0Train: Float64Array;
  /** [nTest, numOutputs] */
  f0Test: Float64Array;
  /** `${formula}/train_train`, `${formula}/train_test`, and `asymmetric_signgd/train_test_flipped` when
   *  asymmetricFlipped was set: [Na, C, Nb, C]. */
  kernels: Record<string, Float64Array>;
}

export interface AddonMatrixOptions extends AddonOutputSpec {
  inputs: EncodedExample[];
  batchSize?: number;
}

export interface AddonClassifier {
  numLabels: number;
  /** [numLabels, hidden], row-major. */
  weight: number[];
  bias: number[];
}

export interface AddonLoraOptions {
  r: number;
  alpha: number;
  /** Default ['query', 'value']. */
  targets?: string[];
  matrices?: Record<string, { rows: number; cols: number; data: number[] }>;
  seed?: number;
}

/** model.cc Model: a loaded model (only the addon creates them). */
export interface AddonModel {
  info(): AddonModelInfo;
  kernels(opts: AddonKernelOptions, onProgress?: ProgressFn, token?: AddonCancelToken): Promise<AddonKernelResult>;
  /** [N, C] */
  outputs(opts: AddonMatrixOptions, onProgress?: ProgressFn, token?: AddonCancelToken): Promise<Float64Array>;
  /** [N, hidden] */
  features(opts: AddonMatrixOptions, onProgress?: ProgressFn, token?: AddonCancelToken): Promise<Float64Array>;
  /** Refused while a job reads the model. */
  setClassifier(opts: AddonClassifier): void;
  /** Refused while a job reads the model. */
  applyLora(opts: AddonLoraOptions): void;
}

export interface AddonLoadOptions {
  config: string;
  weights: string;
  dtype?: Dtype;
  tieWordEmbeddings?: boolean;
  /** cpu | cuda | cuda:N */
  device?: string;
}

/** The data of a fine-tuning run (lib/finetune.ts FinetuneOptions shares it). */
export interface AddonFinetuneData {
  train: EncodedExample[];
  /** Label index of every training example, in [0, C). */
  trainLabels: number[];
  dev?: EncodedExample[];
  devLabels?: number[];
  test?: EncodedExample[];
  /** prompt (default): the label-word logits at the mask; standard: the classifier on the first position. */
  output?: OutputKind;
  labelWordIds?: number[];
}

/** finetune.cc: the options after lib/finetune.ts has checked them. */
export interface AddonFinetuneOptions extends AddonFinetuneData {
  optimizer: 'sgd' | 'adam' | 'signgd';
  metric?: 'accuracy' | 'f1' | 'mcc' | 'loss';
  lr: number;
  steps: number;
  batchSize?: number;
  maxGradNorm?: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  evalEvery?: number;
  seed?: number;
  /** A subset name or a list of parameter names. */
  trainable?: string | string[];
  linearize?: boolean;
  kernelDistance?: boolean;
  kernelDistanceFormula?: 'sgd' | 'signgd' | 'asymmetric_signgd';
  /** Dropout probability of the training steps, in [0, 1). */
  dropout?: number;
  evalBatchSize?: number;
  kernelBatchSize?: number;
}

export interface AddonDevPoint {
  step: number;
  metric: number;
  loss: number;
}

export interface AddonFinetuneResult {
  model: AddonModel;
  trainedParams: string[];
  trainLoss: number[];
  gradNorm: number;
  clipCoef: number;
  devHistory: AddonDevPoint[];
  bestStep: number;
  steps: number;
  aborted: boolean;
  /** Set when training diverged (non-finite loss or gradient), with the step. */
  error?: string;
  errorStep?: number;
  /** [N_test, C] (undefined when not computed). */
  testLogits?: Float64Array;
  linearizedTestLogits?: Float64Array;
  trainTrainKernelDistance?: number;
  trainTestKernelDistance?: number;
}

/** The pre-training settings that cross as they are (lib/pretrain.ts PretrainOptions shares them). */
export interface AddonPretrainSettings {
  vocabSize: number;
  /** The <mask> id (RoBERTa's masked LM; decoders have none). */
  maskId?: number;
  padId?: number;
  /** Ids below this are special (never masked, never random replacements); default 4. */
  numSpecial?: number;
  maskProb?: number;
  steps: number;
  batchSize?: number;
  warmupSteps?: number;
  lr: number;
  weightDecay?: number;
  eps?: number;
  maxGradNorm?: number;
  /** Hidden and attention dropout of the training steps, in [0, 1) (default 0; RoBERTa pre-trains with 0.1). */
  dropout?: number;
  seed?: number;
  evalEvery?: number;
  evalBatchSize?: number;
  checkpointEvery?: number;
  /** Checkpoint file (safetensors); resumed from when it exists unless `resume` is false. */
  checkpoint?: string;
  resume?: boolean;
  device?: string;
}

/** pretrain.cc: sequences cross as one flat id array plus the lengths. */
export interface AddonPretrainOptions extends AddonPretrainSettings {
  /** roberta (masked LM, the default), gpt2 or llama (next-token loss). */
  arch?: 'roberta' | 'gpt2' | 'llama';
  kvHeads?: number;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  maxPositions: number;
  layerNormEps?: number;
  maskReplace?: number;
  randomReplace?: number;
  beta1?: number;
  beta2?: number;
  trainIds: Int32Array | number[];
  trainLengths: Int32Array | number[];
  heldoutIds?: Int32Array | number[];
  heldoutLengths?: Int32Array | number[];
}

export interface AddonPretrainEval {
  step: number;
  loss: number;
  accuracy: number;
  tokens: number;
}

export interface AddonPretrainResult {
  model: AddonModel;
  loss: Float64Array;
  lr: Float64Array;
  evals: AddonPretrainEval[];
  steps: number;
  resumedFrom: number;
  checkpoints: number;
  aborted: boolean;
  seconds: number;
}

/** solvers.cc: a flat kernel problem, K [n, n], Kx [n, m] (row-major), one target per row. */
export interface AddonDenseProblem {
  n: number;
  m: number;
  kernel: Float64Array;
  kernelTest: Float64Array;
  f0?: Float64Array;
  f0Test?: Float64Array;
}

export interface AddonLstsqGridOptions extends AddonDenseProblem {
  targets: Float64Array;
  lambdas: number[];
  scales: number[];
  method?: string;
}

export interface AddonLstsqGridResult {
  /** [lambdas × scales, m] */
  predictions: Float64Array;
  ranks: number[];
  sigmaMax: number;
  method: string;
}

export interface AddonAsymOptions extends AddonDenseProblem {
  targets: Float64Array;
  /** <g(train), sign g(test)> [n*m]; needed only for a lambda != 1 (lambda = 1 predicts with kernelTest alone). */
  kernelTestFlipped?: Float64Array;
  gamma?: number;
  lambdas: number[];
  scale?: number;
  regularization?: number;
}

export interface AddonAsymResult {
  /** [lambdas, m] */
  predictions: Float64Array;
  alpha: Float64Array;
  beta: Float64Array;
  rank: number;
}

export interface AddonLogisticOptions extends AddonDenseProblem {
  /** 0/1 labels. */
  labels: Float64Array;
  C?: number;
  tol?: number;
  maxIter?: number;
  regularization?: number;
}

export interface AddonLogisticResult {
  decision: Float64Array;
  weights: Float64Array;
  intercept: number;
  iterations: number;
  converged: boolean;
  objective: number;
}

export interface AddonKernelLogisticOptions extends AddonDenseProblem {
  /** n targets: one-hot over the numOutputs outputs of each example, or the 0/1 label (numOutputs 1). */
  targets: Float64Array;
  numOutputs: number;
  /** s: f0/s is the offset of the logits (0: no f0). */
  scale?: number;
  /** lambda > 0: the penalty (lambda ||K||_op / 2) a^T K a. */
  regularization: number;
  tol?: number;
  maxIter?: number;
}

export interface AddonKernelLogisticResult {
  decision: Float64Array;
  weights: Float64Array;
  sigmaMax: number;
  iterations: number;
  converged: boolean;
  objective: number;
}

export interface AddonSvmOptions extends AddonDenseProblem {
  targets: Float64Array;
  C?: number;
  epsilon?: number;
  tol?: number;
  maxIter?: number;
  regularization?: number;
  scale?: number;
}

export interface AddonSvmResult {
  decision: Float64Array;
  coef: Float64Array;
  intercept: number;
  iterations: number;
  supportVectors: number;
  converged: boolean;
}

type Job<O, R> = (opts: O, onProgress?: ProgressFn, token?: AddonCancelToken) => Promise<R>;

/** Everything the addon exports (addon.cc, common.cc, model.cc, finetune.cc, pretrain.cc, solvers.cc). */
export interface Addon {
  /** The libtorch version the addon was built against. */
  torchVersion: string;
  CancelToken: new () => AddonCancelToken;
  /** Model handles are made by loadModel / finetune / pretrain only. */
  Model: abstract new () => AddonModel;
  loadModel: Job<AddonLoadOptions, AddonModel>;
  /** Sets libtorch's intra-op threads (0: libtorch's default); returns the count in use. */
  setThreads(n: number): number;
  /** "threads=N cuda=yes|no": whether this libtorch build sees CUDA. */
  runtime(): string;
  /** Parses a device string ("cpu", "cuda:1"), returns its canonical form; throws if unknown or absent. */
  checkDevice(device: string): string;
  finetune(
    model: AddonModel,
    opts: AddonFinetuneOptions,
    onProgress?: ProgressFn,
    token?: AddonCancelToken,
  ): Promise<AddonFinetuneResult>;
  pretrain: Job<AddonPretrainOptions, AddonPretrainResult>;
  /** Writes the weights as HF-named F32 safetensors, atomically. */
  saveModel(model: AddonModel, path: string): void;
  solveLstsqGrid: Job<AddonLstsqGridOptions, AddonLstsqGridResult>;
  solveAsym: Job<AddonAsymOptions, AddonAsymResult>;
  solveLogistic: Job<AddonLogisticOptions, AddonLogisticResult>;
  solveKernelLogistic: Job<AddonKernelLogisticOptions, AddonKernelLogisticResult>;
  solveSvc: Job<AddonSvmOptions, AddonSvmResult>;
  solveSvr: Job<AddonSvmOptions, AddonSvmResult>;
}
