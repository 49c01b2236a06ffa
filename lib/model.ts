// The model API: load a Hugging Face RoBERTa/BERT masked-LM (or GPT-2/Llama/Qwen2 decoder) folder and
// compute eNTK kernels, outputs, and (with the fine-tuning module) train it. Options are validated here
// with messages that name the option, the expected and the received value; the native core re-checks
// ranges (vocabulary, positions).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { native, withCancel } from './addon/load.js';
import type { AddonKernelResult, AddonModel, AddonModelInfo } from './addon/types.js';
import { InputError, OptionError } from './errors.js';
import { resolveModelDir } from './hub/index.js';
import { flatToNested, rowsOfFlat, type NestedKernel } from './kernels/layout.js';
import {
  FORMULAS,
  OUTPUT_KINDS,
  PLANS,
  PRECISIONS,
  SUBSETS,
  type Dtype,
  type EncodedExample,
  type Formula,
  type Kernel,
  type OutputKind,
  type Plan,
  type Precision,
  type ProgressFn,
  type Subset,
} from './types.js';
import { checkInt, checkNumber, isInt, isPlainObject, oneOf } from './validate.js';

export type ModelInfo = AddonModelInfo;

export interface LoadModelOptions {
  dtype?: Dtype;
  /** Tie the MLM decoder to the word embeddings (default false: the reference keeps it separate). RoBERTa/BERT
   *  only: a decoder's LM head is tied as its config.json's tie_word_embeddings says. */
  tieWordEmbeddings?: boolean;
  device?: string;
  /** Override the file names inside the folder. */
  config?: string;
  weights?: string;
  signal?: AbortSignal;
  /** Hub revision (branch, tag or commit) when `dir` is a hub id (default: the id's `@rev`, else main). */
  revision?: string;
  /** Download progress when a hub id is fetched into the Hugging Face cache. */
  onDownload?: ProgressFn;
}

export interface KernelOptions {
  train: EncodedExample[];
  test?: EncodedExample[];
  /** prompt: label-word logits at the mask; standard: the classifier on the first position. */
  output?: OutputKind;
  labelWordIds?: number[];
  /** One output, logit1 − logit0 (2-class tasks). */
  binary?: boolean;
  formulas?: Formula[];
  /**
   * With `asymmetric_signgd`: also compute its flipped train × test kernel ⟨g(train), sign g(x)⟩
   * (`trainTestFlipped`), read only by the asymmetric LS-SVM with λ ≠ 1 (default false: the paper's λ = 1
   * needs only ⟨sign g(train), g(x)⟩, and the flip costs as many products as the train × test kernel).
   */
  asymmetricFlipped?: boolean;
  subset?: Subset;
  batchSize?: number;
  /**
   * Training examples whose gradient blocks are stored at once (default: all). Smaller tiles bound the
   * memory; each tile streams the training and test sets again (exact, slower).
   */
  trainTile?: number;
  /** Compute only tiles t with t % count === index (other rows stay 0); `mergeKernelShards` assembles. */
  shard?: { index: number; count: number };
  /** exact (default) or fast: TF32 and int8/fp8 sign products on CUDA (sign products stay exact). */
  precision?: Precision;
  /** The engine's plan: auto (the device's own; LMKERNEL_PLAN overrides), cpu or gpu (on any device). */
  plan?: Plan;
  /**
   * Several devices (`['cuda:0', 'cuda:1']`, or CPU pseudo-devices `['cpu', 'cpu']`): the training tiles
   * are scheduled over them in this process, one model replica each; the same kernels as one device.
   */
  devices?: string[];
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

export interface KernelResult {
  gradDim: number;
  /** Outputs per example C: the label words or classes, or 1 for a binary logit difference. */
  numOutputs: number;
  /** @deprecated The former name of numOutputs. */
  numLogits: number;
  nTrain: number;
  nTest: number;
  paramNames: string[];
  f0Train: number[][];
  f0Test: number[][];
  /** `trainTestFlipped`: asymmetric_signgd's flipped kernel, present only when `asymmetricFlipped` was asked. */
  kernels: Partial<Record<Formula, { trainTrain: Kernel; trainTest: Kernel; trainTestFlipped?: Kernel }>>;
  /** Tiling of the training rows and the tiles this result holds (all unless sharded). */
  tiling: { tileSize: number; numTiles: number; tiles: number[]; shard: { index: number; count: number } };
}

export interface OutputsOptions {
  inputs: EncodedExample[];
  output?: OutputKind;
  labelWordIds?: number[];
  binary?: boolean;
  batchSize?: number;
  signal?: AbortSignal;
}

export interface LoraSpec {
  r: number;
  alpha: number;
  targets?: string[];
  A?: Record<string, number[][]>;
  B?: Record<string, number[][]>;
  seed?: number;
}

/** Validates encoded examples (the option name is used in messages); mask_pos is checked for the prompt output. */
export function checkExamples(xs: unknown, option: string, needMask: boolean, allowEmpty: boolean): EncodedExample[] {
  if (!Array.isArray(xs)) throw new OptionError(option, 'an array of {input_ids, mask_pos} examples', xs);
  if (!allowEmpty && xs.length === 0) throw new OptionError(option, 'a non-empty array of examples', xs);
  xs.forEach((x: unknown, i) => {
    const at = `${option}[${i}]`;
    if (!isPlainObject(x)) throw new OptionError(at, 'an object with input_ids', x);
    const ids = x.input_ids;
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every(isInt))
      throw new OptionError(`${at}.input_ids`, 'a non-empty array of integer token ids', ids);
    const mp = x.mask_pos;
    if (needMask && (!isInt(mp) || mp < 0 || mp >= ids.length))
      throw new OptionError(`${at}.mask_pos`, `an index in [0, ${ids.length}) (prompt mode needs the mask position)`, mp);
  });
  return xs as EncodedExample[];
}

