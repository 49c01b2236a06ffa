// The kernel experiment runner: data folder -> kernels -> dev-selected solver -> one results.jsonl line
// per seed (REFERENCE.md §5, §6, §8).
//
// Per seed: read train/dev/test of <dataDir>/<TASK>/<k>-<seed>/, encode them with the task's prompt
// (prompt output) or `<s> A </s> B </s>` (standard output; the head is first fitted by linear probing on
// the <s> features, §3.5), compute train x train and train x (dev ∪ test) kernels and f0 in one engine
// call (or load them from the cache), select the solver's hyper-parameters on dev over the whole grid
// with the task's selection metric (ties to the first setting in grid order), fit once with the best
// setting, predict dev and test, and append one JSON line.
//
// Resuming: every line carries `config_id`, a hash of everything that determines it (task, k, seed,
// model content, data content as encoded, output, formula, solver, binary, subset, dtype, grid, label
// words, template, linear-probe options, test cap). Seeds whose config_id is already in the output file
// are skipped. Kernels are cached as soon as they are computed, so an interrupted seed restarts at the
// solver step.
import { basename, dirname, join, resolve } from 'node:path';
import { OptionError } from '../errors.js';
import { appendLineAtomic, assertWritableDir, removeStaleTemps } from '../io.js';
import { flatRows, splitColumns } from '../kernels/layout.js';
import { loadModel, type LmModel } from '../model.js';
import { SOLVERS, gridOf, type SolverName } from '../solvers/index.js';
import { FORMULAS, PRECISIONS, SUBSETS, type Kernel } from '../types.js';
import { checkInt, checkNumber, oneOf } from '../validate.js';
import { entryPath, hashJson, kernelCacheKey, writeEntry } from './cache.js';
import { findKernelEntry, kernelKeyMaterial } from './kernelKey.js';
import { resolveGrid } from './grids.js';
import { abortError, resolveExperiment, secs, type Experiment } from './options.js';
import {
  RUNNER_VERSION,
  inputsId,
  loadEncodedSplits,
  prepareModel,
  seedHead,
  type EncodedSplits,
  type SeedHead,
} from './prepare.js';
import type { CacheState, KernelRun, ResultLine, RunOptions, RunStats } from './kernelSpec.js';
import { finishedLines } from './results.js';
import { solveSeed, type SeedSolveResult } from './solveSeed.js';

/** Solvers whose results changed meaning (so that earlier result lines are not taken as finished seeds):
 * logistic is kernel logistic regression with f0 (the former one is logistic-rows), asym fits f0 as an
 * offset (docs/solvers.md). Absent for the others, whose config ids stay. */
const SOLVER_REVISION: Partial<Record<SolverName, number>> = { logistic: 2, asym: 2 };

/** LoRA options of subset 'lora' (and only of it). */
function resolveLora(opts: RunOptions, subset: string): KernelRun['lora'] {
  if (subset !== 'lora') {
    if (opts.lora) throw new OptionError('lora', "no LoRA options unless subset is 'lora'", opts.lora);
    return null;
  }
  if (!opts.lora || typeof opts.lora !== 'object')
    throw new OptionError('lora', "{ r, alpha } for subset 'lora' (the LoRA kernel)", opts.lora);
  const r = checkInt(opts.lora.r, 'lora.r', 1);
  const alpha = checkNumber(opts.lora.alpha, 'lora.alpha', { min: 0, exclusiveMin: true });
  const seed = opts.lora.seed === undefined || opts.lora.seed === null ? null : checkInt(opts.lora.seed, 'lora.seed', 0);
  return { r, alpha, seed };
}

function resolveKernelOptions(opts: RunOptions, x: Experiment) {
  const formula = oneOf(opts.formula, 'formula', FORMULAS, 'sgd');
  const solver = oneOf(opts.solver, 'solver', SOLVERS, 'lstsq');
  const binary = opts.binary ?? false;
  if (typeof binary !== 'boolean') throw new OptionError('binary', 'a boolean', binary);
  if (binary && x.spec.labels.length !== 2)
    throw new OptionError('binary', `false: ${x.task} has ${x.spec.labels.length} labels, binary mode needs 2`, binary);
  if (solver === 'asym' && formula !== 'asymmetric_signgd')
    throw new OptionError('solver', 'asym only with --formula asymmetric_signgd (the asymmetric kernel)', solver);
  if (solver === 'logistic' && formula === 'asymmetric_signgd')
    throw new OptionError(
      'solver',
      'a solver for the asymmetric kernel: logistic needs a symmetric one (sgd, signgd); use asym',
      solver,
    );
  const subset = oneOf(opts.subset, 'subset', SUBSETS, 'all');
  const lora = resolveLora(opts, subset);
  const batchSize = checkInt(opts.batchSize ?? 8, 'batchSize', 1);
  const precision = oneOf(opts.precision, 'precision', PRECISIONS, 'exact');
  const devices = opts.devices ?? [];
  if (!Array.isArray(devices) || !devices.every((d) => typeof d === 'string' && d.trim() !== ''))
    throw new OptionError('devices', "an array of device names ('cpu', 'cuda', 'cuda:N')", devices);
  const gridAxes = resolveGrid(solver, opts.grid);
  // λ = 1 (A.3, the default) predicts with ⟨sign g(train), g(x)⟩ alone: the flip only for a λ ≠ 1
  const flipped = solver === 'asym' && (gridAxes.lambda ?? []).some((l) => l !== 1);
  const cacheDir = opts.cacheDir === null ? null : resolve(opts.cacheDir ?? join(dirname(resolve(opts.out)), '.lmkernel-cache'));
  return {
    formula,
    solver,
    flipped,
    binary,
    subset,
    lora,
    batchSize,
    precision,
    devices,
    gridAxes,
    grid: gridOf(gridAxes),
    cacheDir,
  };
}

