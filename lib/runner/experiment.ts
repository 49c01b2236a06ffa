// The kernel experiment runner: data folder -> kernels -> dev-selected solver -> one results.jsonl line
// per seed (REFERENCE.md §5, §6, §8).
//
// Per seed: read train/dev/test of <dataDir>/<TASK>/<k>-<seed>/ (test may live once in <TASK>/), encode
// with the task's prompt (prompt mode) or `<s> A </s> B </s>` (standard mode; the head is first fitted by
// linear probing on the <s> features, §3.5), compute train x train and train x (dev ∪ test) kernels and
// f0 in one engine call (or load them from the cache), select the solver's hyper-parameters on dev over
// the whole grid with the task's selection metric (ties to the first setting in grid order), fit once
// with the best setting and predict dev and test, and append one JSON line.
//
// Resuming: every line carries `config_id`, a hash of everything that determines it (task, k, seed,
// model content, data content as encoded, mode, formula, solver, binary, subset, dtype, grid, label
// words, template, linear-probe options, test cap). Seeds whose config_id is already in the output file
// are skipped. Kernels are cached as soon as they are computed, so an interrupted seed restarts at the
// solver step.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError, OptionError } from '../errors.js';
import { appendLineAtomic, assertWritableDir, removeStaleTemps, writeFileAtomic } from '../io.js';
import { computeMetrics, selectionMetric, type Metrics } from '../metrics.js';
import { FORMULAS, SUBSETS, loadModel, type Dtype, type EncodedExample, type Formula, type Kernel, type LmModel, type OutputMode, type Subset } from '../model.js';
import { packageRoot, type ProgressFn } from '../native.js';
import { encodeExamples, loadTokenizer, taskEncoder, taskName } from '../prompts/index.js';
import { SOLVERS, gridOf, selectOnDev, solve, type SolverName, type SolverParams } from '../solvers/index.js';
import { getTask, readSplit } from '../tasks/index.js';
import type { Tokenizer } from '../tokenizer.js';
import { entryPath, fileSha256, hashFloat64, hashJson, readEntry, sha256, writeEntry } from './cache.js';
import { concatColumns, flatRows, splitColumns } from './kernels.js';
import { linearProbe, type LinearProbeOptions } from './linearProbe.js';

/** Bump when the meaning of cached values or of result lines changes. */
export const RUNNER_VERSION = 1;

export type GridAxes = { [K in 'kernelRegularization' | 'f0Scaling' | 'C' | 'epsilon' | 'gamma' | 'lambda']?: number[] };
export type GridAxis = keyof GridAxes;

/** The hyper-parameters each solver takes, in grid order (first varies slowest). */
export const SOLVER_AXES: Readonly<Record<SolverName, readonly GridAxis[]>> = {
  lstsq: ['kernelRegularization', 'f0Scaling'],
  logistic: ['kernelRegularization', 'C'],
  svr: ['kernelRegularization', 'f0Scaling', 'C', 'epsilon'],
  svc: ['kernelRegularization', 'C'],
  asym: ['kernelRegularization', 'f0Scaling', 'gamma', 'lambda'],
};

const decades = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, i) => Number(`1e${lo + i}`));

/** Default grids (the paper's grids are not recoverable from the reference code, REFERENCE.md §6.7). */
export const DEFAULT_GRIDS: Readonly<Record<SolverName, GridAxes>> = {
  lstsq: { kernelRegularization: [0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1], f0Scaling: [0, 1, 10, 100, 1000] },
  logistic: { kernelRegularization: [0], C: decades(-4, 4) },
  svr: { kernelRegularization: [0], f0Scaling: [0, 1, 10, 100], C: [0.01, 0.1, 1, 10, 100], epsilon: [0.1] },
  svc: { kernelRegularization: [0], C: [0.01, 0.1, 1, 10, 100] },
  asym: { kernelRegularization: [0], f0Scaling: [0, 1, 10, 100], gamma: [0.1, 1, 10], lambda: [0, 0.25, 0.5, 0.75, 1] },
};