/** Nested [Na][C][Nb][C] arrays (the JSON layout of the fixtures and the CLI). */
export function kernelToNested(k: Kernel): NestedKernel {
  return flatToNested(k);
}

/** The checked options of LmModel#kernels, as the addon takes them. */
function kernelArgs(opts: KernelOptions, hasClassifier: boolean, dir: string) {
  if (!isPlainObject(opts)) throw new OptionError('options', 'an object', opts);
  const output = oneOf(opts.output, 'output', OUTPUT_KINDS, 'prompt');
  const prompt = output === 'prompt';
  const train = checkExamples(opts.train, 'train', prompt, false);
  const test = checkExamples(opts.test ?? [], 'test', prompt, true);
  const formulas = opts.formulas ?? ['sgd'];
  if (!Array.isArray(formulas) || formulas.length === 0 || !formulas.every((f) => FORMULAS.includes(f)))
    throw new OptionError('formulas', `a non-empty array of ${FORMULAS.join(', ')}`, formulas);
  const asymmetricFlipped = opts.asymmetricFlipped ?? false;
  if (typeof asymmetricFlipped !== 'boolean') throw new OptionError('asymmetricFlipped', 'a boolean', asymmetricFlipped);
  if (asymmetricFlipped && !formulas.includes('asymmetric_signgd'))
    throw new OptionError(
      'asymmetricFlipped',
      "the formula 'asymmetric_signgd' in formulas (the flip is its kernel)",
      asymmetricFlipped,
    );
  const subset = oneOf(opts.subset, 'subset', SUBSETS, 'all');
  const batchSize = checkInt(opts.batchSize ?? 8, 'batchSize', 1);
  if (opts.binary !== undefined && typeof opts.binary !== 'boolean') throw new OptionError('binary', 'a boolean', opts.binary);
  const trainTile = checkInt(opts.trainTile ?? 0, 'trainTile', 0);
  const shard = opts.shard ?? { index: 0, count: 1 };
  const precision = oneOf(opts.precision, 'precision', PRECISIONS, 'exact');
  const plan = oneOf(opts.plan, 'plan', PLANS, 'auto');
  const devices = opts.devices ?? [];
  if (!Array.isArray(devices) || !devices.every((d) => typeof d === 'string' && d.trim() !== ''))
    throw new OptionError('devices', "an array of device names ('cpu', 'cuda', 'cuda:N')", devices);
  if (!isInt(shard.count) || shard.count < 1 || !isInt(shard.index) || shard.index < 0 || shard.index >= shard.count)
    throw new OptionError('shard', '{index, count} with 0 <= index < count', shard);
  let labelWordIds: number[] | undefined;
  if (prompt) {
    if (!Array.isArray(opts.labelWordIds) || opts.labelWordIds.length === 0 || !opts.labelWordIds.every(isInt))
      throw new OptionError('labelWordIds', 'a non-empty array of token ids (the prompt output)', opts.labelWordIds);
    labelWordIds = opts.labelWordIds;
    if (opts.binary && labelWordIds.length !== 2)
      throw new OptionError('binary', `2 label words for a binary output (got ${labelWordIds.length})`, opts.binary);
  } else if (!hasClassifier) {
    throw new InputError(
      dir,
      "the standard output needs a 'classifier' head: the checkpoint has none (set one with setClassifier or linear probing)",
    );
  }
  const args = {
    train,
    test,
    output,
    binary: !!opts.binary,
    labelWordIds,
    formulas,
    asymmetricFlipped,
    subset,
    batchSize,
    trainTile,
    shardIndex: shard.index,
    shardCount: shard.count,
    precision,
    plan,
    devices,
  };
  return { args, shard };
}

