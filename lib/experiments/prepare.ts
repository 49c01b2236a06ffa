// The per-seed preparation every experiment shares (kernel runner, fine-tuning runner, behaviour chi, the
// demo): the model's content id, the tokenizer and task encoder (checked against the model's vocabulary),
// the encoded k-shot splits of a seed, and the standard output's head by linear probing (cached by content).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { cachedModelDir, resolveModelDir } from '../hub/index.js';
import { loadModel, type LmModel } from '../model.js';
import {
  encodeExamples,
  loadTokenizer,
  taskEncoder,
  taskPrompt,
  type TaskEncoder,
  type TaskEncoderOptions,
} from '../prompts/index.js';
import { readSplit, type TaskSpec } from '../tasks/index.js';
import type { Tokenizer } from '../tokenizer.js';
import type { Dtype, EncodedExample, OutputKind } from '../types.js';
import { entryPath, fileSha256, hashFloat64, hashJson, sha256 } from './cache.js';
import { writeFileAtomic } from '../io.js';
import { linearProbe, type LinearProbeOptions } from './linearProbe.js';
import type { Experiment, ExperimentOptions } from './options.js';

/** Bump when the meaning of cached values or of result lines changes. */
export const RUNNER_VERSION = 1;

const TOKENIZER_FILES = ['tokenizer.json', 'vocab.json', 'vocab.txt'];

/**
 * The tokenizer folder: the one given, else the model folder when it holds tokenizer files (a hub id's:
 * its snapshot in the Hugging Face cache).
 */
export function tokenizerDirFor(modelDir: string, tokenizerDir?: string): string {
  if (tokenizerDir !== undefined) return tokenizerDir;
  const dir = cachedModelDir(modelDir) ?? modelDir;
  if (!TOKENIZER_FILES.some((f) => existsSync(join(dir, f))))
    throw new InputError(
      modelDir,
      'no tokenizer files: pass --tokenizer DIR (the model folder has none of tokenizer.json, vocab.json + merges.txt, vocab.txt)',
    );
  return dir;
}

/** Content id of a model folder (config.json bytes + weights bytes); the file hash is memoised in `memo`. */
export function modelContentId(modelDir: string, memo?: string): string {
  return hashJson({
    config: sha256(readFileSync(join(modelDir, 'config.json'))),
    weights: fileSha256(join(modelDir, 'model.safetensors'), memo),
  });
}

/** The config.json model types of decoder-only (causal) LMs: prompts end at the mask (prompts/causal.ts). */
export const CAUSAL_MODEL_TYPES: readonly string[] = ['gpt2', 'llama', 'mistral', 'qwen2'];
export const isCausalArch = (arch: string): boolean => CAUSAL_MODEL_TYPES.includes(arch);

/**
 * The task encoder's options for a model: a decoder gets causal prompts, truncated (from the head) to its
 * positions when the task allows more; a masked LM the task's own settings.
 */
export function encoderOptionsFor(arch: string, maxPositions: number | undefined, task: string): TaskEncoderOptions {
  if (!isCausalArch(arch)) return {};
  const taskMax = taskPrompt(task).maxLength;
  return maxPositions !== undefined && maxPositions < taskMax ? { causal: true, maxLength: maxPositions } : { causal: true };
}

/** What the tokenizer check needs of a model: its folder, family and vocabulary size (and its positions). */
export interface ModelVocab {
  dir: string;
  arch: string;
  vocabSize: number;
  maxPositions?: number;
}

/**
 * A tokenizer fits a model when its ids index the model's vocabulary: the sizes must agree (roberta-base
 * 50265, bert-base-uncased 30522) and the label words must be inside it. Mismatches are InputErrors that
 * name both folders.
 */