/** Validates everything, clears an earlier killed run's temporary files, and prepares the model's inputs. */
async function startKernelRun(opts: RunOptions): Promise<KernelRun> {
  const x = resolveExperiment(opts);
  const k = resolveKernelOptions(opts, x);
  // Temporary files and locks of an earlier run that was killed mid-write (never a truncated target: every
  // writer is write-temp + fsync + rename).
  assertWritableDir(dirname(resolve(opts.out)), opts.out);
  removeStaleTemps(dirname(resolve(opts.out)));
  if (k.cacheDir) removeStaleTemps(k.cacheDir, true);
  const prepared = await prepareModel(x, opts, k.cacheDir ? join(k.cacheDir, 'file-hashes.json') : undefined);
  let model: LmModel | undefined;
  const getModel = async (): Promise<LmModel> => {
    model ??= await loadModel(opts.modelDir, { dtype: x.dtype, device: opts.device, signal: opts.signal });
    return model;
  };
  // Subset 'lora': a fresh copy with LoRA whose A is seeded by lora.seed or the data seed (kept while the
  // seed of A stays the same).
  let loraModel: { seed: number; model: LmModel } | undefined;
  const kernelModel = async (seed: number): Promise<LmModel> => {
    if (!k.lora) return getModel();
    const aSeed = k.lora.seed ?? seed;
    if (loraModel?.seed !== aSeed) {
      const m = await loadModel(opts.modelDir, { dtype: x.dtype, device: opts.device, signal: opts.signal });
      m.applyLora({ r: k.lora.r, alpha: k.lora.alpha, seed: aSeed });
      loraModel = { seed: aSeed, model: m };
    }
    return loraModel.model;
  };
  const progress = opts.progress ?? (() => ({ update: () => {}, stop: () => {} }));
  const modelLoaded = () => model !== undefined || loraModel !== undefined;
  return { ...x, ...k, opts, progress, prepared, getModel, kernelModel, modelLoaded };
}

interface SeedKernels {
  trainTrain: Kernel;
  trainDev: Kernel;
  trainTest: Kernel;
  flipped?: [Kernel, Kernel];
  f0Train: Float64Array;
  f0Eval: Float64Array;
  gradDim: number;
  numOutputs: number;
  cache: CacheState;
  key: string;
}

/** Computes the kernels of one engine call, with the head set first (standard output). */
async function computeKernels(run: KernelRun, e: EncodedSplits, head: SeedHead | null, seed: number) {
  const m = await run.kernelModel(seed);
  if (head) m.setClassifier(head.weight, head.bias);
  const bar = run.progress(`seed ${seed} kernel`);
  try {
    const r = await m.kernels({
      train: e.train,
      test: [...e.dev, ...e.test],
      output: run.output,
      labelWordIds: run.prepared.labelWordIds ?? undefined,
      binary: run.binary,
      formulas: [run.formula],
      asymmetricFlipped: run.flipped,
      subset: run.subset,
      batchSize: run.batchSize,
      precision: run.precision,
      devices: run.devices.length > 1 ? run.devices : undefined,
      onProgress: bar.update,
      signal: run.opts.signal,
    });
    const kk = r.kernels[run.formula]!;
    const arrays: Record<string, Float64Array> = {
      trainTrain: kk.trainTrain.data,
      trainEval: kk.trainTest.data,
      f0Train: flatRows(r.f0Train),
      f0Eval: flatRows(r.f0Test),
    };
    if (kk.trainTestFlipped) arrays.trainEvalFlipped = kk.trainTestFlipped.data;
    return { gradDim: r.gradDim, numOutputs: r.numOutputs, arrays };
  } finally {
    bar.stop();
  }
}

