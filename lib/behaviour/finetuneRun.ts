// The fine-tuning experiment runner: data folder -> fine-tuning over an lr x batch-size grid selected on
// dev -> test metrics (and, with `behaviour`, the paper's kernel-behaviour measurements) -> one
// results.jsonl line per seed, in the kernel runner's line format so that `lmkernel report` puts kernel
// and fine-tuning columns side by side (column `<mode>/<optimizer>/ft`, `/lora` for LoRA).
//
// Per seed: read and encode train/dev/test of <dataDir>/<TASK>/<k>-<seed>/ (prompt, or standard with the
// head fitted by linear probing, REFERENCE.md §3.5), fine-tune a copy of the model for every (lr, batch
// size) with dev evaluation every `evalEvery` steps (the best dev state of each run is kept, §7.1), pick
// the run with the best dev score (ties: the first in grid order, batch size outermost), evaluate it on
// test. With `behaviour`: the pre-trained model's test metrics, the linearized model's test metrics
// f(θ0) + ∇f(θ0)·(θ_FT − θ0), the share of the fine-tuning improvement the linearization recovers
// (acc_lin − acc_pre)/(acc_ft − acc_pre), and the relative SGD-kernel distance ‖K(θ_FT) − K(θ0)‖_F/‖K(θ0)‖_F
// for train x train and train x test (the paper's Linearization and Fixed Features checks). With a
// grid of more than one point the selected run is trained again with the measurements on (training is
// deterministic: seeded batches), so that the grid's runs stay cheap.
//
// Resuming: as the kernel runner, every line carries a `config_id` hash of everything that determines it;
// seeds whose config_id is in the output file with status "done" are skipped. An interrupted seed (abort)
// writes a line with status "aborted" and null scores, whose `partial` field holds the state reached; a
// seed whose every run diverged writes status "diverged" with the last good state's test metrics, then
// fails with an error naming the step. Neither counts as finished.
import { basename, dirname, join, resolve } from 'node:path';
import { LmkError, OptionError } from '../errors.js';
import { finetune, OPTIMIZERS, TrainingDivergedError, type DevMetric, type FinetuneResult, type Optimizer } from '../finetune.js';
import { appendLineAtomic } from '../io.js';
import { computeMetrics, selectionMetric, type Metrics } from '../metrics.js';
import { loadModel, type Dtype, type LmModel, type OutputMode } from '../model.js';
import type { ProgressFn } from '../native.js';
import { loadTokenizer, taskEncoder } from '../prompts/index.js';
import { hashJson } from '../runner/cache.js';
import { checkInt, readResultLines, resolveExperimentBasics, secs } from '../runner/experiment.js';
import { linearProbe, type LinearProbeOptions } from '../runner/linearProbe.js';
import type { TaskSpec } from '../tasks/index.js';
import { argmaxRows, checkTokenizerFitsModel, loadEncodedSplits, modelContentId, type EncodedSplits } from './data.js';

/** Bump when the meaning of fine-tuning result lines changes. */
export const FT_RUNNER_VERSION = 1;

/** Default learning-rate grids (LM-BFF's Adam grid; SGD/SignGD grids are ours: the paper's are not in the reference code, §7.1). */
export const DEFAULT_FT_LRS: Readonly<Record<Optimizer, number[]>> = {
  adam: [1e-5, 2e-5, 5e-5],
  sgd: [1e-4, 1e-3, 1e-2],
  signgd: [1e-6, 1e-5, 1e-4],
};
export const DEFAULT_FT_BATCH_SIZES = [2, 4, 8];

/** 1000 steps for a 16-shot binary task (LM-BFF), scaled with the training-set size k·C. */
export function defaultSteps(k: number, numClasses: number): number {
  return Math.max(1, Math.round((1000 * k * numClasses) / 32));
}