export function checkTokenizerFitsModel(
  tok: Tokenizer,
  model: ModelVocab,
  tokDir: string,
  labelWordIds?: readonly number[] | null,
): void {
  const V = model.vocabSize;
  // decoders often pad their embedding matrix beyond the tokenizer (Qwen2: 151,936 rows for 151,665 ids)
  if (isCausalArch(model.arch) ? tok.vocabSize > V : tok.vocabSize !== V)
    throw new InputError(
      model.dir,
      `the tokenizer (${tokDir}) has ${tok.vocabSize} ids but the ${model.arch} checkpoint's vocabulary has ${V}: ` +
        "the tokenizer does not belong to this model (pass the model's own tokenizer with --tokenizer)",
    );
  const bad = (labelWordIds ?? []).find((id) => id < 0 || id >= V);
  if (bad !== undefined) throw new InputError(model.dir, `label word id ${bad} is outside the model's vocabulary [0, ${V})`);
}

/** The model's vocabulary from its config.json, without loading the weights (loadModel reports a bad folder). */
async function modelVocab(modelDir: string, dtype: Dtype): Promise<ModelVocab> {
  const configPath = join(modelDir, 'config.json');
  if (!existsSync(configPath) || !existsSync(join(modelDir, 'model.safetensors'))) await loadModel(modelDir, { dtype });
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as {
    model_type?: string;
    vocab_size?: number;
    n_positions?: number;
    max_position_embeddings?: number;
  };
  if (typeof config.vocab_size !== 'number') {
    const m = await loadModel(modelDir, { dtype });
    return { dir: modelDir, arch: m.info.arch, vocabSize: m.info.vocabSize, maxPositions: m.info.maxPositions };
  }
  const maxPositions = config.n_positions ?? config.max_position_embeddings;
  return { dir: modelDir, arch: String(config.model_type), vocabSize: config.vocab_size, maxPositions };
}

/** The model's inputs for an experiment: content id, tokenizer, task encoder and label word ids, checked. */
export interface PreparedModel {
  modelId: string;
  tok: Tokenizer;
  enc: TaskEncoder;
  /** Prompt output: the label words' ids in label order; standard output: null. */
  labelWordIds: number[] | null;
}

export async function prepareModel(x: Experiment, opts: ExperimentOptions, memo?: string): Promise<PreparedModel> {
  // hub ids (`roberta-base`, `org/name@rev`): their snapshots in the Hugging Face cache, downloaded if missing
  const modelDir = await resolveModelDir(opts.modelDir, { signal: opts.signal });
  const tokenizerDir =
    opts.tokenizerDir && (await resolveModelDir(opts.tokenizerDir, { need: 'tokenizer', signal: opts.signal }));
  const vocab = await modelVocab(modelDir, x.dtype);
  const modelId = modelContentId(modelDir, memo);
  const tokDir = tokenizerDirFor(modelDir, tokenizerDir);
  const tok = loadTokenizer(tokDir);
  const enc = taskEncoder(tok, x.task, {
    labelWords: opts.labelWords,
    template: opts.template,
    ...encoderOptionsFor(vocab.arch, vocab.maxPositions, x.task),
  });
  const labelWordIds = x.output === 'prompt' ? enc.labelWordIds : null;
  checkTokenizerFitsModel(tok, vocab, tokDir, labelWordIds);
  return { modelId, tok, enc, labelWordIds };
}

export interface EncodedSplits {
  train: EncodedExample[];
  dev: EncodedExample[];
  test: EncodedExample[];
  trainLabels: number[];
  devLabels: number[];
  testLabels: number[];
  splitDir: string;
}

/**
 * Reads and encodes the split folder of (task, k, seed). `maxTest` keeps the first N test examples (file
 * order); `need` names the splits that must be non-empty (an empty one is an InputError naming it).
 */
