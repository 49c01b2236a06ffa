// The model API: load a Hugging Face RoBERTa/BERT masked-LM folder and compute eNTK kernels, outputs,
// and (with the fine-tuning module) train it. Options are validated here with messages that name the
// option, the expected and the received value; the native core re-checks ranges (vocabulary, positions).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { native, withCancel, type ProgressFn } from './native.js';
import { InputError, OptionError } from './errors.js';

export type Dtype = 'float32' | 'float64';
export type OutputMode = 'prompt' | 'standard';
export type Formula = 'sgd' | 'signgd' | 'asymmetric_signgd';
export type Subset = 'all' | 'exclude_embeddings' | 'exclude_head' | 'only_biases' | 'lora';

export const FORMULAS: readonly Formula[] = ['sgd', 'signgd', 'asymmetric_signgd'];
export const SUBSETS: readonly Subset[] = ['all', 'exclude_embeddings', 'exclude_head', 'only_biases', 'lora'];

export interface EncodedExample {
  input_ids: number[];
  mask_pos?: number;
  token_type_ids?: number[];
}

export interface ModelInfo {
  arch: 'roberta' | 'bert';
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
  numLabels: number;
  hasLora: boolean;
  params: string[];
}

export interface LoadModelOptions {
  dtype?: Dtype;
  /** Tie the MLM decoder to the word embeddings (default false: the reference keeps it separate). */
  tieWordEmbeddings?: boolean;
  device?: string;
  /** Override the file names inside the folder. */
  config?: string;
  weights?: string;
  signal?: AbortSignal;
}

/** A kernel [Na, C, Nb, C] in float64, row-major (row = example·C + logit). */
export interface Kernel {
  shape: [number, number, number, number];
  data: Float64Array;
}

export interface KernelOptions {
  train: EncodedExample[];
  test?: EncodedExample[];
  /** prompt: label-word logits at the mask; standard: the classifier on the first position. */
  output?: OutputMode;
  labelWordIds?: number[];
  /** One output, logit1 − logit0 (2-class tasks). */
  binary?: boolean;
  formulas?: Formula[];
  subset?: Subset;
  batchSize?: number;
  /**
   * Training examples whose gradient blocks are stored at once (default: all). Smaller tiles bound the
   * memory; each tile streams the training and test sets again (exact, slower).
   */
  trainTile?: number;
  /** Compute only tiles t with t % count === index (other rows stay 0); `mergeKernelShards` assembles. */
  shard?: { index: number; count: number };
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

export interface KernelResult {
  gradDim: number;
  numLogits: number;
  nTrain: number;
  nTest: number;
  paramNames: string[];
  f0Train: number[][];
  f0Test: number[][];
  kernels: Partial<Record<Formula, { trainTrain: Kernel; trainTest: Kernel; trainTestFlipped?: Kernel }>>;
  /** Tiling of the training rows and the tiles this result holds (all unless sharded). */
  tiling: { tileSize: number; numTiles: number; tiles: number[]; shard: { index: number; count: number } };
}

// safe integers only: larger values cannot cross to the native int64 ids exactly
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/** Validates encoded examples (the option name is used in messages); mask_pos is checked in prompt mode. */
export function checkExamples(xs: unknown, option: string, needMask: boolean, allowEmpty: boolean): EncodedExample[] {
  if (!Array.isArray(xs)) throw new OptionError(option, 'an array of {input_ids, mask_pos} examples', xs);
  if (!allowEmpty && xs.length === 0) throw new OptionError(option, 'a non-empty array of examples', xs);
  xs.forEach((x, i) => {
    const at = `${option}[${i}]`;
    if (typeof x !== 'object' || x === null) throw new OptionError(at, 'an object with input_ids', x);
    const ids = (x as EncodedExample).input_ids;
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every(isInt))
      throw new OptionError(`${at}.input_ids`, 'a non-empty array of integer token ids', ids);
    const mp = (x as EncodedExample).mask_pos;
    if (needMask && (!isInt(mp) || mp < 0 || mp >= ids.length))
      throw new OptionError(`${at}.mask_pos`, `an index in [0, ${ids.length}) (prompt mode needs the mask position)`, mp);
  });
  return xs as EncodedExample[];
}

function oneOf<T extends string>(v: unknown, option: string, allowed: readonly T[], def: T): T {
  if (v === undefined) return def;
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw new OptionError(option, `one of ${allowed.join(', ')}`, v);
  return v as T;
}

function toMatrix(flat: Float64Array, rows: number): number[][] {
  const cols = rows === 0 ? 0 : flat.length / rows;
  const out: number[][] = [];
  for (let i = 0; i < rows; i++) out.push(Array.from(flat.subarray(i * cols, (i + 1) * cols)));
  return out;
}

