// Shared by the behaviour commands: read a k-shot split (train/dev/test of <dataDir>/<TASK>/<k>-<seed>/),
// encode it with the task's prompt or the standard `<s> A </s> B </s>` input, and check that a tokenizer
// belongs to a model (a RoBERTa tokenizer on a BERT checkpoint gives token ids that index the wrong rows,
// or rows outside the vocabulary).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { EncodedExample, LmModel, OutputMode } from '../model.js';
import { encodeExamples, type TaskEncoder } from '../prompts/index.js';
export { encodeExamples };
import { readSplit, type Example, type TaskSpec } from '../tasks/index.js';
import type { Tokenizer } from '../tokenizer.js';
import { fileSha256, hashJson, sha256 } from '../runner/cache.js';

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
  mode: OutputMode,
  opts: { maxTest?: number | null; need?: Array<'train' | 'dev' | 'test'> } = {},
): EncodedSplits {
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory())
    throw new InputError(String(dataDir), 'data folder not found (expected a folder holding <TASK>/<k>-<seed>/)');
  const splitDir = join(dataDir, spec.name, `${k}-${seed}`);
  if (!existsSync(splitDir) || !statSync(splitDir).isDirectory())
    throw new InputError(splitDir, `k-shot split folder not found (expected train, dev and test files of ${spec.name} for k=${k}, seed ${seed})`);
  const train = readSplit(splitDir, spec, 'train');
  const dev = readSplit(splitDir, spec, 'dev');
  let test = readSplit(splitDir, spec, 'test');
  if (opts.maxTest != null) test = test.slice(0, opts.maxTest);
  const all = { train, dev, test };
  for (const name of opts.need ?? ['train', 'dev', 'test'])
    if (all[name].length === 0) throw new InputError(splitDir, `the ${name} split is empty`);
  return {
    train: encodeExamples(enc, mode, train, 'train'),
    dev: encodeExamples(enc, mode, dev, 'dev'),
    test: encodeExamples(enc, mode, test, 'test'),
    trainLabels: train.map((x) => x.labelIndex),
    devLabels: dev.map((x) => x.labelIndex),
    testLabels: test.map((x) => x.labelIndex),
    splitDir,
  };
}

/**
 * A tokenizer fits a model when its ids index the model's vocabulary: the sizes must agree (roberta-base
 * 50265, bert-base-uncased 30522) and the label words must be inside it. Mismatches are InputErrors that
 * name both folders.
 */
export function checkTokenizerFitsModel(tok: Tokenizer, model: LmModel, tokDir: string, labelWordIds?: readonly number[] | null): void {
  const V = model.info.vocabSize;
  if (tok.vocabSize !== V)
    throw new InputError(
      model.dir,
      `the tokenizer (${tokDir}) has ${tok.vocabSize} ids but the ${model.info.arch} checkpoint's vocabulary has ${V}: ` +
        'the tokenizer does not belong to this model (pass the model\'s own tokenizer with --tokenizer)',
    );
  const bad = (labelWordIds ?? []).find((id) => id < 0 || id >= V);
  if (bad !== undefined) throw new InputError(model.dir, `label word id ${bad} is outside the model's vocabulary [0, ${V})`);
}

/** Content id of a model folder (config.json + weights), as the kernel runner computes it. */
export function modelContentId(modelDir: string, memo?: string): string {
  const configPath = join(modelDir, 'config.json');
  const weightsPath = join(modelDir, 'model.safetensors');
  return hashJson({ config: sha256(readFileSync(configPath)), weights: fileSha256(weightsPath, memo) });
}

/** Argmax of every row (ties to the first). */
export function argmaxRows(logits: readonly (readonly number[])[]): number[] {
  return logits.map((row) => {
    let k = 0;
    for (let c = 1; c < row.length; c++) if (row[c] > row[k]) k = c;
    return k;
  });
}