/** The addon's flat kernel result as a KernelResult. */
function kernelResultOf(
  res: AddonKernelResult,
  formulas: readonly Formula[],
  shard: { index: number; count: number },
): KernelResult {
  const C = res.numOutputs;
  const kernels: KernelResult['kernels'] = {};
  const shape = (na: number, nb: number): Kernel['shape'] => [na, C, nb, C];
  for (const f of formulas) {
    const flipped = res.kernels[`${f}/train_test_flipped`];
    kernels[f] = {
      trainTrain: { shape: shape(res.nTrain, res.nTrain), data: res.kernels[`${f}/train_train`] },
      trainTest: { shape: shape(res.nTrain, res.nTest), data: res.kernels[`${f}/train_test`] },
      ...(flipped ? { trainTestFlipped: { shape: shape(res.nTrain, res.nTest), data: flipped } } : {}),
    };
  }
  return {
    gradDim: res.gradDim,
    numOutputs: C,
    numLogits: C,
    nTrain: res.nTrain,
    nTest: res.nTest,
    paramNames: res.paramNames,
    f0Train: rowsOfFlat(res.f0Train, res.nTrain),
    f0Test: rowsOfFlat(res.f0Test, res.nTest),
    kernels,
    tiling: { tileSize: res.tileSize, numTiles: res.numTiles, tiles: res.tiles, shard },
  };
}

/** LoRA matrices as the addon takes them (flat, with their dimensions). */
function loraMatrices(spec: LoraSpec): Record<string, { rows: number; cols: number; data: number[] }> {
  const matrices: Record<string, { rows: number; cols: number; data: number[] }> = {};
  for (const [name, m] of Object.entries({ ...(spec.A ?? {}), ...(spec.B ?? {}) })) {
    if (!Array.isArray(m) || m.length === 0 || !Array.isArray(m[0]))
      throw new OptionError(`lora.${name}`, 'a matrix (array of rows)', m);
    matrices[name] = { rows: m.length, cols: m[0].length, data: m.flat() };
  }
  return matrices;
}

export class LmModel {
  constructor(
    readonly handle: AddonModel,
    readonly dir: string,
  ) {}

  get info(): ModelInfo {
    return this.handle.info();
  }

  async kernels(opts: KernelOptions): Promise<KernelResult> {
    const { args, shard } = kernelArgs(opts, this.info.numLabels > 0, this.dir);
    const res = await withCancel(opts.signal, (token) => this.handle.kernels(args, opts.onProgress, token));
    return kernelResultOf(res, args.formulas, shard);
  }

