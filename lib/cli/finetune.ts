// `lmkernel finetune`: fine-tune a model folder on explicit encoded inputs and measure kernel behaviour
// (the contract other tools call): IN.json {"train": [...], "test": [...], "label_word_ids": [...],
// "train_labels": [...]} (+ optional "dev", "dev_labels", "test_labels") -> OUT.json with "test_logits",
// "linearized_test_logits" (--linearize) and "train_kernel_relative_distance" (--kernel-distance; with
// --kernel-distance-formula sgd, the default, also under its first name "train_sgd_kernel_relative_distance").
import { dirname, resolve } from 'node:path';
import { InputError } from '../errors.js';
import {
  checkDropout,
  finetune,
  DEV_METRICS,
  OPTIMIZERS,
  type DevMetric,
  type FinetuneResult,
  type Optimizer,
  type Trainable,
} from '../finetune.js';
import { assertWritableDir, readJsonFile, writeFileAtomic } from '../io.js';
import { accuracy } from '../metrics.js';
import { loadModel, type LmModel, type LoraSpec } from '../model.js';
import { argmaxRows } from '../stats.js';
import {
  FORMULAS,
  OUTPUT_KINDS,
  SUBSETS,
  type Dtype,
  type Formula,
  type EncodedExample,
  type ProgressFn,
  type Subset,
} from '../types.js';
import { isPlainObject } from '../validate.js';
import { defineCommand, withInterrupt, type CommandArgs } from './command.js';
import { MODEL_HELP, REVISION_FLAG, modelArg } from './experimentFlags.js';
import { checkChoice, readEncodedInput } from './kernel.js';

interface FinetuneInput {
  train: EncodedExample[];
  train_labels?: number[];
  dev?: EncodedExample[];
  dev_labels?: number[];
  test?: EncodedExample[];
  test_labels?: number[];
  label_word_ids?: number[];
}

const SPEC = {
  model: { type: 'string', help: MODEL_HELP, required: true },
  revision: REVISION_FLAG,
  input: {
    type: 'string',
    help: 'IN.json: {"train": [{"input_ids", "mask_pos"}], "train_labels": [...], "test": [...], "label_word_ids": [...]}',
    required: true,
  },
  out: { type: 'string', help: 'OUT.json (written atomically)', required: true },
  optimizer: { type: 'string', help: OPTIMIZERS.join(' | '), required: true },
  lr: { type: 'number', help: 'peak learning rate (linear decay to 0, no warm-up)', required: true },
  steps: { type: 'number', help: 'number of updates', required: true },
  'batch-size': { type: 'number', help: 'examples per step (default: all training examples, in order)' },
  'max-grad-norm': { type: 'number', help: 'clip the gradient to this total norm; 0: no clipping', default: 1.0 },
  'weight-decay': { type: 'number', help: 'weight decay (decoupled for adam); never on biases / LayerNorm weights', default: 0 },
  linearize: { type: 'boolean', help: 'also write "linearized_test_logits" = f(θ0) + ∇f(θ0)·(θ1 − θ0)' },
  'kernel-distance': { type: 'boolean', help: 'also write "train_kernel_relative_distance" = ‖K(θ1) − K(θ0)‖/‖K(θ0)‖' },
  'kernel-distance-formula': {
    type: 'string',
    help: `${FORMULAS.join(' | ')}: the eNTK of --kernel-distance (paper Table 7: the optimizer's analog)`,
    default: 'sgd',
  },
  dropout: { type: 'number', help: "hidden and attention dropout of the training steps (LM-BFF's 0.1; default 0)", default: 0 },
  dtype: { type: 'string', help: 'float32 | float64', default: 'float32' },
  output: { type: 'string', help: OUTPUT_KINDS.join(' | '), default: 'prompt', aliases: ['mode'] },
  lora: {
    type: 'string',
    help: 'LORA.json {"r", "alpha", "targets"?, "A"?: {name: matrix}, "B"?, "seed"?}: apply LoRA, train LoRA + heads',
  },
  trainable: {
    type: 'string',
    help: `${SUBSETS.join(' | ')} | comma-separated parameter names (default: all; lora with --lora)`,
  },
  'eval-every': { type: 'number', help: 'evaluate on IN.json "dev" every N steps and keep the best state' },
  metric: { type: 'string', help: `dev metric: ${DEV_METRICS.join(' | ')}`, default: 'accuracy' },
  seed: { type: 'number', help: 'seed of the batch sampler', default: 42 },
  'tie-word-embeddings': { type: 'boolean', help: 'tie the MLM decoder to the word embeddings' },
  device: { type: 'string', help: 'cpu | cuda | cuda:N', default: 'cpu' },
} as const;

type Args = CommandArgs<typeof SPEC>;

/** Applies --lora and resolves --trainable (default all; lora with --lora). */
function trainableOf(model: LmModel, args: Args): Trainable {
  let trainable: Trainable = 'all';
  if (args.lora) {
    const spec = readJsonFile(args.lora, 'LoRA spec');
    if (!isPlainObject(spec)) throw new InputError(args.lora, 'expected an object {"r", "alpha", ...}');
    model.applyLora(spec as unknown as LoraSpec);
    trainable = 'lora';
  }
  if (args.trainable === undefined) return trainable;
  const t = args.trainable;
  return (SUBSETS as readonly string[]).includes(t)
    ? (t as Subset)
    : t
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
}

