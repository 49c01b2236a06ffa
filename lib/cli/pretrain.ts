// `lmkernel pretrain`: the shipped model's recipe (lib/demo/pretrainRecipe.ts) from the command line:
// a RoBERTa-architecture masked LM (or, with --arch gpt2 | llama, a decoder with the next-token loss)
// pre-trained from scratch on the Brown corpus into a model folder.
import { pretrainDemoModel } from '../demo/pretrainRecipe.js';
import { defineCommand } from './command.js';
import { modelArg } from './experimentFlags.js';
import { cliProgressBar } from './progress.js';
import { oneOf } from '../validate.js';

const command = defineCommand({
  name: 'pretrain',
  synopsis: '--out DIR [--hidden 128 --layers 4 --heads 4 --steps 2000 ...]',
  spec: {
    out: {
      type: 'string',
      required: true,
      help: 'output model folder (config.json, model.safetensors, tokenizer.json, training.json)',
    },
    tokenizer: {
      type: 'string',
      help: "reuse this folder's (or hub id's) tokenizer.json (default: build a GPT-2 BPE vocabulary restricted to the corpus)",
    },
    'vocab-min-count': { type: 'number', help: 'keep GPT-2 tokens seen at least this often in the corpus', default: 20 },
    arch: { type: 'string', help: 'roberta (masked LM) | gpt2 | llama (decoders, next-token loss)', default: 'roberta' },
    'kv-heads': { type: 'number', help: 'llama: key/value heads (grouped-query attention; default: --heads)' },
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
    dropout: {
      type: 'number',
      help: "hidden and attention dropout while training (RoBERTa's 0.1; models/demo was trained with 0)",
      default: 0.1,
    },
    seed: { type: 'number', help: 'seed of the initialisation, batches and masks', default: 1 },
    'eval-every': { type: 'number', help: 'held-out MLM loss/accuracy every N updates (and at the end)', default: 250 },
    'checkpoint-every': { type: 'number', help: 'write OUT/checkpoint.safetensors every N updates (0: never)', default: 250 },
    'no-resume': { type: 'boolean', help: 'start afresh even if OUT/checkpoint.safetensors exists' },
    'keep-checkpoint': { type: 'boolean', help: 'keep OUT/checkpoint.safetensors after a finished run' },
    device: { type: 'string', help: 'cpu | cuda | cuda:N', default: 'cpu' },
    'zero-shot-max': { type: 'number', help: 'demo-task test sentences scored zero-shot (0: skip)', default: 1000 },
  },
  run: async (a, argv) => {
    const log = (m: string) => console.error(`[pretrain] ${m}`);
    const t0 = performance.now();
    const bar = cliProgressBar('pretrain');
    let lastLog = 0;
    try {
      const record = await pretrainDemoModel({
        out: a.out,
        tokenizer: a.tokenizer && (await modelArg(a.tokenizer, undefined, 'tokenizer')).dir,
        vocabMinCount: a['vocab-min-count'],
        arch: {
          family: oneOf(a.arch, '--arch', ['roberta', 'gpt2', 'llama'] as const),
          kvHeads: a['kv-heads'],
          hidden: a.hidden,
          layers: a.layers,
          heads: a.heads,
          intermediate: a.intermediate ?? 4 * a.hidden,
          maxLength: a['max-length'],
        },
        steps: a.steps,
        batchSize: a['batch-size'],
        lr: a.lr,
        warmup: a.warmup,
        weightDecay: a['weight-decay'],
        maxGradNorm: a['max-grad-norm'],
        dropout: a.dropout,
        seed: a.seed,
        evalEvery: a['eval-every'],
        checkpointEvery: a['checkpoint-every'],
        resume: !a['no-resume'],
        keepCheckpoint: !!a['keep-checkpoint'],
        device: a.device,
        zeroShotMax: a['zero-shot-max'],
        command: `lmkernel pretrain ${argv.join(' ')}`,
        log,
        onProgress: (phase, done, total) => {
          bar.update(phase, done, total);
          // without a terminal, a line per evaluation, checkpoint or 30 s
          if (
            !process.stderr.isTTY &&
            (phase.startsWith('eval') || phase.startsWith('checkpoint') || performance.now() - lastLog > 30000)
          ) {
            lastLog = performance.now();
            log(`${phase} ${done}/${total} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
          }
        },
      });
      return record ? 0 : 1;
    } finally {
      bar.stop();
    }
  },
});

export const run = command.run;
