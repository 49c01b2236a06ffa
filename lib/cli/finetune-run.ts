// `lmkernel finetune-run`: fine-tuning experiments over seeds (one results.jsonl line per seed, in the
// kernel runner's format: `lmkernel report` shows kernel and fine-tuning columns side by side), the
// lr x batch-size grid selected on dev in the same process, and with --behaviour the kernel-behaviour
// measurements (pre-trained / linearized / fine-tuned test score, kernel distances).
import { OptionError } from '../errors.js';
import { DEFAULT_FT_BATCH_SIZES, DEFAULT_FT_DROPOUT, DEFAULT_FT_LRS, runFinetuneExperiment } from '../experiments/index.js';
import { OPTIMIZERS } from '../finetune.js';
import { FORMULAS } from '../types.js';
import { oneOf } from '../validate.js';
import { defineCommand, withInterrupt } from './command.js';
import { EXPERIMENT_FLAGS, experimentOptions, numberList } from './experimentFlags.js';
import { cliProgressBar } from './progress.js';

const COMMAND = 'finetune-run';

const SPEC = {
  ...EXPERIMENT_FLAGS,
  optimizer: { type: 'string', help: OPTIMIZERS.join(' | '), default: 'adam' },
  lr: {
    type: 'list',
    help: `learning rates to try (default adam ${DEFAULT_FT_LRS.adam}; sgd ${DEFAULT_FT_LRS.sgd}; signgd ${DEFAULT_FT_LRS.signgd})`,
  },
  'batch-size': { type: 'list', help: `batch sizes to try (default ${DEFAULT_FT_BATCH_SIZES})` },
  steps: {
    type: 'number',
    help: 'updates per run (default 32·k·C: 1024 for a 16-shot binary task; inferred from the paper A.3)',
  },
  'eval-every': {
    type: 'number',
    help: 'dev evaluation interval (default 4·k·C: 128 for a 16-shot binary task); the best dev state of each run is kept',
  },
  dropout: { type: 'number', help: `hidden and attention dropout while training (default ${DEFAULT_FT_DROPOUT}, LM-BFF's)` },
  'kernel-distance-formula': {
    type: 'string',
    help: `${FORMULAS.join(' | ')}: the eNTK of the --behaviour kernel distance (default: the optimizer's analog, sgd after sgd, signgd after adam/signgd; paper Table 7)`,
  },
  'lora-r': { type: 'number', help: 'LoRA rank on query/value (trains LoRA + heads; A Kaiming-uniform seeded by the data seed)' },
  'lora-alpha': { type: 'number', help: 'LoRA alpha (default 16)' },
  behaviour: { type: 'boolean', help: 'also record pre-trained and linearized test scores and the kernel distances' },
  'max-grad-norm': { type: 'number', help: 'gradient clipping norm (0: none)', default: 1 },
  'weight-decay': { type: 'number', help: 'weight decay', default: 0 },
} as const;

const SYNOPSIS =
  '--task T --k K --data-dir D --model M [--tokenizer TOK] [--optimizer adam] [--behaviour] [options]\n\n' +
  'Every (lr, batch size) is trained with dev evaluation every --eval-every steps; the run with the best dev score\n' +
  '(ties: first in grid order) is evaluated on test. Ctrl-C writes the seed in progress with status "aborted";\n' +
  'a seed whose every run diverges is written with status "diverged" (last good state) and the command fails.';

/** A progress bar per training run, closed when its training phase ends. */
const trainingBar = (label: string) => {
  const bar = cliProgressBar(label);
  return (phase: string, done: number, total: number) => {
    bar.update(phase, done, total);
    if (done >= total && phase === 'train') bar.stop();
  };
};

const command = defineCommand({
  name: COMMAND,
  synopsis: SYNOPSIS,
  spec: SPEC,
  run: async (a) => {
    const optimizer = oneOf(a.optimizer, '--optimizer', OPTIMIZERS);
    const lrs = a.lr === undefined ? undefined : numberList('lr', a.lr);
    lrs?.forEach((lr) => {
      if (!(lr > 0)) throw new OptionError('--lr', 'learning rates > 0', lr);
    });
    if (a['lora-alpha'] !== undefined && a['lora-r'] === undefined)
      throw new OptionError('--lora-alpha', 'to be used with --lora-r', a['lora-alpha']);
    const kernelDistanceFormula =
      a['kernel-distance-formula'] === undefined
        ? undefined
        : oneOf(a['kernel-distance-formula'], '--kernel-distance-formula', FORMULAS);
    if (kernelDistanceFormula !== undefined && !a.behaviour)
      throw new OptionError('--kernel-distance-formula', 'to be used with --behaviour', kernelDistanceFormula);
    const base = await experimentOptions(a, COMMAND);
    const interrupted = `${COMMAND}: interrupted; the seed in progress is written with status "aborted", finished seeds are kept`;
    const stats = await withInterrupt(
      (signal) =>
        runFinetuneExperiment({
          ...base,
          optimizer,
          lrs,
          batchSizes: a['batch-size'] === undefined ? undefined : numberList('batch-size', a['batch-size']),
          steps: a.steps,
          evalEvery: a['eval-every'],
          dropout: a.dropout,
          kernelDistanceFormula,
          lora: a['lora-r'] !== undefined ? { r: a['lora-r'], alpha: a['lora-alpha'] ?? 16 } : null,
          behaviour: !!a.behaviour,
          maxGradNorm: a['max-grad-norm'],
          weightDecay: a['weight-decay'],
          signal,
          onProgress: trainingBar,
        }),
      interrupted,
    );
    const done = stats.seeds.filter((s) => s.status === 'done').length;
    console.error(
      `${COMMAND}: ${done} seed(s) fine-tuned, ${stats.skipped} skipped (already in ${a.out})${stats.aborted ? ', interrupted' : ''}, ${stats.total_s}s`,
    );
    return stats.aborted ? 130 : 0;
  },
});

export const run = command.run;