/** A one-line progress counter on a terminal (none otherwise); `end` closes its line. */
function lineProgress(): { update?: ProgressFn; end(): void } {
  if (!process.stderr.isTTY) return { end: () => {} };
  let lastShown = 0;
  return {
    update: (phase, done, total) => {
      const now = Date.now();
      if (now - lastShown < 200 && done < total) return;
      lastShown = now;
      process.stderr.write(`\rlmkernel finetune: ${phase} ${done}/${total}   `);
    },
    end: () => {
      if (lastShown > 0) process.stderr.write('\n');
    },
  };
}

/** Accuracy of the argmax of `logits` when the labels fit them. */
function accuracyIfLabelled(logits: number[][] | undefined, labels: number[] | undefined): number | undefined {
  if (!logits || !Array.isArray(labels) || labels.length !== logits.length) return undefined;
  return labels.length ? accuracy(argmaxRows(logits), labels) : 0;
}

/** OUT.json: the outputs and measurements, the training record and the configuration. */
function outputFile(res: FinetuneResult, input: FinetuneInput, args: Args, trainable: Trainable): Record<string, unknown> {
  const optional = {
    test_logits: res.testLogits,
    linearized_test_logits: res.linearizedTestLogits,
    train_kernel_relative_distance: res.trainKernelRelativeDistance,
    train_test_kernel_relative_distance: res.trainTestKernelRelativeDistance,
    kernel_distance_formula: res.kernelDistanceFormula,
    ...(res.kernelDistanceFormula === 'sgd'
      ? {
          train_sgd_kernel_relative_distance: res.trainKernelRelativeDistance,
          train_test_sgd_kernel_relative_distance: res.trainTestKernelRelativeDistance,
        }
      : {}),
    test_accuracy: accuracyIfLabelled(res.testLogits, input.test_labels),
    linearized_test_accuracy: accuracyIfLabelled(res.linearizedTestLogits, input.test_labels),
  };
  const out: Record<string, unknown> = Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined));
  Object.assign(out, {
    train_loss: res.trainLoss,
    grad_norm: res.gradNorm,
    clip_coef: res.clipCoef,
    dev_history: res.devHistory,
    best_step: res.bestStep,
    steps: res.steps,
  });
  if (res.aborted) out.aborted = true;
  out.config = {
    optimizer: args.optimizer,
    lr: args.lr,
    steps: args.steps,
    batch_size: args['batch-size'] ?? null,
    max_grad_norm: args['max-grad-norm'],
    weight_decay: args['weight-decay'],
    output: args.output,
    dtype: args.dtype,
    seed: args.seed,
    trainable,
    eval_every: args['eval-every'] ?? null,
    dropout: args.dropout,
    metric: args.metric,
    lora: args.lora ?? null,
  };
  return out;
}

export const command = defineCommand({
  name: 'finetune',
  synopsis: '--model DIR --input IN.json --out OUT.json --optimizer sgd|adam|signgd --lr X --steps N [options]',
  notes:
    "With --steps 1 and no --batch-size this is one full-batch step (the fixtures' setting).\n" +
    'A diverging run (non-finite loss) exits with status 1 and writes nothing; Ctrl-C writes the partial run marked "aborted".',
  spec: SPEC,
  async run(args) {
    assertWritableDir(dirname(resolve(args.out)), args.out); // fail now, not after the computation
    const optimizer = checkChoice<Optimizer>(args, 'optimizer', OPTIMIZERS);
    const output = checkChoice(args, 'output', OUTPUT_KINDS);
    const dtype = checkChoice<Dtype>(args, 'dtype', ['float32', 'float64']);
    const input = readEncodedInput<FinetuneInput>(
      args.input,
      'fine-tuning input',
      output,
      '"train_labels", "test", "label_word_ids"',
    );
    if (!Array.isArray(input.train_labels))
      throw new InputError(args.input, '"train_labels" (one label index per training example) is required');
    const modelDir = (await modelArg(args.model, args.revision)).dir;
    const model = await loadModel(modelDir, { dtype, tieWordEmbeddings: !!args['tie-word-embeddings'], device: args.device });
    const trainable = trainableOf(model, args);
    const progress = lineProgress();
    const res = await withInterrupt((signal) =>
      finetune(model, {
        train: input.train,
        trainLabels: input.train_labels!,
        dev: input.dev,
        devLabels: input.dev_labels,
        test: input.test ?? [],
        output,
        labelWordIds: output === 'prompt' ? input.label_word_ids : undefined,
        optimizer,
        lr: args.lr,
        steps: args.steps,
        batchSize: args['batch-size'],
        maxGradNorm: args['max-grad-norm'],
        weightDecay: args['weight-decay'],
        evalEvery: args['eval-every'],
        metric: args.metric as DevMetric,
        seed: args.seed,
        trainable,
        linearize: !!args.linearize,
        kernelDistance: !!args['kernel-distance'],
        kernelDistanceFormula: checkChoice<Formula>(args, 'kernel-distance-formula', FORMULAS),
        dropout: checkDropout(args.dropout, '--dropout'),
        signal,
        onProgress: progress.update,
      }),
    ).finally(() => progress.end());
    writeFileAtomic(args.out, JSON.stringify(outputFile(res, input, args, trainable)) + '\n');
    const loss =
      res.trainLoss.length > 1
        ? `, batch loss ${res.trainLoss[0].toPrecision(4)} -> ${res.trainLoss[res.trainLoss.length - 1].toPrecision(4)}`
        : '';
    console.error(
      `lmkernel finetune: ${optimizer} lr ${args.lr}, ${res.steps}/${args.steps} step(s)${loss}${res.aborted ? ' (aborted: partial run)' : ''}; wrote ${args.out}`,
    );
    return res.aborted ? 130 : 0;
  },
});

export const run = command.run;
