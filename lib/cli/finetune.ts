// `lmkernel finetune`: fine-tune a model folder on explicit encoded inputs and measure kernel behaviour
// (the contract other tools call): IN.json {"train": [...], "test": [...], "label_word_ids": [...],
// "train_labels": [...]} (+ optional "dev", "dev_labels", "test_labels") -> OUT.json with "test_logits",
// "linearized_test_logits" (--linearize) and "train_sgd_kernel_relative_distance" (--kernel-distance).
import { InputError, LmkError } from '../errors.js';
import { dirname, resolve } from 'node:path';
import { assertWritableDir, readJsonFile, writeFileAtomic } from '../io.js';
import { loadModel, SUBSETS, type EncodedExample, type Subset } from '../model.js';
import { finetune, DEV_METRICS, OPTIMIZERS, type DevMetric, type Optimizer, type Trainable } from '../finetune.js';
import { helpText, parseArgs, requireFlag, type FlagSpec } from './args.js';

const COMMAND = 'finetune';

const SPEC: FlagSpec = {
  model: { type: 'string', help: 'model folder: config.json + model.safetensors' },
  input: { type: 'string', help: 'IN.json: {"train": [{"input_ids", "mask_pos"}], "train_labels": [...], "test": [...], "label_word_ids": [...]}' },
  out: { type: 'string', help: 'OUT.json (written atomically)' },
  optimizer: { type: 'string', help: OPTIMIZERS.join(' | ') },
  lr: { type: 'number', help: 'peak learning rate (linear decay to 0, no warm-up)' },
  steps: { type: 'number', help: 'number of updates' },
  'batch-size': { type: 'number', help: 'examples per step (default: all training examples, in order)' },
  'max-grad-norm': { type: 'number', help: 'clip the gradient to this total norm; 0: no clipping', default: 1.0 },
  'weight-decay': { type: 'number', help: 'weight decay (decoupled for adam); never on biases / LayerNorm weights', default: 0 },
  linearize: { type: 'boolean', help: 'also write "linearized_test_logits" = f(θ0) + ∇f(θ0)·(θ1 − θ0)' },
  'kernel-distance': { type: 'boolean', help: 'also write "train_sgd_kernel_relative_distance" = ‖K(θ1) − K(θ0)‖/‖K(θ0)‖' },
  dtype: { type: 'string', help: 'float32 | float64', default: 'float32' },
  mode: { type: 'string', help: 'prompt | standard', default: 'prompt' },
  lora: { type: 'string', help: 'LORA.json {"r", "alpha", "targets"?, "A"?: {name: matrix}, "B"?, "seed"?}: apply LoRA, train LoRA + heads' },
  trainable: { type: 'string', help: `${SUBSETS.join(' | ')} | comma-separated parameter names (default: all; lora with --lora)` },
  'eval-every': { type: 'number', help: 'evaluate on IN.json "dev" every N steps and keep the best state' },
  metric: { type: 'string', help: `dev metric: ${DEV_METRICS.join(' | ')}`, default: 'accuracy' },
  seed: { type: 'number', help: 'seed of the batch sampler', default: 42 },
  'tie-word-embeddings': { type: 'boolean', help: 'tie the MLM decoder to the word embeddings' },
  device: { type: 'string', help: 'cpu | cuda | cuda:N', default: 'cpu' },
};

const SYNOPSIS = '--model DIR --input IN.json --out OUT.json --optimizer sgd|adam|signgd --lr X --steps N [options]';

interface FinetuneInput {
  train?: EncodedExample[];
  train_labels?: number[];
  dev?: EncodedExample[];
  dev_labels?: number[];
  test?: EncodedExample[];
  test_labels?: number[];
  label_word_ids?: number[];
}

