// `lmkernel finetune-run`: fine-tuning experiments over seeds (one results.jsonl line per seed, in the
// kernel runner's format: `lmkernel report` shows kernel and fine-tuning columns side by side), the
// lr x batch-size grid selected on dev in the same process, and with --behaviour the kernel-behaviour
// measurements (pre-trained / linearized / fine-tuned test score, kernel distances).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LmkError, OptionError } from '../errors.js';
import { OPTIMIZERS, type Optimizer } from '../finetune.js';
import type { Dtype, OutputMode } from '../model.js';
import { DEFAULT_FT_BATCH_SIZES, DEFAULT_FT_LRS, runFinetuneExperiment } from '../behaviour/finetuneRun.js';
import { cliProgressBar } from '../progress.js';
import { helpText, parseArgs, requireFlag, type FlagSpec } from './args.js';

const COMMAND = 'finetune-run';

const SPEC: FlagSpec = {
  task: { type: 'string', help: 'task name (SST-2, sst-5, mr, cr, mpqa, subj, trec, MNLI, SNLI, QNLI, RTE, MRPC, QQP, CoLA)' },
  k: { type: 'number', help: 'examples per label (the <k>-<seed> split folders)' },
  seeds: { type: 'list', help: 'data seeds', default: ['13', '21', '42', '87', '100'] },
  'data-dir': { type: 'string', help: 'folder holding <TASK>/<k>-<seed>/{train,dev,test}' },
  model: { type: 'string', help: 'model folder: config.json + model.safetensors' },
  tokenizer: { type: 'string', help: 'tokenizer folder (default: the model folder); must match the model\'s vocabulary' },
  mode: { type: 'string', help: 'prompt | standard (standard: head fitted by linear probing first)', default: 'prompt' },
  optimizer: { type: 'string', help: OPTIMIZERS.join(' | '), default: 'adam' },
  lr: { type: 'list', help: `learning rates to try (default adam ${DEFAULT_FT_LRS.adam}; sgd ${DEFAULT_FT_LRS.sgd}; signgd ${DEFAULT_FT_LRS.signgd})` },
  'batch-size': { type: 'list', help: `batch sizes to try (default ${DEFAULT_FT_BATCH_SIZES})` },
  steps: { type: 'number', help: 'updates per run (default 1000 x k·C / 32: 1000 for a 16-shot binary task)' },
  'eval-every': { type: 'number', help: 'dev evaluation interval (default steps/10); the best dev state of each run is kept' },
  'lora-r': { type: 'number', help: 'LoRA rank on query/value (trains LoRA + heads; A Kaiming-uniform seeded by the data seed)' },
  'lora-alpha': { type: 'number', help: 'LoRA alpha (default 16)' },
  behaviour: { type: 'boolean', help: 'also record pre-trained and linearized test scores and the kernel distances' },
  'max-grad-norm': { type: 'number', help: 'gradient clipping norm (0: none)', default: 1 },
  'weight-decay': { type: 'number', help: 'weight decay', default: 0 },
  'max-test': { type: 'number', help: 'use only the first N test examples (file order)' },
  'label-words': { type: 'list', help: 'custom label words in label order or label:word pairs' },
  template: { type: 'string', help: 'custom prompt template' },
  'lp-C': { type: 'number', help: 'standard mode: fixed linear-probe C (default: 5-fold CV)' },
  dtype: { type: 'string', help: 'float32 | float64', default: 'float32' },
  device: { type: 'string', help: 'cpu | cuda | cuda:N', default: 'cpu' },
  out: { type: 'string', help: 'results file: one JSON line appended per seed; finished seeds are skipped', default: 'results.jsonl' },
  quiet: { type: 'boolean', help: 'no per-seed messages' },
};