/** Nested [Na][C][Nb][C] arrays (the JSON layout of the fixtures and the CLI). */
export function kernelToNested(k: Kernel): number[][][][] {
  const [na, c, nb, c2] = k.shape;
  const out: number[][][][] = [];
  let p = 0;
  for (let i = 0; i < na; i++) {
    const a: number[][][] = [];
    for (let l = 0; l < c; l++) {
      const b: number[][] = [];
      for (let j = 0; j < nb; j++) {
        b.push(Array.from(k.data.subarray(p, p + c2)));
        p += c2;
      }
      a.push(b);
    }
    out.push(a);
  }
  return out;
}

export class LmModel {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(readonly handle: any, readonly dir: string) {}

  get info(): ModelInfo {
    return this.handle.info() as ModelInfo;
  }

  async kernels(opts: KernelOptions): Promise<KernelResult> {
    if (typeof opts !== 'object' || opts === null) throw new OptionError('options', 'an object', opts);
    const output = oneOf(opts.output, 'output', ['prompt', 'standard'] as const, 'prompt');
    const prompt = output === 'prompt';
    const train = checkExamples(opts.train, 'train', prompt, false);
    const test = checkExamples(opts.test ?? [], 'test', prompt, true);
    const formulas = opts.formulas ?? ['sgd'];
    if (!Array.isArray(formulas) || formulas.length === 0 || !formulas.every((f) => FORMULAS.includes(f)))
      throw new OptionError('formulas', `a non-empty array of ${FORMULAS.join(', ')}`, formulas);
    const subset = oneOf(opts.subset, 'subset', SUBSETS, 'all');
    const batchSize = opts.batchSize ?? 8;
    if (!isInt(batchSize) || batchSize < 1) throw new OptionError('batchSize', 'a positive integer', batchSize);
    if (opts.binary !== undefined && typeof opts.binary !== 'boolean') throw new OptionError('binary', 'a boolean', opts.binary);
    const trainTile = opts.trainTile ?? 0;
    if (!isInt(trainTile) || trainTile < 0) throw new OptionError('trainTile', 'a non-negative integer (0 = all)', trainTile);
    const shard = opts.shard ?? { index: 0, count: 1 };
    if (!isInt(shard.count) || shard.count < 1 || !isInt(shard.index) || shard.index < 0 || shard.index >= shard.count)
      throw new OptionError('shard', '{index, count} with 0 <= index < count', shard);
    let labelWordIds: number[] | undefined;
    if (prompt) {
      if (!Array.isArray(opts.labelWordIds) || opts.labelWordIds.length === 0 || !opts.labelWordIds.every(isInt))
        throw new OptionError('labelWordIds', 'a non-empty array of token ids (prompt mode)', opts.labelWordIds);
      labelWordIds = opts.labelWordIds;
      if (opts.binary && labelWordIds.length !== 2)
        throw new OptionError('binary', `2 label words for a binary output (got ${labelWordIds.length})`, opts.binary);
    } else if (this.info.numLabels === 0) {
      throw new InputError(this.dir, "the standard setting needs a 'classifier' head: the checkpoint has none (set one with setClassifier or linear probing)");
    }
    interface RawKernels {
      gradDim: number;
      numOutputs: number;
      nTrain: number;
      nTest: number;
      paramNames: string[];
      tileSize: number;
      numTiles: number;
      tiles: number[];
      f0Train: Float64Array;
      f0Test: Float64Array;
      kernels: Record<string, Float64Array>;
    }
    const res = await withCancel<RawKernels>(opts.signal, (token) =>
      this.handle.kernels(
        { train, test, output, binary: !!opts.binary, labelWordIds, formulas, subset, batchSize, trainTile, shardIndex: shard.index, shardCount: shard.count },
        opts.onProgress,
        token,
      ),
    );
    const C = res.numOutputs as number;
    const kernels: KernelResult['kernels'] = {};
    const shape = (na: number, nb: number): [number, number, number, number] => [na, C, nb, C];
    for (const f of formulas) {
      const tt = res.kernels[`${f}/train_train`] as Float64Array;
      const te = res.kernels[`${f}/train_test`] as Float64Array;
      kernels[f] = {
        trainTrain: { shape: shape(res.nTrain, res.nTrain), data: tt },
        trainTest: { shape: shape(res.nTrain, res.nTest), data: te },
      };
      const fl = res.kernels[`${f}/train_test_flipped`] as Float64Array | undefined;
      if (fl) kernels[f]!.trainTestFlipped = { shape: shape(res.nTrain, res.nTest), data: fl };
    }
    return {
      gradDim: res.gradDim,
      numLogits: C,
      nTrain: res.nTrain,
      nTest: res.nTest,
      paramNames: res.paramNames,
      f0Train: toMatrix(res.f0Train, res.nTrain),
      f0Test: toMatrix(res.f0Test, res.nTest),
      kernels,
      tiling: { tileSize: res.tileSize, numTiles: res.numTiles, tiles: res.tiles, shard },
    };
  }