/** The grid axes actually used: the user's axes replace the defaults; axes a solver does not take are errors. */
export function resolveGrid(solver: SolverName, axes: GridAxes = {}): GridAxes {
  const allowed = SOLVER_AXES[solver];
  const out: GridAxes = {};
  for (const [k, v] of Object.entries(axes) as [GridAxis, number[] | undefined][]) {
    if (v === undefined) continue;
    if (!allowed.includes(k)) throw new OptionError(`grid.${k}`, `only ${allowed.join(', ')} for solver '${solver}'`, v);
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x)))
      throw new OptionError(`grid.${k}`, 'a non-empty list of finite numbers', v);
  }
  for (const k of allowed) out[k] = [...(axes[k] ?? DEFAULT_GRIDS[solver][k]!)];
  return out;
}

export interface RunProgress {
  update: ProgressFn;
  stop(): void;
}

export interface RunOptions {
  task: string;
  k: number;
  seeds: number[];
  /** Folder holding <TASK>/<k>-<seed>/ (e.g. data/k-shot-1k-test). */
  dataDir: string;
  /** Model folder: config.json + model.safetensors. */
  modelDir: string;
  /** Tokenizer folder (default: the model folder). */
  tokenizerDir?: string;
  mode?: OutputMode;
  formula?: Formula;
  solver?: SolverName;
  /** One output logit1 - logit0 (2-class tasks only). */
  binary?: boolean;
  /** Hyper-parameter grid (per solver defaults in DEFAULT_GRIDS). */
  grid?: GridAxes;
  subset?: Subset;
  dtype?: Dtype;
  device?: string;
  batchSize?: number;
  /** Cache folder for kernels, f0 and linear-probe heads; null disables the cache. Default: `<dir of out>/.lmkernel-cache`. */
  cacheDir?: string | null;
  /** results.jsonl (one line appended per finished seed). */
  out: string;
  /** Use only the first N test examples (in file order). */
  maxTest?: number;
  /** Custom label words (label order, or label -> word). */
  labelWords?: string[] | Record<string, string>;
  /** Custom prompt template. */
  template?: string;
  /** Standard mode: linear-probe options, or false to keep the checkpoint's classifier. */
  linearProbe?: LinearProbeOptions | false;
  signal?: AbortSignal;
  /** Progress bar factory (the CLI passes cliProgressBar). */
  progress?: (label: string) => RunProgress;
  /** One message per step (the CLI prints them to stderr). */
  log?: (message: string) => void;
}

export interface ResultLine {
  version: number;
  time: string;
  config_id: string;
  task: string;
  k: number;
  seed: number;
  model: string;
  model_id: string;
  mode: OutputMode;
  formula: Formula;
  solver: SolverName;
  binary: boolean;
  subset: Subset;
  dtype: Dtype;
  /** The selection metric (dev) and the reported metric (test). */
  metric: string;
  params: SolverParams;
  grid: GridAxes;
  grid_size: number;
  dev: Metrics;
  test: Metrics;
  dev_score: number;
  test_score: number;
  grad_dim: number;
  num_logits: number;
  n_train: number;
  n_dev: number;
  n_test: number;
  max_test: number | null;
  label_word_ids: number[] | null;
  kernel_cache: 'hit' | 'miss' | 'off';
  kernel_key: string;
  linear_probe: { C: number; train_acc: number; cv_scores: number[]; cache: 'hit' | 'miss' | 'off' } | null;
  timings: { encode_s: number; linear_probe_s: number; kernel_s: number; select_s: number; eval_s: number; total_s: number };
}

export interface SeedStatus {
  seed: number;
  status: 'done' | 'skipped';
  kernelCache?: 'hit' | 'miss' | 'off';
  line: ResultLine;
}

export interface RunStats {
  /** One line per seed, in seed order (skipped seeds: the line found in the output file). */
  lines: ResultLine[];
  seeds: SeedStatus[];
  skipped: number;
  cacheHits: number;
  cacheMisses: number;
  /** Whether the model was loaded at all (not when every seed was skipped or cached in prompt mode). */
  modelLoaded: boolean;
  total_s: number;
}

// ---------------------------------------------------------------------------------------------------
// The solver step (one seed, kernels given)

export interface SeedSolveInput {
  task: string;
  solver: SolverName;
  binary: boolean;
  grid: readonly SolverParams[];
  kernelTrainTrain: Kernel;
  kernelTrainDev: Kernel;
  kernelTrainTest: Kernel;
  /** asym: <g(train), sign g(x)> for dev and test. */
  kernelTrainDevFlipped?: Kernel;
  kernelTrainTestFlipped?: Kernel;
  f0Train?: ArrayLike<number>;
  f0Dev?: ArrayLike<number>;
  f0Test?: ArrayLike<number>;
  trainLabels: readonly number[];
  devLabels: readonly number[];
  testLabels: readonly number[];
  signal?: AbortSignal;
  onProgress?: ProgressFn;
}