export interface FinetuneRunOptions {
  task: string;
  k: number;
  seeds: number[];
  dataDir: string;
  modelDir: string;
  tokenizerDir?: string;
  mode?: OutputMode;
  optimizer: Optimizer;
  /** Learning rates to try (default DEFAULT_FT_LRS[optimizer]). */
  lrs?: number[];
  /** Batch sizes to try (default 2, 4, 8; sizes >= the training set mean full batch and are tried once). */
  batchSizes?: number[];
  /** Updates per run (default defaultSteps(k, C)). */
  steps?: number;
  /** Dev evaluation interval (default steps/10, at least 1). */
  evalEvery?: number;
  /** LoRA on query/value (A Kaiming-uniform seeded by the data seed, B = 0); trains the LoRA matrices and the heads. */
  lora?: { r: number; alpha: number } | null;
  /** Record the kernel-behaviour measurements (pre-trained, linearized, kernel distances). */
  behaviour?: boolean;
  maxGradNorm?: number;
  weightDecay?: number;
  dtype?: Dtype;
  device?: string;
  maxTest?: number;
  labelWords?: string[] | Record<string, string>;
  template?: string;
  /** Standard mode: linear-probe options for the head (default {}: 5-fold CV). */
  linearProbe?: LinearProbeOptions;
  evalBatchSize?: number;
  kernelBatchSize?: number;
  out: string;
  signal?: AbortSignal;
  log?: (message: string) => void;
  /** Progress of the current training run (label names the seed and grid point). */
  onProgress?: (label: string) => ProgressFn | undefined;
}

export interface GridRunRecord {
  lr: number;
  batch_size: number;
  dev_score: number | null;
  best_step: number;
  steps: number;
  error?: string;
}

export interface BehaviourRecord {
  pre_test: Metrics;
  linearized_test: Metrics;
  ft_test: Metrics;
  /** Selection metric (acc for most tasks) of the three models. */
  pre_test_score: number;
  linearized_test_score: number;
  ft_test_score: number;
  /** (lin − pre)/(ft − pre) on the selection metric; null when ft = pre. */
  share_recovered: number | null;
  /** The same on accuracy. */
  share_recovered_acc: number | null;
  kernel_distance_train_train: number | null;
  kernel_distance_train_test: number | null;
  /** The re-run of the selected setting reproduced its dev score (grids of more than one point). */
  rerun_dev_score?: number | null;
}

export interface FtResultLine {
  version: number;
  time: string;
  config_id: string;
  method: 'finetune';
  status: 'done' | 'aborted' | 'diverged';
  task: string;
  k: number;
  seed: number;
  model: string;
  model_id: string;
  mode: OutputMode;
  /** The optimizer (report column `<mode>/<optimizer>/ft`). */
  formula: Optimizer;
  solver: 'ft';
  binary: false;
  /** 'lora' for LoRA runs (the report appends `/lora`), else 'all'. */
  subset: 'all' | 'lora';
  dtype: Dtype;
  metric: string;
  params: { lr: number; batch_size: number; best_step: number; steps: number } | null;
  grid: { lr: number[]; batch_size: number[] };
  grid_size: number;
  grid_runs: GridRunRecord[];
  dev: Metrics | null;
  test: Metrics | null;
  dev_score: number | null;
  test_score: number | null;
  steps: number;
  eval_every: number;
  lora: { r: number; alpha: number } | null;
  n_train: number;
  n_dev: number;
  n_test: number;
  max_test: number | null;
  label_word_ids: number[] | null;
  linear_probe: { C: number; train_acc: number } | null;
  behaviour: BehaviourRecord | null;
  /** Aborted / diverged: the state reached (its step, and its test metrics). */
  partial?: { lr: number; batch_size: number; step: number; test: Metrics | null; error?: string };
  train_loss: { first: number; last: number } | null;
  timings: { encode_s: number; grid_s: number; behaviour_s: number; total_s: number };
}

export interface FtSeedResult {
  seed: number;
  status: 'done' | 'skipped' | 'aborted' | 'diverged';
  line: FtResultLine;
  /** Not in the line (sizes): the selected run's test outputs, the linearized and the pre-trained ones. */
  testLogits?: number[][];
  linearizedTestLogits?: number[][];
  preTestLogits?: number[][];
}

export interface FtRunStats {
  seeds: FtSeedResult[];
  lines: FtResultLine[];
  skipped: number;
  aborted: boolean;
  total_s: number;
}