  /** Model outputs f [N][C] (label-word logits, classifier logits, or logit1 − logit0 when binary). */
  async outputs(opts: OutputsOptions): Promise<number[][]> {
    const output = oneOf(opts.output, 'output', OUTPUT_KINDS, 'prompt');
    const inputs = checkExamples(opts.inputs, 'inputs', output === 'prompt', true);
    const args = { inputs, output, labelWordIds: opts.labelWordIds, binary: !!opts.binary, batchSize: opts.batchSize ?? 16 };
    const flat = await withCancel(opts.signal, (token) => this.handle.outputs(args, undefined, token));
    return rowsOfFlat(flat, inputs.length);
  }

  /** Features entering the output layer [N][hidden]: MLM-head features at the mask (prompt) or the <s> state (standard). */
  async features(opts: {
    inputs: EncodedExample[];
    output?: OutputKind;
    batchSize?: number;
    signal?: AbortSignal;
  }): Promise<number[][]> {
    const output = oneOf(opts.output, 'output', OUTPUT_KINDS, 'prompt');
    const inputs = checkExamples(opts.inputs, 'inputs', output === 'prompt', true);
    const flat = await withCancel(opts.signal, (token) =>
      this.handle.features({ inputs, output, batchSize: opts.batchSize ?? 16 }, undefined, token),
    );
    return rowsOfFlat(flat, inputs.length);
  }

  /** Sets the standard output's linear head: weight [C][hidden], bias [C]. */
  setClassifier(weight: number[][], bias: number[]): void {
    this.handle.setClassifier({ numLabels: weight.length, weight: weight.flat(), bias });
  }

  /** LoRA on query/value of every layer: A given per name or Kaiming-uniform (seeded), B = 0 unless given. */
  applyLora(spec: LoraSpec): void {
    const r = checkInt(spec.r, 'lora.r', 1);
    const alpha = checkNumber(spec.alpha, 'lora.alpha', { min: 0, exclusiveMin: true });
    this.handle.applyLora({ r, alpha, targets: spec.targets, matrices: loraMatrices(spec), seed: spec.seed ?? 0 });
  }
}

/** Throws an InputError naming what the model folder lacks. */
function checkModelFolder(dir: string, config: string, weights: string, opts: LoadModelOptions): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError(dir, 'model folder not found');
  if (!existsSync(config)) throw new InputError(dir, `no ${opts.config ?? 'config.json'} in the model folder`);
  if (existsSync(weights)) return;
  const hint = existsSync(join(dir, 'pytorch_model.bin'))
    ? ' (it has pytorch_model.bin: lmkernel never unpickles; convert it once with Python: ' +
      '`from transformers import AutoModelForMaskedLM; AutoModelForMaskedLM.from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True)`)'
    : '';
  throw new InputError(dir, `no ${opts.weights ?? 'model.safetensors'} in the model folder${hint}`);
}

/**
 * Loads `dir/config.json` + `dir/model.safetensors`. `dir` is a folder, or a hub id (`roberta-base`,
 * `org/name`) resolved from the Hugging Face cache and downloaded into it when missing (lib/hub).
 */
export async function loadModel(idOrDir: string, opts: LoadModelOptions = {}): Promise<LmModel> {
  if (typeof idOrDir !== 'string' || idOrDir.length === 0) throw new OptionError('dir', 'a model folder path', idOrDir);
  const dir = await resolveModelDir(idOrDir, { revision: opts.revision, onProgress: opts.onDownload, signal: opts.signal });
  const dtype = oneOf(opts.dtype, 'dtype', ['float32', 'float64'] as const, 'float32');
  const config = join(dir, opts.config ?? 'config.json');
  const weights = join(dir, opts.weights ?? 'model.safetensors');
  checkModelFolder(dir, config, weights, opts);
  const args = { config, weights, dtype, tieWordEmbeddings: !!opts.tieWordEmbeddings, device: opts.device ?? 'cpu' };
  const handle = await withCancel(opts.signal, (token) => native().loadModel(args, undefined, token));
  return new LmModel(handle, dir);
}