  /** Model outputs f [N][C] (label-word logits, classifier logits, or logit1 − logit0 when binary). */
  async outputs(opts: {
    inputs: EncodedExample[];
    output?: OutputMode;
    labelWordIds?: number[];
    binary?: boolean;
    batchSize?: number;
    signal?: AbortSignal;
  }): Promise<number[][]> {
    const output = oneOf(opts.output, 'output', ['prompt', 'standard'] as const, 'prompt');
    const inputs = checkExamples(opts.inputs, 'inputs', output === 'prompt', true);
    const flat: Float64Array = await withCancel(opts.signal, (token) =>
      this.handle.outputs({ inputs, output, labelWordIds: opts.labelWordIds, binary: !!opts.binary, batchSize: opts.batchSize ?? 16 }, undefined, token),
    );
    return toMatrix(flat, inputs.length);
  }

  /** Features entering the output layer [N][hidden]: MLM-head features at the mask (prompt) or the <s> state (standard). */
  async features(opts: { inputs: EncodedExample[]; output?: OutputMode; batchSize?: number; signal?: AbortSignal }): Promise<number[][]> {
    const output = oneOf(opts.output, 'output', ['prompt', 'standard'] as const, 'prompt');
    const inputs = checkExamples(opts.inputs, 'inputs', output === 'prompt', true);
    const flat: Float64Array = await withCancel(opts.signal, (token) =>
      this.handle.features({ inputs, output, batchSize: opts.batchSize ?? 16 }, undefined, token),
    );
    return toMatrix(flat, inputs.length);
  }

  /** Sets the standard setting's linear head: weight [C][hidden], bias [C]. */
  setClassifier(weight: number[][], bias: number[]): void {
    const C = weight.length;
    this.handle.setClassifier({ numLabels: C, weight: weight.flat(), bias });
  }

  /** LoRA on query/value of every layer: A given per name or Kaiming-uniform (seeded), B = 0 unless given. */
  applyLora(spec: { r: number; alpha: number; targets?: string[]; A?: Record<string, number[][]>; B?: Record<string, number[][]>; seed?: number }): void {
    if (!isInt(spec.r) || spec.r < 1) throw new OptionError('lora.r', 'a positive integer', spec.r);
    if (typeof spec.alpha !== 'number' || !(spec.alpha > 0)) throw new OptionError('lora.alpha', 'a positive number', spec.alpha);
    const matrices: Record<string, { rows: number; cols: number; data: number[] }> = {};
    for (const [name, m] of Object.entries({ ...(spec.A ?? {}), ...(spec.B ?? {}) })) {
      if (!Array.isArray(m) || m.length === 0 || !Array.isArray(m[0])) throw new OptionError(`lora.${name}`, 'a matrix (array of rows)', m);
      matrices[name] = { rows: m.length, cols: m[0].length, data: m.flat() };
    }
    this.handle.applyLora({ r: spec.r, alpha: spec.alpha, targets: spec.targets, matrices, seed: spec.seed ?? 0 });
  }
}

/** Loads `dir/config.json` + `dir/model.safetensors`. */
export async function loadModel(dir: string, opts: LoadModelOptions = {}): Promise<LmModel> {
  if (typeof dir !== 'string' || dir.length === 0) throw new OptionError('dir', 'a model folder path', dir);
  const dtype = oneOf(opts.dtype, 'dtype', ['float32', 'float64'] as const, 'float32');
  const config = join(dir, opts.config ?? 'config.json');
  const weights = join(dir, opts.weights ?? 'model.safetensors');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError(dir, 'model folder not found');
  if (!existsSync(config)) throw new InputError(dir, `no ${opts.config ?? 'config.json'} in the model folder`);
  if (!existsSync(weights)) {
    const bin = join(dir, 'pytorch_model.bin');
    const hint = existsSync(bin)
      ? ' (it has pytorch_model.bin: lmkernel never unpickles; convert it once with Python: ' +
        '`from transformers import AutoModelForMaskedLM; AutoModelForMaskedLM.from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True)`)'
      : '';
    throw new InputError(dir, `no ${opts.weights ?? 'model.safetensors'} in the model folder${hint}`);
  }
  const handle = await withCancel<unknown>(opts.signal, (token) =>
    native().loadModel({ config, weights, dtype, tieWordEmbeddings: !!opts.tieWordEmbeddings, device: opts.device ?? 'cpu' }, undefined, token),
  );
  return new LmModel(handle, dir);
}
