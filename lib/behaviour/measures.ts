// The natural-task test (Definition 5.3, Table 8) and LoRA vs the full kernel (Theorem 7.2).
//
// χ: for cross-entropy ℓ(f, y) = −log softmax(f)_y, χ = ∂ℓ/∂f = softmax(f) − onehot(y) (one row of C
// values per example). `chiStats` reports mean |χ| over examples and outputs, (1/(N·C)) Σ_i Σ_c |χ_ic|,
// at θ0. Since Σ_c |χ_ic| = 2(1 − p_i,y), it lies in [0, 2/C] ⊂ [0, 1]; also per output c and per label
// class, and per example (the width comparison of chi.ts pairs examples across models).
//
// LoRA vs full (our exact definition). LoRA on a linear layer W (d_out x d_in) adds (α/r)·B·A with
// B = 0 (d_out x r) and A (r x d_in) random. At B = 0, ∂f/∂A = 0 and ∂f/∂B = (α/r)·G·Aᵀ with G = ∂f/∂W,
// so the LoRA eNTK (SGD formula, over the B matrices of every targeted layer) is
//     K_LoRA(x, x') = (α/r)² Σ_layers ⟨G(x)Aᵀ, G(x')Aᵀ⟩ = (α/r)² Σ_layers tr(G(x) AᵀA G(x')ᵀ).
// With i.i.d. entries of variance σ², E[AᵀA] = r σ² I, so s = r / (α² σ²) makes s·K_LoRA an unbiased
// estimate of K_full|targets(x, x') = Σ_layers ⟨G(x), G(x')⟩, the full SGD kernel restricted to the
// targeted weight matrices (a Johnson–Lindenstrauss projection of the gradients, Theorem 7.2/D.5).
// The reference K_full|targets is computed exactly with the same machinery: A = I (r = d_in) and
// α = d_in give ∂f/∂B = G. Reported: ‖s·K_LoRA − K_full|targets‖_F / ‖K_full|targets‖_F on train x train
// (all logits), per rank r and LoRA seed. A inits: 'gaussian' N(0, 1/r) (σ² = 1/r) and 'kaiming'
// (loralib's kaiming_uniform(a=√5) = U(−1/√d_in, 1/√d_in), σ² = 1/(3 d_in)); A is drawn here, seeded.
import { OptionError } from '../errors.js';
import { loadModel, type LmModel } from '../model.js';
import { accuracy } from '../metrics.js';
import { argmaxRows, l2Norm, mean, meanStd, relativeDifference, rng } from '../stats.js';
import type { Dtype, EncodedExample, OutputKind } from '../types.js';
import { checkIntList, checkNumber, isInt, oneOf } from '../validate.js';

export interface ChiOptions {
  inputs: EncodedExample[];
  labels: number[];
  output?: OutputKind;
  labelWordIds?: number[];
  batchSize?: number;
  signal?: AbortSignal;
}

export interface ChiStats {
  /** mean over examples and outputs of |softmax(f) − onehot(y)|. */
  meanAbsChi: number;
  /** Per example: mean over outputs of |χ|. */
  perExample: number[];
  /** Per example and output: |χ_ic|. */
  perExampleOutput: number[][];
  /** Population std of perExample. */
  std: number;
  /** mean |χ| at the label's output only (= mean(1 − p_y)). */
  meanAbsChiLabel: number;
  /** Per output c: mean over examples of |χ_ic| (for C = 2 both equal: χ_i0 = −χ_i1). */
  meanAbsChiByOutput: number[];
  /** Per label class c: mean |χ| (over outputs) of the examples whose label is c (NaN for an absent class). */
  meanAbsChiByLabel: number[];
  accuracy: number;
  n: number;
  numOutputs: number;
}

