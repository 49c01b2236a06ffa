// `lmkernel kernel`: eNTK kernels of a model folder for explicit encoded inputs (the contract other
// tools call): IN.json {"train": [...], "test": [...], "label_word_ids": [...]} -> OUT.json in the
// layout of ../shared/fixtures/fixtures-a.json (lib/kernels/file.ts), or OUT.safetensors (float64 tensors
// and the metadata, for numpy/PyTorch: lib/kernels/kernelSet.ts).
import { dirname, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { assertWritableDir, readJsonFile } from '../io.js';
import { kernelInfoOf, kernelSetOf, writeKernelFile } from '../kernels/kernelSet.js';
import { loadModel, type LoraSpec } from '../model.js';
import {
  FORMULAS,
  OUTPUT_KINDS,
  PLANS,
  PRECISIONS,
  SUBSETS,
  type Dtype,
  type EncodedExample,
  type Formula,
  type OutputKind,
  type Subset,
} from '../types.js';
import { isPlainObject } from '../validate.js';
import { flagAsGiven } from './args.js';
import { defineCommand, withInterrupt } from './command.js';
import { KERNEL_DEVICE_FLAG, MODEL_HELP, PRECISION_FLAG, REVISION_FLAG, deviceList, modelArg } from './experimentFlags.js';
import { cliProgressBar } from './progress.js';

interface KernelInput {
  train: EncodedExample[];
  test?: EncodedExample[];
  label_word_ids?: number[];
}

/** Throws an InputError naming the flag (as typed) unless its value is one of `allowed`. */
export function checkChoice<T extends string>(args: object & Record<string, unknown>, name: string, allowed: readonly T[]): T {
  const v = args[name];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
    throw new InputError(flagAsGiven(args, name), `'${String(v)}' is not one of ${allowed.join(', ')}`);
  return v as T;
}

export function parseShard(v: string | undefined): { index: number; count: number } {
  if (v === undefined) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2]))
    throw new InputError('--shard', `'${v}' is not of the form i/n with 0 <= i < n`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

/** The encoded inputs of IN.json: a "train" array, and the label words for the prompt output. */
export function readEncodedInput<T extends { train?: unknown; label_word_ids?: unknown }>(
  path: string,
  what: string,
  output: OutputKind,
  fields: string,
): T {
  const input = readJsonFile(path, what);
  if (!isPlainObject(input) || !Array.isArray(input.train))
    throw new InputError(path, `expected an object with a "train" array (and ${fields})`);
  if (output === 'prompt' && !Array.isArray(input.label_word_ids))
    throw new InputError(path, 'prompt mode needs "label_word_ids" (one token id per label)');
  return input as T;
}

export const command = defineCommand({
  name: 'kernel',
  synopsis: '--model DIR --input IN.json --out OUT.json [options]',
  spec: {
    model: { type: 'string', help: MODEL_HELP, required: true },
    revision: REVISION_FLAG,
    input: {
      type: 'string',
      help: 'IN.json: {"train": [{"input_ids", "mask_pos"}], "test": [...], "label_word_ids": [...]}',
      required: true,
    },
    out: { type: 'string', help: 'OUT.json or OUT.safetensors (format by extension; written atomically)', required: true },
    formula: { type: 'list', help: FORMULAS.join(','), default: ['sgd'] },
    flipped: {
      type: 'boolean',
      help: "with asymmetric_signgd: also its flipped train x test kernel <g(train), sign g(x)> (the asym solver's lambda != 1)",
    },
    output: { type: 'string', help: OUTPUT_KINDS.join(' | '), default: 'prompt', aliases: ['mode'] },
    binary: { type: 'boolean', help: 'one output: logit1 - logit0' },
    subset: { type: 'string', help: SUBSETS.join(' | '), default: 'all' },
    dtype: { type: 'string', help: 'float32 | float64', default: 'float32' },
    'tie-word-embeddings': { type: 'boolean', help: 'tie the MLM decoder to the word embeddings' },
    device: KERNEL_DEVICE_FLAG,
    precision: PRECISION_FLAG,
    plan: { type: 'string', help: `${PLANS.join(' | ')}: the engine's plan (gpu runs the GPU's on any device)`, default: 'auto' },
    'batch-size': { type: 'number', help: 'sequences per forward/backward batch', default: 8 },
    lora: { type: 'string', help: 'LORA.json {"r", "alpha", "targets", "A": {name: matrix}} (with --subset lora)' },
    'train-tile': {
      type: 'number',
      help: 'training examples stored at once (0 = all); smaller tiles bound memory, exactly',
      default: 0,
    },
    shard: {
      type: 'string',
      help: 'i/n: compute the tiles t with t % n == i into OUT.json; `lmkernel merge` assembles the n files',
    },
  },
  async run(args) {
    assertWritableDir(dirname(resolve(args.out)), args.out); // fail now, not after the computation
    for (const f of args.formula)
      if (!(FORMULAS as readonly string[]).includes(f))
        throw new InputError('--formula', `'${f}' is not one of ${FORMULAS.join(', ')}`);
    if (args.flipped && !args.formula.includes('asymmetric_signgd'))
      throw new InputError('--flipped', 'the flipped kernel is part of --formula asymmetric_signgd: add that formula');
    const output = checkChoice(args, 'output', OUTPUT_KINDS);
    const input = readEncodedInput<KernelInput>(args.input, 'kernel input', output, '"test", "label_word_ids"');
    const shard = parseShard(args.shard);
    const precision = checkChoice(args, 'precision', PRECISIONS);
    const plan = checkChoice(args, 'plan', PLANS);
    const { device, devices } = deviceList(args.device);
    const model = await loadModel((await modelArg(args.model, args.revision)).dir, {
      dtype: args.dtype as Dtype,
      tieWordEmbeddings: !!args['tie-word-embeddings'],
      device,
    });
    if (args.lora) model.applyLora(readJsonFile(args.lora, 'LoRA spec') as LoraSpec);
    const bar = cliProgressBar('kernel');
    const res = await withInterrupt((signal) =>
      model.kernels({
        train: input.train,
        test: input.test ?? [],
        output,
        labelWordIds: output === 'prompt' ? input.label_word_ids : undefined,
        binary: !!args.binary,
        formulas: args.formula as Formula[],
        asymmetricFlipped: !!args.flipped,
        subset: args.subset as Subset,
        batchSize: args['batch-size'],
        trainTile: args['train-tile'],
        shard,
        precision,
        plan,
        devices,
        onProgress: bar.update,
        signal,
      }),
    ).finally(() => bar.stop());
    const info = kernelInfoOf(model.dir, { output, binary: !!args.binary, subset: args.subset, dtype: args.dtype });
    writeKernelFile(args.out, kernelSetOf(res, { ...info, label_word_ids: output === 'prompt' ? input.label_word_ids : null }));
    console.error(
      `kernel: ${args.formula.join(', ')} for ${res.nTrain} train x ${res.nTest} test, grad_dim ${res.gradDim} -> ${args.out}`,
    );
    return 0;
  },
});

export const run = command.run;
