// `lmkernel kernel`: eNTK kernels of a model folder for explicit encoded inputs (the contract other
// tools call): IN.json {"train": [...], "test": [...], "label_word_ids": [...]} -> OUT.json in the
// layout of ../shared/fixtures/fixtures-a.json.
import { InputError } from '../errors.js';
import { dirname, resolve } from 'node:path';
import { assertWritableDir, readJsonFile, writeFileAtomic } from '../io.js';
import { loadModel, kernelToNested, FORMULAS, SUBSETS, type Formula, type EncodedExample, type Subset } from '../model.js';
import { cliProgressBar } from '../progress.js';
import { helpText, parseArgs, requireFlag, type FlagSpec } from './args.js';

const SPEC: FlagSpec = {
  model: { type: 'string', help: 'model folder: config.json + model.safetensors' },
  input: { type: 'string', help: 'IN.json: {"train": [{"input_ids", "mask_pos"}], "test": [...], "label_word_ids": [...]}' },
  out: { type: 'string', help: 'OUT.json (written atomically)' },
  formula: { type: 'list', help: 'sgd,signgd,asymmetric_signgd', default: ['sgd'] },
  mode: { type: 'string', help: 'prompt | standard', default: 'prompt' },
  binary: { type: 'boolean', help: 'one output: logit1 - logit0' },
  subset: { type: 'string', help: SUBSETS.join(' | '), default: 'all' },
  dtype: { type: 'string', help: 'float32 | float64', default: 'float32' },
  'tie-word-embeddings': { type: 'boolean', help: 'tie the MLM decoder to the word embeddings' },
  device: { type: 'string', help: 'cpu | cuda | cuda:N', default: 'cpu' },
  'batch-size': { type: 'number', help: 'sequences per forward/backward batch', default: 8 },
  lora: { type: 'string', help: 'LORA.json {"r", "alpha", "targets", "A": {name: matrix}} (with --subset lora)' },
  'train-tile': { type: 'number', help: 'training examples stored at once (0 = all); smaller tiles bound memory, exactly', default: 0 },
  shard: { type: 'string', help: 'i/n: compute the tiles t with t % n == i into OUT.json; `lmkernel merge` assembles the n files' },
};

export function parseShard(v: string | undefined): { index: number; count: number } {
  if (v === undefined) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2]))
    throw new InputError('--shard', `'${v}' is not of the form i/n with 0 <= i < n`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC, 'kernel');
  if (args.help) {
    console.log(helpText('kernel', '--model DIR --input IN.json --out OUT.json [options]', SPEC));
    return 0;
  }
  const modelDir = requireFlag<string>(args, 'model', 'kernel');
  const inPath = requireFlag<string>(args, 'input', 'kernel');
  const outPath = requireFlag<string>(args, 'out', 'kernel');
  assertWritableDir(dirname(resolve(outPath)), outPath); // fail now, not after the computation
  const formulas = args.formula as string[];
  for (const f of formulas)
    if (!FORMULAS.includes(f as Formula)) throw new InputError('--formula', `'${f}' is not one of ${FORMULAS.join(', ')}`);
  const mode = args.mode as string;
  if (mode !== 'prompt' && mode !== 'standard') throw new InputError('--mode', `'${mode}' is not one of prompt, standard`);
  const input = readJsonFile(inPath, 'kernel input') as { train?: EncodedExample[]; test?: EncodedExample[]; label_word_ids?: number[] };
  if (typeof input !== 'object' || input === null || !Array.isArray(input.train))
    throw new InputError(inPath, 'expected an object with a "train" array (and "test", "label_word_ids")');
  if (mode === 'prompt' && !Array.isArray(input.label_word_ids))
    throw new InputError(inPath, 'prompt mode needs "label_word_ids" (one token id per label)');

  const shard = parseShard(args.shard as string | undefined);
  const model = await loadModel(modelDir, {
    dtype: args.dtype as 'float32' | 'float64',
    tieWordEmbeddings: !!args['tie-word-embeddings'],
    device: args.device as string,
  });
  if (args.lora) {
    const spec = readJsonFile(args.lora as string, 'LoRA spec') as { r: number; alpha: number; targets?: string[]; A?: Record<string, number[][]> };
    model.applyLora(spec);
  }
  const bar = cliProgressBar('kernel');
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  let res;
  try {
    res = await model.kernels({
      train: input.train,
      test: input.test ?? [],
      output: mode,
      labelWordIds: mode === 'prompt' ? input.label_word_ids : undefined,
      binary: !!args.binary,
      formulas: formulas as Formula[],
      subset: args.subset as Subset,
      batchSize: args['batch-size'] as number,
      trainTile: args['train-tile'] as number,
      shard,
      onProgress: bar.update,
      signal: ac.signal,
    });
  } finally {
    bar.stop();
    process.removeListener('SIGINT', onSig);
  }
  const kernels: Record<string, Record<string, unknown>> = {};
  for (const f of formulas as Formula[]) {
    const k = res.kernels[f]!;
    kernels[f] = { train_train: kernelToNested(k.trainTrain), train_test: kernelToNested(k.trainTest) };
    if (k.trainTestFlipped) kernels[f].train_test_flipped = kernelToNested(k.trainTestFlipped);
  }
  const out = {
    grad_dim: res.gradDim,
    num_logits: res.numLogits,
    param_names: res.paramNames,
    f0_train: res.f0Train,
    f0_test: res.f0Test,
    kernels,
    tiling: {
      tile_size: res.tiling.tileSize,
      num_tiles: res.tiling.numTiles,
      tiles: res.tiling.tiles,
      shard: res.tiling.shard,
      n_train: res.nTrain,
      n_test: res.nTest,
    },
  };
  writeFileAtomic(outPath, JSON.stringify(out));
  console.error(`kernel: ${formulas.join(', ')} for ${res.nTrain} train x ${res.nTest} test, grad_dim ${res.gradDim} -> ${outPath}`);
  return 0;
}