/** The shapes of a seed's cached arrays: kernels [N, C, M, C], f0 [N, C]. */
function entryShapes(arrays: Record<string, Float64Array>, N: number, C: number): Record<string, number[]> {
  const nEval = arrays.f0Eval.length / C;
  return {
    trainTrain: [N, C, N, C],
    trainEval: [N, C, nEval, C],
    ...(arrays.trainEvalFlipped ? { trainEvalFlipped: [N, C, nEval, C] } : {}),
    f0Train: [N, C],
    f0Eval: [nEval, C],
  };
}

/** Train x train and train x (dev ∪ test) kernels and f0 of one seed: from the cache, or computed and cached. */
async function seedKernels(run: KernelRun, e: EncodedSplits, head: SeedHead | null, seed: number): Promise<SeedKernels> {
  const evalInputs = [...e.dev, ...e.test];
  const material = kernelKeyMaterial(run, e, head, seed);
  const path = run.cacheDir ? entryPath(run.cacheDir, 'kernels', kernelCacheKey(material)) : undefined;
  // the entry that serves (its key goes into the results line): the seed's own, or one with the flip
  const { entry, key } = run.cacheDir
    ? findKernelEntry(run.cacheDir, material, (msg) => run.log(`seed ${seed}: ${msg}`))
    : { entry: undefined, key: kernelCacheKey(material) };
  let cache: CacheState = path ? 'miss' : 'off';
  let got: { gradDim: number; numOutputs: number; arrays: Record<string, Float64Array> };
  if (entry) {
    cache = 'hit';
    got = {
      gradDim: entry.meta.gradDim as number,
      numOutputs: (entry.meta.numOutputs ?? entry.meta.numLogits) as number,
      arrays: entry.arrays,
    };
  } else {
    got = await computeKernels(run, e, head, seed);
    if (path) {
      const meta = {
        gradDim: got.gradDim,
        numOutputs: got.numOutputs,
        nTrain: e.train.length,
        nEval: evalInputs.length,
        task: run.task,
        output: run.output,
        formula: run.formula,
        subset: run.subset,
        binary: run.binary,
        dtype: run.dtype,
        keyMaterial: material,
      };
      writeEntry(path, { key, meta, arrays: got.arrays, shapes: entryShapes(got.arrays, e.train.length, got.numOutputs) });
    }
  }
  const [N, C, nDev, nEval] = [e.train.length, got.numOutputs, e.dev.length, evalInputs.length];
  const a = got.arrays;
  const [trainDev, trainTest] = splitColumns({ shape: [N, C, nEval, C], data: a.trainEval }, nDev);
  const flipped =
    run.flipped && a.trainEvalFlipped ? splitColumns({ shape: [N, C, nEval, C], data: a.trainEvalFlipped }, nDev) : undefined;
  const trainTrain: Kernel = { shape: [N, C, N, C], data: a.trainTrain };
  return {
    trainTrain,
    trainDev,
    trainTest,
    flipped,
    f0Train: a.f0Train,
    f0Eval: a.f0Eval,
    gradDim: got.gradDim,
    numOutputs: C,
    cache,
    key,
  };
}