export interface SeedSolveResult {
  metric: string;
  best: SolverParams;
  bestIndex: number;
  /** Dev selection score per grid setting. */
  scores: number[];
  dev: Metrics;
  test: Metrics;
  devScore: number;
  testScore: number;
  info: Record<string, unknown>;
  select_s: number;
  eval_s: number;
}

/**
 * Selects the solver setting on dev over `grid` with the task's selection metric (ties to the first
 * setting), then fits once with it and predicts dev and test (train x [dev | test] in one solve).
 * Shape mismatches are reported by the solver layer.
 */
export async function solveSeed(input: SeedSolveInput): Promise<SeedSolveResult> {
  const spec = getTask(taskName(input.task));
  const metric = selectionMetric(spec);
  const numClasses = spec.labels.length;
  const score = (pred: number[], labels: readonly number[]) => (computeMetrics(spec, pred, labels) as unknown as Record<string, number>)[metric];
  const f0 = (x: ArrayLike<number> | undefined) => (x === undefined ? undefined : Array.from(x));
  for (const [name, k, labels] of [
    ['kernelTrainDev', input.kernelTrainDev, input.devLabels],
    ['kernelTrainTest', input.kernelTrainTest, input.testLabels],
  ] as const) {
    if (!Array.isArray(labels)) throw new OptionError(name === 'kernelTrainDev' ? 'devLabels' : 'testLabels', 'an array of label indices', labels);
    if (!k || !Array.isArray(k.shape) || k.shape.length !== 4) throw new InputError(name, 'expected a kernel {shape: [N, C, M, C], data}');
    if (k.shape[2] !== labels.length)
      throw new InputError(name, `shape [${k.shape.join(', ')}] does not match ${labels.length} ${name === 'kernelTrainDev' ? 'dev' : 'test'} labels`);
  }
  // The solver layer checks train x train against the train labels and train x dev against it; check the
  // test kernel here too, so that it is named as such (dev and test are joined for the final fit).
  const tt = input.kernelTrainTrain;
  const ttOk = tt && Array.isArray(tt.shape) && tt.shape[0] === input.trainLabels.length;
  for (const [name, k] of [['kernelTrainDev', input.kernelTrainDev], ['kernelTrainTest', input.kernelTrainTest]] as const)
    if (ttOk && (k.shape[0] !== tt.shape[0] || k.shape[1] !== tt.shape[1] || k.shape[3] !== tt.shape[3]))
      throw new InputError(name, `shape [${k.shape.join(', ')}] does not match the train x train kernel [${tt.shape.join(', ')}]`);
  const t0 = performance.now();
  const sel = await selectOnDev(
    {
      kernelTrainTrain: input.kernelTrainTrain,
      kernelTrainDev: input.kernelTrainDev,
      kernelTrainDevFlipped: input.kernelTrainDevFlipped,
      f0Train: f0(input.f0Train),
      f0Dev: f0(input.f0Dev),
      trainLabels: input.trainLabels,
      devLabels: input.devLabels,
      numClasses,
      binary: input.binary,
      solver: input.solver,
      grid: input.grid,
      metric: (pred, labels) => score(pred, labels),
    },
    { signal: input.signal, onProgress: input.onProgress },
  );
  const t1 = performance.now();
  const nDev = input.devLabels.length;
  const joinF0 = (a?: ArrayLike<number>, b?: ArrayLike<number>) => (a === undefined || b === undefined ? undefined : [...Array.from(a), ...Array.from(b)]);
  const evalLabels = [...input.devLabels, ...input.testLabels];
  const both = (a: Kernel | undefined, b: Kernel | undefined) => (a && b ? concatColumns(a, b) : undefined);
  const res = await solve({
    kernelTrainTrain: input.kernelTrainTrain,
    kernelTrainTest: concatColumns(input.kernelTrainDev, input.kernelTrainTest),
    kernelTrainTestFlipped: both(input.kernelTrainDevFlipped, input.kernelTrainTestFlipped),
    f0Train: f0(input.f0Train),
    f0Test: joinF0(input.f0Dev, input.f0Test),
    trainLabels: input.trainLabels,
    testLabels: evalLabels,
    numClasses,
    binary: input.binary,
    solver: input.solver,
    params: sel.best,
    signal: input.signal,
  });
  const t2 = performance.now();
  const predDev = res.predictedLabels.slice(0, nDev);
  const predTest = res.predictedLabels.slice(nDev);
  const dev = computeMetrics(spec, predDev, input.devLabels);
  const test = computeMetrics(spec, predTest, input.testLabels);
  return {
    metric,
    best: sel.best,
    bestIndex: sel.bestIndex,
    scores: sel.scores,
    dev,
    test,
    devScore: (dev as unknown as Record<string, number>)[metric],
    testScore: (test as unknown as Record<string, number>)[metric],
    info: res.info,
    select_s: (t1 - t0) / 1000,
    eval_s: (t2 - t1) / 1000,
  };
}

