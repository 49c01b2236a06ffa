// The concepts shared by the model, fine-tuning, solver and experiment layers: one definition each.

export type Dtype = 'float32' | 'float64';
/** prompt: the label-word logits at the mask; standard: a classifier head on the first position. */
export type OutputKind = 'prompt' | 'standard';
export const OUTPUT_KINDS: readonly OutputKind[] = ['prompt', 'standard'];
/** The eNTK formula: SGD, SignGD, or the asymmetric SignGD kernel (REFERENCE.md §4). */
export type Formula = 'sgd' | 'signgd' | 'asymmetric_signgd';
export const FORMULAS: readonly Formula[] = ['sgd', 'signgd', 'asymmetric_signgd'];
/** The parameters whose gradients enter a kernel (or that fine-tuning trains). */
export type Subset = 'all' | 'exclude_embeddings' | 'exclude_head' | 'only_biases' | 'lora';
export const SUBSETS: readonly Subset[] = ['all', 'exclude_embeddings', 'exclude_head', 'only_biases', 'lora'];
/**
 * exact: the model's dtype throughout, sign kernels exact; fast: TF32 for the gradients and the SGD kernel
 * on CUDA, sign products in int8 (int32 sums) or fp8, still exact (docs/gpu.md).
 */
export type Precision = 'exact' | 'fast';
export const PRECISIONS: readonly Precision[] = ['exact', 'fast'];
/** The engine's execution plan: the device's own (auto), or the CPU's or the GPU's on any device. */
export type Plan = 'auto' | 'cpu' | 'gpu';
export const PLANS: readonly Plan[] = ['auto', 'cpu', 'gpu'];

/** One tokenized example; `mask_pos` is needed for the prompt output. */
export interface EncodedExample {
  input_ids: number[];
  mask_pos?: number;
  token_type_ids?: number[];
}

/**
 * A kernel [Na, C, Nb, C] in float64, row-major (row = example·C + output), C = numOutputs (the
 * number of outputs per example: the number of classes, or 1 for a binary logit difference).
 */
export interface Kernel {
  shape: [number, number, number, number];
  data: Float64Array;
}

/** Progress of a long native job: the phase name and done / total units of it. */
export type ProgressFn = (phase: string, done: number, total: number) => void;

/** @deprecated The former name of OutputKind. */
export type OutputMode = OutputKind;