/** The solver step of one seed, with its progress bar. */
async function solveKernels(run: KernelRun, e: EncodedSplits, k: SeedKernels, seed: number): Promise<SeedSolveResult> {
  const nDevOut = e.dev.length * k.numOutputs;
  const bar = run.progress(`seed ${seed} solve`);
  try {
    return await solveSeed({
      task: run.task,
      solver: run.solver,
      binary: run.binary,
      grid: run.grid,
      kernelTrainTrain: k.trainTrain,
      kernelTrainDev: k.trainDev,
      kernelTrainTest: k.trainTest,
      kernelTrainDevFlipped: k.flipped?.[0],
      kernelTrainTestFlipped: k.flipped?.[1],
      f0Train: k.f0Train,
      f0Dev: k.f0Eval.subarray(0, nDevOut),
      f0Test: k.f0Eval.subarray(nDevOut),
      trainLabels: e.trainLabels,
      devLabels: e.devLabels,
      testLabels: e.testLabels,
      signal: run.opts.signal,
      onProgress: bar.update,
    });
  } finally {
    bar.stop();
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;

interface SeedTimes {
  t0: number;
  encode_s: number;
  linear_probe_s: number;
  kernel_s: number;
}

function resultLine(
  run: KernelRun,
  seed: number,
  configId: string,
  e: EncodedSplits,
  k: SeedKernels,
  head: SeedHead | null,
  sr: SeedSolveResult,
  t: SeedTimes,
): ResultLine {
  return {
    version: RUNNER_VERSION,
    time: new Date().toISOString(),
    config_id: configId,
    task: run.task,
    k: run.k,
    seed,
    model: basename(resolve(run.opts.modelDir)),
    model_id: run.prepared.modelId,
    output: run.output,
    formula: run.formula,
    solver: run.solver,
    binary: run.binary,
    subset: run.subset,
    ...(run.lora ? { lora: { r: run.lora.r, alpha: run.lora.alpha, seed: run.lora.seed ?? seed } } : {}),
    dtype: run.dtype,
    metric: sr.metric,
    params: sr.best,
    grid: run.gridAxes,
    grid_size: run.grid.length,
    dev: sr.dev,
    test: sr.test,
    dev_score: sr.devScore,
    test_score: sr.testScore,
    grad_dim: k.gradDim,
    num_outputs: k.numOutputs,
    n_train: e.train.length,
    n_dev: e.dev.length,
    n_test: e.test.length,
    max_test: run.maxTest,
    label_word_ids: run.prepared.labelWordIds,
    kernel_cache: k.cache,
    kernel_key: k.key,
    linear_probe: head ? head.info : null,
    timings: {
      encode_s: t.encode_s,
      linear_probe_s: t.linear_probe_s,
      kernel_s: t.kernel_s,
      select_s: round2(sr.select_s),
      eval_s: round2(sr.eval_s),
      total_s: secs(t.t0),
    },
  };
}

/** One seed from its encoded splits to its appended result line. */
async function runSeed(run: KernelRun, seed: number, e: EncodedSplits, configId: string, t0: number): Promise<ResultLine> {
  const encode_s = secs(t0);
  const tLp = performance.now();
  const head = await seedHead({
    getModel: run.getModel,
    train: e.train,
    trainLabels: e.trainLabels,
    numClasses: run.spec.labels.length,
    options: run.linearProbe,
    cache: run.cacheDir ? { dir: run.cacheDir, modelId: run.prepared.modelId, dtype: run.dtype } : null,
    batchSize: run.batchSize,
    signal: run.opts.signal,
    log: (m) => run.log(`seed ${seed}: ${m}`),
  });
  const linear_probe_s = run.output === 'standard' ? secs(tLp) : 0;
  const tK = performance.now();
  const k = await seedKernels(run, e, head, seed);
  const kernel_s = secs(tK);
  const sr = await solveKernels(run, e, k, seed);
  const line = resultLine(run, seed, configId, e, k, head, sr, { t0, encode_s, linear_probe_s, kernel_s });
  appendLineAtomic(run.opts.out, JSON.stringify(line));
  run.log(
    `seed ${seed}: dev ${sr.metric} ${(sr.devScore * 100).toFixed(1)}, test ${(sr.testScore * 100).toFixed(1)} ` +
      `(${JSON.stringify(sr.best)}; kernels ${k.cache}, ${line.timings.total_s}s)`,
  );
  return line;
}

export async function runKernelExperiment(opts: RunOptions): Promise<RunStats> {
  const tStart = performance.now();
  const run = await startKernelRun(opts);
  const existing = finishedLines<ResultLine>(opts.out);
  const stats: RunStats = { lines: [], seeds: [], skipped: 0, cacheHits: 0, cacheMisses: 0, modelLoaded: false, total_s: 0 };
  for (const seed of run.seeds) {
    if (opts.signal?.aborted) throw abortError(`run interrupted before seed ${seed}`);
    const t0 = performance.now();
    const e = loadEncodedSplits(opts.dataDir, run.spec, run.k, seed, run.prepared.enc, run.output, { maxTest: run.maxTest });
    const configId = hashJson({
      v: RUNNER_VERSION,
      task: run.task,
      k: run.k,
      seed,
      model: run.prepared.modelId,
      mode: run.output,
      formula: run.formula,
      solver: run.solver,
      binary: run.binary,
      subset: run.subset,
      ...(run.lora ? { lora: run.lora } : {}),
      ...(SOLVER_REVISION[run.solver] ? { solverRevision: SOLVER_REVISION[run.solver] } : {}),
      dtype: run.dtype,
      grid: run.gridAxes,
      labelWordIds: run.prepared.labelWordIds,
      template: run.prepared.enc.prompt.template,
      linearProbe: run.linearProbe,
      maxTest: run.maxTest,
      inputs: inputsId(e),
    });
    const prev = existing.get(configId);
    if (prev) {
      run.log(`seed ${seed}: already in ${opts.out}, skipped`);
      stats.skipped++;
      stats.lines.push(prev);
      stats.seeds.push({ seed, status: 'skipped', line: prev });
      continue;
    }
    const line = await runSeed(run, seed, e, configId, t0);
    if (line.kernel_cache === 'hit') stats.cacheHits++;
    else if (line.kernel_cache === 'miss') stats.cacheMisses++;
    existing.set(configId, line);
    stats.lines.push(line);
    stats.seeds.push({ seed, status: 'done', kernelCache: line.kernel_cache, line });
  }
  stats.modelLoaded = run.modelLoaded();
  stats.total_s = secs(tStart);
  return stats;
}