function numbers(flag: string, v: unknown): number[] {
  return (v as string[]).map((s) => {
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n)) throw new OptionError(`--${flag}`, 'a comma-separated list of numbers', s);
    return n;
  });
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, SPEC, COMMAND);
  if (a.help) {
    console.log(
      helpText(COMMAND, '--task T --k K --data-dir D --model M [--tokenizer TOK] [--optimizer adam] [--behaviour] [options]', SPEC) +
        '\n\nEvery (lr, batch size) is trained with dev evaluation every --eval-every steps; the run with the best dev score' +
        '\n(ties: first in grid order) is evaluated on test. Ctrl-C writes the seed in progress with status "aborted";' +
        '\na seed whose every run diverges is written with status "diverged" (last good state) and the command fails.',
    );
    return 0;
  }
  if (a._.length > 0) throw new LmkError(`${COMMAND}: unexpected argument '${a._[0]}'`);
  const task = requireFlag<string>(a, 'task', COMMAND);
  const k = requireFlag<number>(a, 'k', COMMAND);
  const dataDir = requireFlag<string>(a, 'data-dir', COMMAND);
  const model = requireFlag<string>(a, 'model', COMMAND);
  const optimizer = a.optimizer as string;
  if (!(OPTIMIZERS as readonly string[]).includes(optimizer)) throw new OptionError('--optimizer', OPTIMIZERS.join(' | '), optimizer);
  const mode = a.mode as string;
  if (mode !== 'prompt' && mode !== 'standard') throw new OptionError('--mode', 'prompt | standard', mode);
  const dtype = a.dtype as string;
  if (dtype !== 'float32' && dtype !== 'float64') throw new OptionError('--dtype', 'float32 | float64', dtype);
  const lrs = a.lr === undefined ? undefined : numbers('lr', a.lr);
  lrs?.forEach((lr) => {
    if (!(lr > 0)) throw new OptionError('--lr', 'learning rates > 0', lr);
  });
  const batchSizes = a['batch-size'] === undefined ? undefined : numbers('batch-size', a['batch-size']);
  if (a['lora-alpha'] !== undefined && a['lora-r'] === undefined) throw new OptionError('--lora-alpha', 'to be used with --lora-r', a['lora-alpha']);
  let labelWords: string[] | Record<string, string> | undefined;
  if (a['label-words'] !== undefined) {
    const ws = a['label-words'] as string[];
    labelWords = ws.every((w) => w.includes(':')) ? Object.fromEntries(ws.map((w) => [w.slice(0, w.indexOf(':')), w.slice(w.indexOf(':') + 1)])) : ws;
  }
  let tokenizer = a.tokenizer as string | undefined;
  if (tokenizer === undefined && !['tokenizer.json', 'vocab.json', 'vocab.txt'].some((f) => existsSync(join(model, f))))
    throw new LmkError(`${COMMAND}: the model folder ${model} has no tokenizer files: pass --tokenizer DIR`);
  tokenizer ??= model;

  const ac = new AbortController();
  const onSig = () => {
    console.error(`${COMMAND}: interrupted; the seed in progress is written with status "aborted", finished seeds are kept`);
    ac.abort();
  };
  process.once('SIGINT', onSig);
  try {
    const stats = await runFinetuneExperiment({
      task,
      k,
      seeds: numbers('seeds', a.seeds),
      dataDir,
      modelDir: model,
      tokenizerDir: tokenizer,
      mode: mode as OutputMode,
      optimizer: optimizer as Optimizer,
      lrs,
      batchSizes,
      steps: a.steps as number | undefined,
      evalEvery: a['eval-every'] as number | undefined,
      lora: a['lora-r'] !== undefined ? { r: a['lora-r'] as number, alpha: (a['lora-alpha'] as number | undefined) ?? 16 } : null,
      behaviour: !!a.behaviour,
      maxGradNorm: a['max-grad-norm'] as number,
      weightDecay: a['weight-decay'] as number,
      dtype: dtype as Dtype,
      device: a.device as string,
      maxTest: a['max-test'] as number | undefined,
      labelWords,
      template: a.template as string | undefined,
      linearProbe: a['lp-C'] !== undefined ? { C: a['lp-C'] as number } : {},
      out: a.out as string,
      signal: ac.signal,
      log: a.quiet ? undefined : (m) => console.error(`${COMMAND}: ${m}`),
      onProgress: (label) => {
        const bar = cliProgressBar(label);
        return (phase, done, total) => {
          bar.update(phase, done, total);
          if (done >= total && phase === 'train') bar.stop();
        };
      },
    });
    const done = stats.seeds.filter((s) => s.status === 'done').length;
    console.error(`${COMMAND}: ${done} seed(s) fine-tuned, ${stats.skipped} skipped (already in ${a.out as string})${stats.aborted ? ', interrupted' : ''}, ${stats.total_s}s`);
    return stats.aborted ? 130 : 0;
  } finally {
    process.removeListener('SIGINT', onSig);
  }
}