/** χ rows softmax(f) − onehot(y) from outputs f [N][C]. */
export function chiFromLogits(logits: readonly (readonly number[])[], labels: readonly number[]): number[][] {
  if (logits.length !== labels.length) throw new OptionError('labels', `${logits.length} labels (one per example)`, labels);
  return logits.map((row, i) => {
    const C = row.length;
    const y = labels[i];
    if (!isInt(y) || y < 0 || y >= C) throw new OptionError(`labels[${i}]`, `a label index in [0, ${C})`, y);
    const m = Math.max(...row);
    const ex = row.map((v) => Math.exp(v - m));
    const z = ex.reduce((a, b) => a + b, 0);
    return ex.map((v, c) => v / z - (c === y ? 1 : 0));
  });
}

export function chiStatsFromLogits(logits: readonly (readonly number[])[], labels: readonly number[]): ChiStats {
  if (logits.length === 0) throw new OptionError('inputs', 'a non-empty set of examples', logits);
  const chi = chiFromLogits(logits, labels);
  const C = logits[0].length;
  const perExample = chi.map((r) => mean(r.map(Math.abs)));
  const { mean: meanAbsChi, std } = meanStd(perExample);
  const meanAbsChiLabel = mean(chi.map((r, i) => Math.abs(r[labels[i]])));
  const meanAbsChiByOutput = Array.from({ length: C }, (_, c) => mean(chi.map((r) => Math.abs(r[c]))));
  const meanAbsChiByLabel = Array.from({ length: C }, (_, c) => mean(perExample.filter((_, i) => labels[i] === c)));
  return {
    meanAbsChi,
    perExample,
    perExampleOutput: chi.map((r) => r.map(Math.abs)),
    std,
    meanAbsChiLabel,
    meanAbsChiByOutput,
    meanAbsChiByLabel,
    accuracy: accuracy(argmaxRows(logits), labels),
    n: perExample.length,
    numOutputs: C,
  };
}

/** Mean |χ| of `model` at its current parameters (θ0) on the inputs. */
export async function chiStats(model: LmModel, opts: ChiOptions): Promise<ChiStats> {
  const logits = await model.outputs({
    inputs: opts.inputs,
    output: opts.output,
    labelWordIds: opts.labelWordIds,
    batchSize: opts.batchSize,
    signal: opts.signal,
  });
  return chiStatsFromLogits(logits, opts.labels);
}

// ---------------------------------------------------------------------------------------------------
// LoRA vs full kernel

export type LoraInit = 'gaussian' | 'kaiming';

/** Per-entry variance of A for an init. */
export function loraInitVariance(init: LoraInit, r: number, dIn: number): number {
  return init === 'gaussian' ? 1 / r : 1 / (3 * dIn);
}

/** A random A [r][dIn] with the init's distribution. */
export function randomLoraA(init: LoraInit, r: number, dIn: number, next: () => number): number[][] {
  const out: number[][] = [];
  if (init === 'kaiming') {
    const b = 1 / Math.sqrt(dIn);
    for (let i = 0; i < r; i++) out.push(Array.from({ length: dIn }, () => (2 * next() - 1) * b));
    return out;
  }
  const sd = Math.sqrt(1 / r);
  for (let i = 0; i < r; i++)
    out.push(
      Array.from({ length: dIn }, () => {
        // Box–Muller
        const u = Math.max(next(), 1e-300);
        const v = next();
        return sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      }),
    );
  return out;
}

/** Names of the LoRA matrices applyLora creates for (layer, target). */
export function loraMatrixName(model: LmModel, layer: number, target: string, which: 'A' | 'B'): string {
  const prefix = model.info.arch === 'bert' ? 'bert' : 'roberta';
  return `${prefix}.encoder.layer.${layer}.attention.self.${target}.lora_${which}`;
}

export interface LoraKernelOptions {
  inputs: EncodedExample[];
  output?: OutputKind;
  labelWordIds?: number[];
  targets?: string[];
  batchSize?: number;
  signal?: AbortSignal;
}

/**
 * The SGD eNTK [N·C x N·C] (flattened, row = example·C + logit) over the LoRA B matrices of a fresh copy
 * of the model in `modelDir`, with the given A per target layer (or a generator of A) and α.
 */