export function loadEncodedSplits(
  dataDir: string,
  spec: TaskSpec,
  k: number,
  seed: number,
  enc: TaskEncoder,
  output: OutputKind,
  opts: { maxTest?: number | null; need?: Array<'train' | 'dev' | 'test'> } = {},
): EncodedSplits {
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory())
    throw new InputError(String(dataDir), 'data folder not found (expected a folder holding <TASK>/<k>-<seed>/)');
  const splitDir = join(dataDir, spec.name, `${k}-${seed}`);
  if (!existsSync(splitDir) || !statSync(splitDir).isDirectory())
    throw new InputError(
      splitDir,
      `k-shot split folder not found (expected train, dev and test files of ${spec.name} for k=${k}, seed ${seed})`,
    );
  const train = readSplit(splitDir, spec, 'train');
  const dev = readSplit(splitDir, spec, 'dev');
  let test = readSplit(splitDir, spec, 'test');
  if (opts.maxTest != null) test = test.slice(0, opts.maxTest);
  const all = { train, dev, test };
  for (const name of opts.need ?? ['train', 'dev', 'test'])
    if (all[name].length === 0) throw new InputError(splitDir, `the ${name} split is empty`);
  return {
    train: encodeExamples(enc, output, train, 'train'),
    dev: encodeExamples(enc, output, dev, 'dev'),
    test: encodeExamples(enc, output, test, 'test'),
    trainLabels: train.map((x) => x.labelIndex),
    devLabels: dev.map((x) => x.labelIndex),
    testLabels: test.map((x) => x.labelIndex),
    splitDir,
  };
}

/** The hash of a seed's encoded inputs (part of every result line's config id). */
export const inputsId = (e: EncodedSplits): string =>
  hashJson([e.train, e.dev, e.test, e.trainLabels, e.devLabels, e.testLabels]);

export interface SeedHead {
  weight: number[][];
  bias: number[];
  /** The content id of the head (a kernel cache key part); 'checkpoint' when the checkpoint's head is kept. */
  id: string;
  info: { C: number; train_acc: number; cv_scores: number[]; cache: 'hit' | 'miss' | 'off' } | null;
}

export interface SeedHeadInput {
  /** The model at θ0, loaded when the head is not in the cache. */
  getModel: () => Promise<LmModel>;
  train: EncodedExample[];
  trainLabels: number[];
  numClasses: number;
  options: LinearProbeOptions | false;
  /** Cache folder and the key parts that identify the model (null: no cache). */
  cache: { dir: string; modelId: string; dtype: Dtype } | null;
  batchSize?: number;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

/**
 * The standard output's head (REFERENCE.md §3.5): logistic regression on the first token's features of the
 * training set (linear probing), read from the cache when there; `options === false` keeps the checkpoint's.
 */
export async function seedHead(input: SeedHeadInput): Promise<SeedHead | null> {
  if (input.options === false) return null;
  const c = input.cache;
  const key = c
    ? hashJson({
        v: RUNNER_VERSION,
        kind: 'linear-probe',
        model: c.modelId,
        dtype: c.dtype,
        train: hashJson(input.train),
        labels: input.trainLabels,
        numClasses: input.numClasses,
        options: input.options,
      })
    : '';
  const path = c ? entryPath(c.dir, 'linear-probe', key, 'json') : undefined;
  let cache: 'hit' | 'miss' | 'off' = c ? 'miss' : 'off';
  let head: { weight: number[][]; bias: number[]; C: number; trainAccuracy: number; cvScores: number[] } | undefined;
  if (path && existsSync(path)) {
    try {
      const j = JSON.parse(readFileSync(path, 'utf8'));
      if (j.key === key) {
        head = j;
        cache = 'hit';
      }
    } catch {
      input.log?.(`unreadable linear-probe cache ${path}, recomputing`);
    }
  }
  if (!head) {
    const m = await input.getModel();
    const feats = await m.features({ inputs: input.train, output: 'standard', batchSize: input.batchSize, signal: input.signal });
    head = linearProbe(feats, input.trainLabels, input.numClasses, input.options);
    if (path)
      writeFileAtomic(
        path,
        JSON.stringify({
          key,
          weight: head.weight,
          bias: head.bias,
          C: head.C,
          trainAccuracy: head.trainAccuracy,
          cvScores: head.cvScores,
        }),
      );
  }
  return {
    weight: head.weight,
    bias: head.bias,
    id: hashFloat64([...head.weight.flat(), ...head.bias]),
    info: { C: head.C, train_acc: head.trainAccuracy, cv_scores: head.cvScores, cache },
  };
}