function devMetricOf(spec: TaskSpec): DevMetric {
  const m = selectionMetric(spec);
  return m === 'f1' ? 'f1' : m === 'mcc' ? 'mcc' : 'accuracy';
}

const scoreOf = (m: Metrics, metric: string): number => (m as unknown as Record<string, number>)[metric];

function share(lin: number, pre: number, ft: number): number | null {
  const d = ft - pre;
  return d === 0 ? null : (lin - pre) / d;
}

/** Validates the options and returns the resolved settings (exported for the CLI's early checks). */
export function resolveFtOptions(opts: FinetuneRunOptions) {
  const { task, spec, k, mode } = resolveExperimentBasics(opts);
  if (!OPTIMIZERS.includes(opts.optimizer)) throw new OptionError('optimizer', OPTIMIZERS.join(' | '), opts.optimizer);
  const lrs = opts.lrs ?? DEFAULT_FT_LRS[opts.optimizer];
  if (!Array.isArray(lrs) || lrs.length === 0) throw new OptionError('lrs', 'a non-empty list of learning rates', lrs);
  lrs.forEach((lr, i) => {
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0) throw new OptionError(`lrs[${i}]`, 'a finite learning rate > 0', lr);
  });
  const batchSizes = opts.batchSizes ?? DEFAULT_FT_BATCH_SIZES;
  if (!Array.isArray(batchSizes) || batchSizes.length === 0) throw new OptionError('batchSizes', 'a non-empty list of batch sizes', batchSizes);
  batchSizes.forEach((b, i) => checkInt(b, `batchSizes[${i}]`, 1));
  const steps = opts.steps === undefined ? defaultSteps(k, spec.labels.length) : checkInt(opts.steps, 'steps', 1);
  const evalEvery = opts.evalEvery === undefined ? Math.max(1, Math.floor(steps / 10)) : checkInt(opts.evalEvery, 'evalEvery', 1);
  let lora: { r: number; alpha: number } | null = null;
  if (opts.lora) {
    checkInt(opts.lora.r, 'lora.r', 1);
    if (typeof opts.lora.alpha !== 'number' || !(opts.lora.alpha > 0)) throw new OptionError('lora.alpha', 'a number > 0', opts.lora.alpha);
    lora = { r: opts.lora.r, alpha: opts.lora.alpha };
  }
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') throw new OptionError('dtype', 'float32 | float64', dtype);
  const maxTest = opts.maxTest === undefined ? null : checkInt(opts.maxTest, 'maxTest', 1);
  if (typeof opts.out !== 'string' || opts.out === '') throw new OptionError('out', 'a results.jsonl path', opts.out);
  if (typeof opts.modelDir !== 'string' || opts.modelDir === '') throw new OptionError('modelDir', 'a model folder', opts.modelDir);
  return { task, spec, k, mode, lrs, batchSizes, steps, evalEvery, lora, dtype, maxTest };
}