// ---------------------------------------------------------------------------------------------------
// Helpers

/** Existing result lines of `path` (none when it does not exist); an unparsable line is an error naming it. */
export function readResultLines(path: string): ResultLine[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const out: ResultLine[] = [];
  text.split('\n').forEach((l, i) => {
    if (l.trim() === '') return;
    try {
      out.push(JSON.parse(l));
    } catch (e) {
      throw new InputError(`${path}:${i + 1}`, `not a JSON line (${(e as Error).message})`);
    }
  });
  return out;
}

function hasTokenizerFiles(dir: string): boolean {
  return ['tokenizer.json', 'vocab.json', 'vocab.txt'].some((f) => existsSync(join(dir, f)));
}

function engineId(): string {
  // The addon binary's content: a rebuilt engine never reuses kernels of another build.
  try {
    const require = createRequire(import.meta.url);
    const p = require('node-gyp-build').path(packageRoot()) as string;
    return fileSha256(p);
  } catch {
    return 'unknown';
  }
}

export const secs = (t0: number) => Math.round((performance.now() - t0) / 10) / 100;

export function checkInt(v: unknown, option: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new OptionError(option, `an integer >= ${min}`, v);
  return v;
}

/** The options every per-seed experiment (kernels, fine-tuning) validates first: task, k, seeds, mode. */
export function resolveExperimentBasics(opts: { task: string; k: number; seeds: number[]; mode?: OutputMode }) {
  if (typeof opts !== 'object' || opts === null) throw new OptionError('options', 'an object', opts);
  const task = taskName(opts.task);
  const spec = getTask(task);
  const k = checkInt(opts.k, 'k', 1);
  if (!Array.isArray(opts.seeds) || opts.seeds.length === 0) throw new OptionError('seeds', 'a non-empty list of integer seeds', opts.seeds);
  opts.seeds.forEach((s, i) => checkInt(s, `seeds[${i}]`, 0));
  const mode = opts.mode ?? 'prompt';
  if (mode !== 'prompt' && mode !== 'standard') throw new OptionError('mode', 'prompt | standard', mode);
  return { task, spec, k, mode };
}

interface Encoded {
  train: EncodedExample[];
  dev: EncodedExample[];
  test: EncodedExample[];
  trainLabels: number[];
  devLabels: number[];
  testLabels: number[];
}


// ---------------------------------------------------------------------------------------------------
// The experiment