export async function loraKernel(
  modelDir: string,
  spec: { r: number; alpha: number; A: (layer: number, target: string) => number[][] },
  opts: LoraKernelOptions & { dtype?: Dtype; device?: string },
): Promise<{ data: Float64Array; numOutputs: number; gradDim: number }> {
  const m = await loadModel(modelDir, { dtype: opts.dtype ?? 'float64', device: opts.device, signal: opts.signal });
  const targets = opts.targets ?? ['query', 'value'];
  const A: Record<string, number[][]> = {};
  for (let l = 0; l < m.info.layers; l++) for (const t of targets) A[loraMatrixName(m, l, t, 'A')] = spec.A(l, t);
  m.applyLora({ r: spec.r, alpha: spec.alpha, targets, A });
  const res = await m.kernels({
    train: opts.inputs,
    output: opts.output,
    labelWordIds: opts.labelWordIds,
    subset: 'lora',
    formulas: ['sgd'],
    batchSize: opts.batchSize ?? 8,
    signal: opts.signal,
  });
  return { data: res.kernels.sgd!.trainTrain.data, numOutputs: res.numOutputs, gradDim: res.gradDim };
}

export { relativeDifference };

export interface LoraVsFullOptions extends LoraKernelOptions {
  ranks: number[];
  /** Seeds of A (default [0, 1, 2]). */
  seeds?: number[];
  alpha?: number;
  init?: LoraInit;
  dtype?: Dtype;
  device?: string;
  onPoint?: (p: LoraVsFullPoint) => void;
}

export interface LoraVsFullPoint {
  r: number;
  seed: number;
  /** The unbiasing scale s = r / (α² σ²). */
  scale: number;
  relDiff: number;
  /** ‖K_LoRA‖_F·s / ‖K_full|targets‖_F (1 in expectation of the squared norm's leading term). */
  normRatio: number;
}

export interface LoraVsFullResult {
  points: LoraVsFullPoint[];
  /** Mean and population std of relDiff per rank, in rank order. */
  byRank: { r: number; mean: number; std: number; n: number }[];
  /** Gradient dimension of the reference (full, restricted to the targets) kernel. */
  fullGradDim: number;
  hidden: number;
  numOutputs: number;
}

export async function loraVsFull(modelDir: string, opts: LoraVsFullOptions): Promise<LoraVsFullResult> {
  const ranks = checkIntList(opts.ranks, 'ranks', 1);
  const seeds = checkIntList(opts.seeds ?? [0, 1, 2], 'seeds', 0);
  const alpha = checkNumber(opts.alpha ?? 16, 'alpha', { min: 0, exclusiveMin: true });
  const init = oneOf(opts.init, 'init', ['gaussian', 'kaiming'] as const, 'gaussian');
  const probe = await loadModel(modelDir, { dtype: opts.dtype ?? 'float64', device: opts.device, signal: opts.signal });
  const H = probe.info.hidden;
  // Reference: A = I, α = H (scale α/r = 1): ∂f/∂B = ∂f/∂W.
  const eye = Array.from({ length: H }, (_, i) => Array.from({ length: H }, (_, j) => (i === j ? 1 : 0)));
  const full = await loraKernel(modelDir, { r: H, alpha: H, A: () => eye }, opts);
  const fullNorm = l2Norm(full.data);
  const points: LoraVsFullPoint[] = [];
  for (const r of ranks) {
    for (const seed of seeds) {
      const next = rng(seed * 100003 + r);
      const lk = await loraKernel(modelDir, { r, alpha, A: () => randomLoraA(init, r, H, next) }, opts);
      const scale = r / (alpha * alpha * loraInitVariance(init, r, H));
      const norm = l2Norm(lk.data);
      const p = { r, seed, scale, relDiff: relativeDifference(lk.data, full.data, scale), normRatio: (scale * norm) / fullNorm };
      points.push(p);
      opts.onPoint?.(p);
    }
  }
  const byRank = ranks.map((r) => {
    const v = points.filter((p) => p.r === r).map((p) => p.relDiff);
    return { r, ...meanStd(v), n: v.length };
  });
  return { points, byRank, fullGradDim: full.gradDim, hidden: H, numOutputs: full.numOutputs };
}