export async function runFinetuneExperiment(opts: FinetuneRunOptions): Promise<FtRunStats> {
  const tStart = performance.now();
  const { task, spec, k, mode, lrs, batchSizes, steps, evalEvery, lora, dtype, maxTest } = resolveFtOptions(opts);
  const log = opts.log ?? (() => {});
  const behaviour = !!opts.behaviour;
  const metric = selectionMetric(spec);
  const devMetric = devMetricOf(spec);
  const subset: 'all' | 'lora' = lora ? 'lora' : 'all';
  const lpOpts: LinearProbeOptions | false = mode === 'standard' ? (opts.linearProbe ?? {}) : false;
  const memo = join(dirname(resolve(opts.out)), '.lmkernel-cache', 'file-hashes.json');

  // Model and tokenizer; the model is checked by loading it (precise errors), once.
  const modelDir = opts.modelDir;
  const base0 = await loadModel(modelDir, { dtype, device: opts.device, signal: opts.signal });
  const modelId = modelContentId(modelDir, memo);
  const tokDir = opts.tokenizerDir ?? modelDir;
  const tok = loadTokenizer(tokDir);
  const enc = taskEncoder(tok, task, { labelWords: opts.labelWords, template: opts.template });
  const labelWordIds = mode === 'prompt' ? enc.labelWordIds : null;
  checkTokenizerFitsModel(tok, base0, tokDir, labelWordIds);

  const existing = new Map<string, FtResultLine>();
  for (const l of readResultLines(opts.out) as unknown as FtResultLine[])
    if (l && typeof l.config_id === 'string' && (l.status === undefined || l.status === 'done')) existing.set(l.config_id, l);

  const stats: FtRunStats = { seeds: [], lines: [], skipped: 0, aborted: false, total_s: 0 };
  for (const seed of opts.seeds) {
    if (opts.signal?.aborted) {
      stats.aborted = true;
      break;
    }
    const t0 = performance.now();
    const e: EncodedSplits = loadEncodedSplits(opts.dataDir, spec, k, seed, enc, mode, { maxTest });
    const encode_s = secs(t0);
    const N = e.train.length;
    // Batch sizes >= N are all "the full batch": try it once.
    const bss = [...new Set(batchSizes.map((b) => Math.min(b, N)))];
    const inputsId = hashJson([e.train, e.dev, e.test, e.trainLabels, e.devLabels, e.testLabels]);
    const configId = hashJson({
      v: FT_RUNNER_VERSION, method: 'finetune', task, k, seed, model: modelId, mode, optimizer: opts.optimizer, lrs, batchSizes: bss, steps,
      evalEvery, lora, behaviour, dtype, labelWordIds, template: enc.prompt.template, linearProbe: lpOpts, maxTest, inputs: inputsId,
      maxGradNorm: opts.maxGradNorm ?? 1, weightDecay: opts.weightDecay ?? 0,
    });
    const prev = existing.get(configId);
    if (prev) {
      log(`seed ${seed}: already in ${opts.out}, skipped`);
      stats.skipped++;
      stats.lines.push(prev);
      stats.seeds.push({ seed, status: 'skipped', line: prev });
      continue;
    }

    // The model at θ0 for this seed: LoRA (seeded A) on a fresh copy; the standard head by linear probing.
    let model: LmModel = base0;
    if (lora) {
      model = await loadModel(modelDir, { dtype, device: opts.device, signal: opts.signal });
      model.applyLora({ r: lora.r, alpha: lora.alpha, seed });
    }
    let lpInfo: FtResultLine['linear_probe'] = null;
    if (lpOpts !== false) {
      const feats = await model.features({ inputs: e.train, output: 'standard', signal: opts.signal });
      const head = linearProbe(feats, e.trainLabels, spec.labels.length, lpOpts);
      model.setClassifier(head.weight, head.bias);
      lpInfo = { C: head.C, train_acc: head.trainAccuracy };
    }
    const common = {
      train: e.train, trainLabels: e.trainLabels, dev: e.dev, devLabels: e.devLabels, test: e.test,
      output: mode, labelWordIds: labelWordIds ?? undefined, optimizer: opts.optimizer, steps, evalEvery, metric: devMetric, seed,
      trainable: lora ? ('lora' as const) : ('all' as const), maxGradNorm: opts.maxGradNorm, weightDecay: opts.weightDecay,
      evalBatchSize: opts.evalBatchSize, kernelBatchSize: opts.kernelBatchSize, signal: opts.signal,
    };
    const oneShot = behaviour && bss.length * lrs.length === 1;

    // The grid.
    const tG = performance.now();
    const runs: GridRunRecord[] = [];
    let best: { lr: number; bs: number; dev: number; result: FinetuneResult } | undefined;
    let aborted: { lr: number; bs: number; result: FinetuneResult } | undefined;
    let lastDiverged: { lr: number; bs: number; err: TrainingDivergedError } | undefined;
    outer: for (const bs of bss) {
      for (const lr of lrs) {
        if (opts.signal?.aborted) break outer;
        let r: FinetuneResult;
        try {
          r = await finetune(model, { ...common, lr, batchSize: bs, linearize: oneShot, kernelDistance: oneShot, onProgress: opts.onProgress?.(`seed ${seed} lr ${lr} bs ${bs}`) });
        } catch (err) {
          if (!(err instanceof TrainingDivergedError)) throw err;
          runs.push({ lr, batch_size: bs, dev_score: null, best_step: err.result.bestStep, steps: err.result.steps, error: err.message });
          lastDiverged = { lr, bs, err };
          log(`seed ${seed}: lr ${lr} bs ${bs} diverged (${err.message})`);
          continue;
        }
        if (r.aborted) {
          aborted = { lr, bs, result: r };
          break outer;
        }
        const point = r.devHistory.find((p) => p.step === r.bestStep);
        const dev = point ? point.metric : NaN;
        runs.push({ lr, batch_size: bs, dev_score: Number.isFinite(dev) ? dev : null, best_step: r.bestStep, steps: r.steps });
        if (best === undefined || (Number.isFinite(dev) && (!Number.isFinite(best.dev) || dev > best.dev))) best = { lr, bs, dev, result: r };
      }
    }
    const grid_s = secs(tG);

    const baseLine = {
      version: FT_RUNNER_VERSION, time: new Date().toISOString(), config_id: configId, method: 'finetune' as const, task, k, seed,
      model: basename(resolve(modelDir)), model_id: modelId, mode, formula: opts.optimizer, solver: 'ft' as const, binary: false as const, subset, dtype, metric,
      grid: { lr: lrs, batch_size: bss }, grid_size: lrs.length * bss.length, grid_runs: runs, steps, eval_every: evalEvery, lora,
      n_train: N, n_dev: e.dev.length, n_test: e.test.length, max_test: maxTest, label_word_ids: labelWordIds, linear_probe: lpInfo,
    };
    const testMetricsOf = async (m: LmModel): Promise<{ logits: number[][]; metrics: Metrics }> => {
      const logits = await m.outputs({ inputs: e.test, output: mode, labelWordIds: labelWordIds ?? undefined, batchSize: opts.evalBatchSize });
      return { logits, metrics: computeMetrics(spec, argmaxRows(logits), e.testLabels) };
    };

    // Interrupted, or nothing trained: keep what was reached, marked, and stop.
    if (aborted || (opts.signal?.aborted && !best)) {
      const st = aborted?.result;
      let partialTest: Metrics | null = null;
      if (st) partialTest = st.testLogits ? computeMetrics(spec, argmaxRows(st.testLogits), e.testLabels) : (await testMetricsOf(st.model)).metrics;
      const line: FtResultLine = {
        ...baseLine, status: 'aborted', params: null, dev: null, test: null, dev_score: null, test_score: null, behaviour: null,
        partial: st ? { lr: aborted!.lr, batch_size: aborted!.bs, step: st.steps, test: partialTest } : undefined,
        train_loss: st && st.trainLoss.length ? { first: st.trainLoss[0], last: st.trainLoss[st.trainLoss.length - 1] } : null,
        timings: { encode_s, grid_s, behaviour_s: 0, total_s: secs(t0) },
      };
      appendLineAtomic(opts.out, JSON.stringify(line));
      log(`seed ${seed}: interrupted${st ? ` at step ${st.steps} of lr ${aborted!.lr} bs ${aborted!.bs}` : ''}; partial line written (status "aborted")`);
      stats.lines.push(line);
      stats.seeds.push({ seed, status: 'aborted', line });
      stats.aborted = true;
      break;
    }
    if (!best) {
      // Every run diverged: record the last good state of the last run, then fail.
      const d = lastDiverged!;
      const lastGood = d.err.result;
      const { metrics } = await testMetricsOf(lastGood.model);
      const line: FtResultLine = {
        ...baseLine, status: 'diverged', params: null, dev: null, test: null, dev_score: null, test_score: null, behaviour: null,
        partial: { lr: d.lr, batch_size: d.bs, step: lastGood.steps, test: metrics, error: d.err.message },
        train_loss: lastGood.trainLoss.length ? { first: lastGood.trainLoss[0], last: lastGood.trainLoss[lastGood.trainLoss.length - 1] } : null,
        timings: { encode_s, grid_s, behaviour_s: 0, total_s: secs(t0) },
      };
      appendLineAtomic(opts.out, JSON.stringify(line));
      throw new LmkError(
        `seed ${seed}: every fine-tuning run diverged (last: lr ${d.lr}, batch size ${d.bs}: ${d.err.message}); ` +
          `the last good state (step ${lastGood.steps}) was evaluated and written to ${opts.out} with status "diverged"`,
        'LMK_DIVERGED',
      );
    }

    // The selected run; with behaviour, its measurements (re-run unless the grid had one point).
    const tB = performance.now();
    let sel = best.result;
    let rerunDev: number | null | undefined;
    if (behaviour && !oneShot) {
      const r = await finetune(model, { ...common, lr: best.lr, batchSize: best.bs, linearize: true, kernelDistance: true, onProgress: opts.onProgress?.(`seed ${seed} behaviour`) });
      if (r.aborted) throw Object.assign(new Error(`run interrupted during the behaviour re-run of seed ${seed}`), { name: 'AbortError' });
      const p = r.devHistory.find((q) => q.step === r.bestStep);
      rerunDev = p ? p.metric : null;
      if (rerunDev !== best.dev) log(`seed ${seed}: the behaviour re-run's dev score ${rerunDev} differs from the grid's ${best.dev}`);
      sel = r;
    }
    const testLogits = sel.testLogits!;
    const test = computeMetrics(spec, argmaxRows(testLogits), e.testLabels);
    const devLogits = await sel.model.outputs({ inputs: e.dev, output: mode, labelWordIds: labelWordIds ?? undefined, batchSize: opts.evalBatchSize });
    const dev = computeMetrics(spec, argmaxRows(devLogits), e.devLabels);
    let beh: BehaviourRecord | null = null;
    let preLogits: number[][] | undefined;
    if (behaviour) {
      const pre = await testMetricsOf(model);
      preLogits = pre.logits;
      const lin = computeMetrics(spec, argmaxRows(sel.linearizedTestLogits!), e.testLabels);
      const [ps, ls, fs] = [scoreOf(pre.metrics, metric), scoreOf(lin, metric), scoreOf(test, metric)];
      beh = {
        pre_test: pre.metrics, linearized_test: lin, ft_test: test, pre_test_score: ps, linearized_test_score: ls, ft_test_score: fs,
        share_recovered: share(ls, ps, fs), share_recovered_acc: share(lin.acc, pre.metrics.acc, test.acc),
        kernel_distance_train_train: sel.trainSgdKernelRelativeDistance ?? null,
        kernel_distance_train_test: sel.trainTestSgdKernelRelativeDistance ?? null,
      };
      if (rerunDev !== undefined) beh.rerun_dev_score = rerunDev;
    }
    const behaviour_s = secs(tB);
    const line: FtResultLine = {
      ...baseLine, status: 'done',
      params: { lr: best.lr, batch_size: best.bs, best_step: sel.bestStep, steps: sel.steps },
      dev, test, dev_score: scoreOf(dev, metric), test_score: scoreOf(test, metric), behaviour: beh,
      train_loss: sel.trainLoss.length ? { first: sel.trainLoss[0], last: sel.trainLoss[sel.trainLoss.length - 1] } : null,
      timings: { encode_s, grid_s, behaviour_s, total_s: secs(t0) },
    };
    appendLineAtomic(opts.out, JSON.stringify(line));
    existing.set(configId, line);
    const pct = (x: number) => (x * 100).toFixed(1);
    log(
      `seed ${seed}: ${opts.optimizer} lr ${best.lr} bs ${best.bs} (step ${sel.bestStep}): dev ${metric} ${pct(line.dev_score!)}, test ${pct(line.test_score!)}` +
        (beh ? `; pre ${pct(beh.pre_test_score)}, linearized ${pct(beh.linearized_test_score)}, kernel distance ${beh.kernel_distance_train_train?.toPrecision(3)}` : '') +
        ` (${line.timings.total_s}s)`,
    );
    stats.lines.push(line);
    stats.seeds.push({ seed, status: 'done', line, testLogits, linearizedTestLogits: sel.linearizedTestLogits, preTestLogits: preLogits });
  }
  stats.total_s = secs(tStart);
  return stats;
}