export async function runKernelExperiment(opts: RunOptions): Promise<RunStats> {
  const tStart = performance.now();
  const { task, spec, k, mode } = resolveExperimentBasics(opts);
  const formula = opts.formula ?? 'sgd';
  if (!FORMULAS.includes(formula)) throw new OptionError('formula', FORMULAS.join(' | '), formula);
  const solver = opts.solver ?? 'lstsq';
  if (!(SOLVERS as readonly string[]).includes(solver)) throw new OptionError('solver', SOLVERS.join(' | '), solver);
  const binary = opts.binary ?? false;
  if (typeof binary !== 'boolean') throw new OptionError('binary', 'a boolean', binary);
  if (binary && spec.labels.length !== 2)
    throw new OptionError('binary', `false: ${task} has ${spec.labels.length} labels, binary mode needs 2`, binary);
  if (solver === 'asym' && (!binary || formula !== 'asymmetric_signgd'))
    throw new OptionError('solver', "asym only with --binary and --formula asymmetric_signgd (it needs the flipped kernel)", solver);
  const subset = opts.subset ?? 'all';
  if (!SUBSETS.includes(subset)) throw new OptionError('subset', SUBSETS.join(' | '), subset);
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') throw new OptionError('dtype', 'float32 | float64', dtype);
  const batchSize = checkInt(opts.batchSize ?? 8, 'batchSize', 1);
  const maxTest = opts.maxTest === undefined ? null : checkInt(opts.maxTest, 'maxTest', 1);
  if (typeof opts.out !== 'string' || opts.out === '') throw new OptionError('out', 'a results.jsonl path', opts.out);
  if (typeof opts.dataDir !== 'string' || !existsSync(opts.dataDir) || !statSync(opts.dataDir).isDirectory())
    throw new InputError(String(opts.dataDir), 'data folder not found (expected a folder holding <TASK>/<k>-<seed>/)');
  const gridAxes = resolveGrid(solver, opts.grid);
  const grid = gridOf(gridAxes);
  const lpOpts: LinearProbeOptions | false = mode === 'standard' ? (opts.linearProbe ?? {}) : false;
  const log = opts.log ?? (() => {});
  const progress = opts.progress ?? (() => ({ update: () => {}, stop: () => {} }));
  const cacheDir = opts.cacheDir === null ? null : resolve(opts.cacheDir ?? join(dirname(resolve(opts.out)), '.lmkernel-cache'));
  const memo = cacheDir ? join(cacheDir, 'file-hashes.json') : undefined;
  // Temporary files and locks of an earlier run that was killed mid-write (never a truncated target: every
  // writer is write-temp + fsync + rename).
  assertWritableDir(dirname(resolve(opts.out)), opts.out);
  removeStaleTemps(dirname(resolve(opts.out)));
  if (cacheDir) removeStaleTemps(cacheDir, true);

  // Model identity: config.json and weights content.
  const modelDir = opts.modelDir;
  if (typeof modelDir !== 'string' || modelDir === '') throw new OptionError('modelDir', 'a model folder', modelDir);
  const configPath = join(modelDir, 'config.json');
  const weightsPath = join(modelDir, 'model.safetensors');
  if (!existsSync(configPath) || !existsSync(weightsPath)) await loadModel(modelDir, { dtype }); // throws its precise error
  const modelId = hashJson({ config: sha256(readFileSync(configPath)), weights: fileSha256(weightsPath, memo) });

  // Tokenizer and task encoder (label words are checked here).
  const tokDir = opts.tokenizerDir ?? modelDir;
  if (opts.tokenizerDir === undefined && !hasTokenizerFiles(modelDir))
    throw new InputError(modelDir, 'no tokenizer files (tokenizer.json, vocab.json + merges.txt, vocab.txt) in the model folder: pass --tokenizer DIR');
  const tok: Tokenizer = loadTokenizer(tokDir);
  const enc = taskEncoder(tok, task, { labelWords: opts.labelWords, template: opts.template });
  const labelWordIds = mode === 'prompt' ? enc.labelWordIds : null;

  let model: LmModel | undefined;
  const getModel = async (): Promise<LmModel> => {
    model ??= await loadModel(modelDir, { dtype, device: opts.device, signal: opts.signal });
    return model;
  };

  const existing = new Map<string, ResultLine>();
  for (const l of readResultLines(opts.out)) if (l && typeof l.config_id === 'string') existing.set(`${l.config_id}`, l);

  const stats: RunStats = { lines: [], seeds: [], skipped: 0, cacheHits: 0, cacheMisses: 0, modelLoaded: false, total_s: 0 };
  let engine: string | undefined;

  for (const seed of opts.seeds) {
    if (opts.signal?.aborted) {
      const err = new Error(`run interrupted before seed ${seed}`);
      err.name = 'AbortError';
      throw err;
    }
    const t0 = performance.now();
    const splitDir = join(opts.dataDir, task, `${k}-${seed}`);
    if (!existsSync(splitDir) || !statSync(splitDir).isDirectory())
      throw new InputError(splitDir, `k-shot split folder not found (expected train, dev and test files of ${task} for k=${k}, seed ${seed})`);
    const train = readSplit(splitDir, spec, 'train');
    const devEx = readSplit(splitDir, spec, 'dev');
    let testEx = readSplit(splitDir, spec, 'test');
    if (maxTest !== null) testEx = testEx.slice(0, maxTest);
    for (const [name, xs] of [['train', train], ['dev', devEx], ['test', testEx]] as const)
      if (xs.length === 0) throw new InputError(splitDir, `the ${name} split is empty`);
    const e: Encoded = {
      train: encodeExamples(enc, mode, train, 'train'),
      dev: encodeExamples(enc, mode, devEx, 'dev'),
      test: encodeExamples(enc, mode, testEx, 'test'),
      trainLabels: train.map((x) => x.labelIndex),
      devLabels: devEx.map((x) => x.labelIndex),
      testLabels: testEx.map((x) => x.labelIndex),
    };
    const encode_s = secs(t0);
    const inputsId = hashJson([e.train, e.dev, e.test, e.trainLabels, e.devLabels, e.testLabels]);
    const configId = hashJson({
      v: RUNNER_VERSION, task, k, seed, model: modelId, mode, formula, solver, binary, subset, dtype,
      grid: gridAxes, labelWordIds, template: enc.prompt.template, linearProbe: lpOpts, maxTest, inputs: inputsId,
    });
    const prev = existing.get(configId);
    if (prev) {
      log(`seed ${seed}: already in ${opts.out}, skipped`);
      stats.skipped++;
      stats.lines.push(prev);
      stats.seeds.push({ seed, status: 'skipped', line: prev });
      continue;
    }

    // Standard mode: the head by linear probing on the <s> features (cached by model, inputs, options).
    let classifierId: string | null = null;
    let seedHead: { weight: number[][]; bias: number[] } | undefined;
    let lpInfo: ResultLine['linear_probe'] = null;
    let linear_probe_s = 0;
    if (mode === 'standard') {
      const tLp = performance.now();
      if (lpOpts === false) {
        classifierId = 'checkpoint';
      } else {
        const lpKey = hashJson({ v: RUNNER_VERSION, kind: 'linear-probe', model: modelId, dtype, train: hashJson(e.train), labels: e.trainLabels, numClasses: spec.labels.length, options: lpOpts });
        const lpPath = cacheDir ? entryPath(cacheDir, 'linear-probe', lpKey, 'json') : undefined;
        let head: { weight: number[][]; bias: number[]; C: number; trainAccuracy: number; cvScores: number[] } | undefined;
        let lpCache: 'hit' | 'miss' | 'off' = cacheDir ? 'miss' : 'off';
        if (lpPath && existsSync(lpPath)) {
          try {
            const j = JSON.parse(readFileSync(lpPath, 'utf8'));
            if (j.key === lpKey) {
              head = j;
              lpCache = 'hit';
            }
          } catch {
            log(`seed ${seed}: unreadable linear-probe cache ${lpPath}, recomputing`);
          }
        }
        if (!head) {
          const m = await getModel();
          const feats = await m.features({ inputs: e.train, output: 'standard', batchSize, signal: opts.signal });
          head = linearProbe(feats, e.trainLabels, spec.labels.length, lpOpts);
          if (lpPath) writeFileAtomic(lpPath, JSON.stringify({ key: lpKey, weight: head.weight, bias: head.bias, C: head.C, trainAccuracy: head.trainAccuracy, cvScores: head.cvScores }));
        }
        classifierId = hashFloat64([...head.weight.flat(), ...head.bias]);
        lpInfo = { C: head.C, train_acc: head.trainAccuracy, cv_scores: head.cvScores, cache: lpCache };
        seedHead = head; // set on the model right before its kernels are computed
      }
      linear_probe_s = secs(tLp);
    }

    // Kernels and f0 for train x (dev ∪ test), from the cache or one engine call.
    const tK = performance.now();
    const evalInputs = [...e.dev, ...e.test];
    engine ??= engineId();
    const kernelKey = hashJson({
      v: RUNNER_VERSION, kind: 'kernels', engine, model: modelId, dtype, mode, formula, subset, binary,
      labelWordIds, classifier: classifierId, train: hashJson(e.train), eval: hashJson(evalInputs),
    });
    const kPath = cacheDir ? entryPath(cacheDir, 'kernels', kernelKey) : undefined;
    let kernelCache: 'hit' | 'miss' | 'off' = cacheDir ? 'miss' : 'off';
    let entry = kPath ? readEntry(kPath, kernelKey) : undefined;
    if (entry && 'error' in entry) {
      log(`seed ${seed}: ignoring unreadable cache file ${kPath} (${entry.error})`);
      entry = undefined;
    }
    let gradDim: number;
    let C: number;
    let tt: Float64Array, te: Float64Array, fl: Float64Array | undefined, f0Train: Float64Array, f0Eval: Float64Array;
    if (entry) {
      kernelCache = 'hit';
      stats.cacheHits++;
      gradDim = entry.meta.gradDim as number;
      C = entry.meta.numLogits as number;
      ({ trainTrain: tt, trainEval: te, trainEvalFlipped: fl, f0Train, f0Eval } = entry.arrays as Record<string, Float64Array>);
    } else {
      if (cacheDir) stats.cacheMisses++;
      const m = await getModel();
      if (seedHead) m.setClassifier(seedHead.weight, seedHead.bias);
      const bar = progress(`seed ${seed} kernel`);
      let r;
      try {
        r = await m.kernels({
          train: e.train,
          test: evalInputs,
          output: mode,
          labelWordIds: labelWordIds ?? undefined,
          binary,
          formulas: [formula],
          subset,
          batchSize,
          onProgress: bar.update,
          signal: opts.signal,
        });
      } finally {
        bar.stop();
      }
      const kk = r.kernels[formula]!;
      gradDim = r.gradDim;
      C = r.numLogits;
      tt = kk.trainTrain.data;
      te = kk.trainTest.data;
      fl = kk.trainTestFlipped?.data;
      f0Train = flatRows(r.f0Train);
      f0Eval = flatRows(r.f0Test);
      if (kPath) {
        const arrays: Record<string, Float64Array> = { trainTrain: tt, trainEval: te, f0Train, f0Eval };
        if (fl) arrays.trainEvalFlipped = fl;
        writeEntry(kPath, {
          key: kernelKey,
          meta: { gradDim, numLogits: C, nTrain: e.train.length, nEval: evalInputs.length, task, mode, formula, subset, binary, dtype },
          arrays,
        });
      }
    }
    const kernel_s = secs(tK);
    const N = e.train.length;
    const nDev = e.dev.length;
    const nEval = evalInputs.length;
    const trainTrain: Kernel = { shape: [N, C, N, C], data: tt };
    const [kDev, kTest] = splitColumns({ shape: [N, C, nEval, C], data: te }, nDev);
    const flipped = fl ? splitColumns({ shape: [N, C, nEval, C], data: fl }, nDev) : undefined;

    const bar = progress(`seed ${seed} solve`);
    let sr: SeedSolveResult;
    try {
      sr = await solveSeed({
        task,
        solver,
        binary,
        grid,
        kernelTrainTrain: trainTrain,
        kernelTrainDev: kDev,
        kernelTrainTest: kTest,
        kernelTrainDevFlipped: flipped?.[0],
        kernelTrainTestFlipped: flipped?.[1],
        f0Train,
        f0Dev: f0Eval.subarray(0, nDev * C),
        f0Test: f0Eval.subarray(nDev * C),
        trainLabels: e.trainLabels,
        devLabels: e.devLabels,
        testLabels: e.testLabels,
        signal: opts.signal,
        onProgress: bar.update,
      });
    } finally {
      bar.stop();
    }
    const line: ResultLine = {
      version: RUNNER_VERSION,
      time: new Date().toISOString(),
      config_id: configId,
      task,
      k,
      seed,
      model: basename(resolve(modelDir)),
      model_id: modelId,
      mode,
      formula,
      solver,
      binary,
      subset,
      dtype,
      metric: sr.metric,
      params: sr.best,
      grid: gridAxes,
      grid_size: grid.length,
      dev: sr.dev,
      test: sr.test,
      dev_score: sr.devScore,
      test_score: sr.testScore,
      grad_dim: gradDim,
      num_logits: C,
      n_train: N,
      n_dev: nDev,
      n_test: e.test.length,
      max_test: maxTest,
      label_word_ids: labelWordIds,
      kernel_cache: kernelCache,
      kernel_key: kernelKey,
      linear_probe: lpInfo,
      timings: { encode_s, linear_probe_s, kernel_s, select_s: round2(sr.select_s), eval_s: round2(sr.eval_s), total_s: secs(t0) },
    };
    appendLineAtomic(opts.out, JSON.stringify(line));
    existing.set(configId, line);
    log(
      `seed ${seed}: dev ${sr.metric} ${(sr.devScore * 100).toFixed(1)}, test ${(sr.testScore * 100).toFixed(1)} ` +
        `(${JSON.stringify(sr.best)}; kernels ${kernelCache}, ${line.timings.total_s}s)`,
    );
    stats.lines.push(line);
    stats.seeds.push({ seed, status: 'done', kernelCache, line });
  }
  stats.modelLoaded = model !== undefined;
  stats.total_s = secs(tStart);
  return stats;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
