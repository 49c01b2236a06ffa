// Pre-training from scratch (native core: core/pretrain.h): a RoBERTa-architecture masked LM, or a GPT-2
// or Llama decoder with the next-token loss; and the Hugging Face folder it is written to (config.json,
// model.safetensors with HF names and the head tied to the word embeddings, tokenizer.json) that
// `loadModel` loads. Training steps use `dropout` (RoBERTa's 0.1 in `lmkernel pretrain`; 0 by default
// here), held-out evaluation is in eval mode.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { OptionError } from './errors.js';
import { writeFileAtomic } from './io.js';
import { native, withCancel } from './addon/load.js';
import type { AddonPretrainOptions, AddonPretrainSettings } from './addon/types.js';
import { checkDropout } from './finetune.js';
import { LmModel } from './model.js';
import type { ProgressFn } from './types.js';
import { checkInt } from './validate.js';

export interface ModelArch {
  /** The family: roberta (masked LM, default), gpt2 or llama (decoders, next-token loss, tied LM head). */
  family?: 'roberta' | 'gpt2' | 'llama';
  /** Llama: key/value heads (grouped-query attention; default: heads). */
  kvHeads?: number;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  /** Longest input in tokens (<s> and </s> included); positions = maxLength + 2 as RoBERTa (decoders: maxLength). */
  maxLength: number;
}

export interface PretrainOptions extends ModelArch, AddonPretrainSettings {
  /** Token-id sequences, each <s> ... </s>. */
  train: ArrayLike<number>[];
  heldout?: ArrayLike<number>[];
  betas?: [number, number];
  onProgress?: ProgressFn;
  signal?: AbortSignal;
}

export interface PretrainEval {
  step: number;
  loss: number;
  accuracy: number;
  tokens: number;
}

export interface PretrainResult {
  model: LmModel;
  loss: number[];
  lr: number[];
  evals: PretrainEval[];
  steps: number;
  resumedFrom: number;
  checkpoints: number;
  aborted: boolean;
  seconds: number;
}

function flatten(xs: ArrayLike<number>[], name: string): { ids: Int32Array; lengths: Int32Array } {
  if (!Array.isArray(xs)) throw new OptionError(name, 'an array of token-id sequences', xs);
  let n = 0;
  for (const x of xs) n += x.length;
  const ids = new Int32Array(n);
  const lengths = new Int32Array(xs.length);
  let p = 0;
  xs.forEach((x, i) => {
    lengths[i] = x.length;
    for (let j = 0; j < x.length; j++) ids[p++] = x[j];
  });
  return { ids, lengths };
}

export async function pretrain(opts: PretrainOptions): Promise<PretrainResult> {
  for (const k of ['hidden', 'layers', 'heads', 'intermediate', 'maxLength', 'vocabSize', 'steps'] as const)
    checkInt(opts[k], k, 1);
  if (opts.hidden % opts.heads !== 0) throw new OptionError('heads', `a divisor of hidden (${opts.hidden})`, opts.heads);
  const train = flatten(opts.train, 'train');
  const heldout = flatten(opts.heldout ?? [], 'heldout');
  const padId = opts.padId ?? 1;
  const family = opts.family ?? 'roberta';
  const args: AddonPretrainOptions = {
    arch: family,
    kvHeads: opts.kvHeads ?? opts.heads,
    vocabSize: opts.vocabSize,
    hidden: opts.hidden,
    layers: opts.layers,
    heads: opts.heads,
    intermediate: opts.intermediate,
    maxPositions: family === 'roberta' ? opts.maxLength + padId + 1 : opts.maxLength,
    padId,
    maskId: opts.maskId,
    numSpecial: opts.numSpecial ?? 4,
    maskProb: opts.maskProb ?? 0.15,
    steps: opts.steps,
    batchSize: opts.batchSize ?? 32,
    warmupSteps: opts.warmupSteps ?? 0,
    lr: opts.lr,
    weightDecay: opts.weightDecay ?? 0.01,
    beta1: opts.betas?.[0] ?? 0.9,
    beta2: opts.betas?.[1] ?? 0.98,
    eps: opts.eps ?? 1e-6,
    maxGradNorm: opts.maxGradNorm ?? 1.0,
    dropout: checkDropout(opts.dropout),
    seed: opts.seed ?? 1,
    evalEvery: opts.evalEvery ?? 0,
    evalBatchSize: opts.evalBatchSize ?? 64,
    checkpointEvery: opts.checkpointEvery ?? 0,
    checkpoint: opts.checkpoint,
    resume: opts.resume ?? true,
    device: opts.device ?? 'cpu',
    trainIds: train.ids,
    trainLengths: train.lengths,
    heldoutIds: heldout.ids,
    heldoutLengths: heldout.lengths,
  };
  const raw = await withCancel(opts.signal, (token) => native().pretrain(args, opts.onProgress, token));
  return { ...raw, model: new LmModel(raw.model, '(pre-trained in memory)'), loss: Array.from(raw.loss), lr: Array.from(raw.lr) };
}

/** HF config.json of a RoBERTa masked LM of this architecture. */
export function robertaConfig(arch: ModelArch, vocabSize: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['RobertaForMaskedLM'],
    model_type: 'roberta',
    vocab_size: vocabSize,
    hidden_size: arch.hidden,
    num_hidden_layers: arch.layers,
    num_attention_heads: arch.heads,
    intermediate_size: arch.intermediate,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    max_position_embeddings: arch.maxLength + 2,
    type_vocab_size: 1,
    initializer_range: 0.02,
    layer_norm_eps: 1e-5,
    pad_token_id: 1,
    bos_token_id: 0,
    eos_token_id: 2,
    tie_word_embeddings: true,
    position_embedding_type: 'absolute',
    torch_dtype: 'float32',
    ...extra,
  };
}

/** HF config.json of a GPT-2 or Llama decoder of this architecture (LM head tied to the embeddings). */
export function decoderConfig(arch: ModelArch, vocabSize: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  if (arch.family === 'gpt2')
    return {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      vocab_size: vocabSize,
      n_embd: arch.hidden,
      n_layer: arch.layers,
      n_head: arch.heads,
      n_inner: arch.intermediate,
      n_positions: arch.maxLength,
      activation_function: 'gelu_new',
      layer_norm_epsilon: 1e-5,
      tie_word_embeddings: true,
      torch_dtype: 'float32',
      ...extra,
    };
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: vocabSize,
    hidden_size: arch.hidden,
    intermediate_size: arch.intermediate,
    num_hidden_layers: arch.layers,
    num_attention_heads: arch.heads,
    num_key_value_heads: arch.kvHeads ?? arch.heads,
    max_position_embeddings: arch.maxLength,
    hidden_act: 'silu',
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    ...extra,
  };
}

/** Writes a model folder: config.json, model.safetensors (atomic), tokenizer.json. */
export function saveModelFolder(dir: string, model: LmModel, config: Record<string, unknown>, tokenizerJson: unknown): void {
  mkdirSync(dir, { recursive: true });
  native().saveModel(model.handle, join(dir, 'model.safetensors'));
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  writeFileAtomic(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson) + '\n');
}