function argmaxAccuracy(logits: number[][], labels: number[]): number {
  let ok = 0;
  logits.forEach((row, i) => {
    let k = 0;
    for (let c = 1; c < row.length; c++) if (row[c] > row[k]) k = c;
    if (k === labels[i]) ok++;
  });
  return labels.length ? ok / labels.length : 0;
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC, COMMAND);
  if (args.help) {
    console.log(
      helpText(COMMAND, SYNOPSIS, SPEC) +
        '\n\nWith --steps 1 and no --batch-size this is one full-batch step (the fixtures\' setting).' +
        '\nA diverging run (non-finite loss) exits with status 1 and writes nothing; Ctrl-C writes the partial run marked "aborted".',
    );
    return 0;
  }
  const modelDir = requireFlag<string>(args, 'model', COMMAND);
  const inPath = requireFlag<string>(args, 'input', COMMAND);
  const outPath = requireFlag<string>(args, 'out', COMMAND);
  assertWritableDir(dirname(resolve(outPath)), outPath); // fail now, not after the computation
  const optimizer = requireFlag<string>(args, 'optimizer', COMMAND);
  if (!OPTIMIZERS.includes(optimizer as Optimizer)) throw new InputError('--optimizer', `'${optimizer}' is not one of ${OPTIMIZERS.join(', ')}`);
  const lr = requireFlag<number>(args, 'lr', COMMAND);
  const steps = requireFlag<number>(args, 'steps', COMMAND);
  const mode = args.mode as string;
  if (mode !== 'prompt' && mode !== 'standard') throw new InputError('--mode', `'${mode}' is not one of prompt, standard`);
  const dtype = args.dtype as string;
  if (dtype !== 'float32' && dtype !== 'float64') throw new InputError('--dtype', `'${dtype}' is not one of float32, float64`);
  if (args._.length > 0) throw new LmkError(`${COMMAND}: unexpected argument(s) ${args._.map((x) => `'${x}'`).join(' ')}`);

  const input = readJsonFile(inPath, 'fine-tuning input') as FinetuneInput;
  if (typeof input !== 'object' || input === null || Array.isArray(input) || !Array.isArray(input.train))
    throw new InputError(inPath, 'expected an object with a "train" array (and "train_labels", "test", "label_word_ids")');
  if (!Array.isArray(input.train_labels)) throw new InputError(inPath, '"train_labels" (one label index per training example) is required');
  if (mode === 'prompt' && !Array.isArray(input.label_word_ids))
    throw new InputError(inPath, 'prompt mode needs "label_word_ids" (one token id per label)');

  const model = await loadModel(modelDir, {
    dtype: dtype as 'float32' | 'float64',
    tieWordEmbeddings: !!args['tie-word-embeddings'],
    device: args.device as string,
  });
  let trainable: Trainable = 'all';
  if (args.lora) {
    const spec = readJsonFile(args.lora as string, 'LoRA spec') as Parameters<typeof model.applyLora>[0];
    if (typeof spec !== 'object' || spec === null) throw new InputError(args.lora as string, 'expected an object {"r", "alpha", ...}');
    model.applyLora(spec);
    trainable = 'lora';
  }
  if (args.trainable !== undefined) {
    const t = String(args.trainable);
    trainable = (SUBSETS as readonly string[]).includes(t) ? (t as Subset) : t.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  }

  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  let lastShown = 0;
  const tty = process.stderr.isTTY;
  let res;
  try {
    res = await finetune(model, {
      train: input.train,
      trainLabels: input.train_labels,
      dev: input.dev,
      devLabels: input.dev_labels,
      test: input.test ?? [],
      output: mode,
      labelWordIds: mode === 'prompt' ? input.label_word_ids : undefined,
      optimizer: optimizer as Optimizer,
      lr,
      steps,
      batchSize: args['batch-size'] as number | undefined,
      maxGradNorm: args['max-grad-norm'] as number,
      weightDecay: args['weight-decay'] as number,
      evalEvery: args['eval-every'] as number | undefined,
      metric: args.metric as DevMetric,
      seed: args.seed as number,
      trainable,
      linearize: !!args.linearize,
      kernelDistance: !!args['kernel-distance'],
      signal: ac.signal,
      onProgress: tty
        ? (phase, done, total) => {
            const now = Date.now();
            if (now - lastShown < 200 && done < total) return;
            lastShown = now;
            process.stderr.write(`\rlmkernel finetune: ${phase} ${done}/${total}   `);
          }
        : undefined,
    });
  } finally {
    process.removeListener('SIGINT', onSig);
    if (tty && lastShown > 0) process.stderr.write('\n');
  }

  const out: Record<string, unknown> = {};
  if (res.testLogits) out.test_logits = res.testLogits;
  if (res.linearizedTestLogits) out.linearized_test_logits = res.linearizedTestLogits;
  if (res.trainSgdKernelRelativeDistance !== undefined) out.train_sgd_kernel_relative_distance = res.trainSgdKernelRelativeDistance;
  if (res.trainTestSgdKernelRelativeDistance !== undefined) out.train_test_sgd_kernel_relative_distance = res.trainTestSgdKernelRelativeDistance;
  if (res.testLogits && Array.isArray(input.test_labels) && input.test_labels.length === res.testLogits.length)
    out.test_accuracy = argmaxAccuracy(res.testLogits, input.test_labels);
  if (res.linearizedTestLogits && Array.isArray(input.test_labels) && input.test_labels.length === res.linearizedTestLogits.length)
    out.linearized_test_accuracy = argmaxAccuracy(res.linearizedTestLogits, input.test_labels);
  out.train_loss = res.trainLoss;
  out.grad_norm = res.gradNorm;
  out.clip_coef = res.clipCoef;
  out.dev_history = res.devHistory;
  out.best_step = res.bestStep;
  out.steps = res.steps;
  if (res.aborted) out.aborted = true;
  out.config = {
    optimizer, lr, steps, batch_size: args['batch-size'] ?? null, max_grad_norm: args['max-grad-norm'], weight_decay: args['weight-decay'],
    mode, dtype, seed: args.seed, trainable, eval_every: args['eval-every'] ?? null, metric: args.metric, lora: args.lora ?? null,
  };
  writeFileAtomic(outPath, JSON.stringify(out) + '\n');
  console.error(
    `lmkernel finetune: ${optimizer} lr ${lr}, ${res.steps}/${steps} step(s)` +
      (res.trainLoss.length > 1 ? `, batch loss ${res.trainLoss[0].toPrecision(4)} -> ${res.trainLoss[res.trainLoss.length - 1].toPrecision(4)}` : '') +
      (res.aborted ? ' (aborted: partial run)' : '') +
      `; wrote ${outPath}`,
  );
  return res.aborted ? 130 : 0;
}
