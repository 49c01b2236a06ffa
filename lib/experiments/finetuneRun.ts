// The fine-tuning experiment runner: data folder -> fine-tuning over an lr x batch-size grid selected on
// dev -> test metrics (and, with `behaviour`, the paper's kernel-behaviour measurements) -> one
// results.jsonl line per seed, in the kernel runner's line format so that `lmkernel report` puts kernel
// and fine-tuning columns side by side (column `<output>/<optimizer>/ft`, `/lora` for LoRA).
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
import { LmkError } from '../errors.js';
import { finetune, TrainingDivergedError, type DevMetric, type FinetuneOptions, type FinetuneResult } from '../finetune.js';
import { appendLineAtomic } from '../io.js';
import { computeMetrics, selectionMetric, type Metrics } from '../metrics.js';
import { loadModel, type LmModel } from '../model.js';
import { argmaxRows } from '../stats.js';
import type { TaskSpec } from '../tasks/index.js';
import { hashJson } from './cache.js';
import {
  FT_RUNNER_VERSION,
  resolveFtOptions,
  type BehaviourRecord,
  type FinetuneRunOptions,
  type FtResultLine,
  type FtRunStats,
  type FtSeedResult,
  type GridRunRecord,
} from './finetuneSpec.js';
import { abortError, secs } from './options.js';
import { inputsId, loadEncodedSplits, prepareModel, seedHead, type EncodedSplits, type PreparedModel, type SeedHead } from './prepare.js';
import { finishedLines } from './results.js';

function devMetricOf(spec: TaskSpec): DevMetric {
  const m = selectionMetric(spec);
  return m === 'f1' ? 'f1' : m === 'mcc' ? 'mcc' : 'accuracy';
}

const scoreOf = (m: Metrics, metric: string): number => (m as unknown as Record<string, number>)[metric];

function share(lin: number, pre: number, ft: number): number | null {
  const d = ft - pre;
  return d === 0 ? null : (lin - pre) / d;
}

const lossRange = (r: FinetuneResult) => (r.trainLoss.length ? { first: r.trainLoss[0], last: r.trainLoss[r.trainLoss.length - 1] } : null);

/** The validated settings of a fine-tuning run and the state its seeds share. */
interface FtRun extends ReturnType<typeof resolveFtOptions> {
  opts: FinetuneRunOptions;
  prepared: PreparedModel;
  /** The model at θ0 (loaded once). */
  base: LmModel;
  behaviour: boolean;
  metric: string;
}

/** One seed's data, model at θ0 and fine-tuning options common to its grid. */
interface FtSeed {
  seed: number;
  t0: number;
  encode_s: number;
  e: EncodedSplits;
  configId: string;
  model: LmModel;
  head: SeedHead | null;
  bss: number[];
  oneShot: boolean;
  common: Omit<FinetuneOptions, 'lr' | 'batchSize'>;
}

interface GridOutcome {
  runs: GridRunRecord[];
  best?: { lr: number; bs: number; dev: number; result: FinetuneResult };
  aborted?: { lr: number; bs: number; result: FinetuneResult };
  lastDiverged?: { lr: number; bs: number; err: TrainingDivergedError };
  grid_s: number;
}

async function startFtRun(opts: FinetuneRunOptions): Promise<FtRun> {
  const r = resolveFtOptions(opts);
  const memo = join(dirname(resolve(opts.out)), '.lmkernel-cache', 'file-hashes.json');
  // The model is checked by loading it (precise errors), once.
  const base = await loadModel(opts.modelDir, { dtype: r.dtype, device: opts.device, signal: opts.signal });
  const prepared = await prepareModel(r, opts, memo);
  return { ...r, opts, prepared, base, behaviour: !!opts.behaviour, metric: selectionMetric(r.spec) };
}

/** The config id of a seed: a hash of everything that determines its line. */
function ftConfigId(run: FtRun, seed: number, e: EncodedSplits, bss: number[]): string {
  const { opts, prepared } = run;
  // Key names (`mode`) kept as they were, so that existing results files still match.
  return hashJson({
    v: FT_RUNNER_VERSION, method: 'finetune', task: run.task, k: run.k, seed, model: prepared.modelId, mode: run.output, optimizer: run.optimizer,
    lrs: run.lrs, batchSizes: bss, steps: run.steps, evalEvery: run.evalEvery, lora: run.lora, behaviour: run.behaviour, dtype: run.dtype,
    labelWordIds: prepared.labelWordIds, template: prepared.enc.prompt.template, linearProbe: run.linearProbe, maxTest: run.maxTest,
    inputs: inputsId(e), maxGradNorm: opts.maxGradNorm ?? 1, weightDecay: opts.weightDecay ?? 0,
  });
}

/** The model at θ0 for a seed: LoRA (seeded A) on a fresh copy; the standard head by linear probing. */
async function seedModel(run: FtRun, seed: number, e: EncodedSplits): Promise<{ model: LmModel; head: SeedHead | null }> {
  let model = run.base;
  if (run.lora) {
    model = await loadModel(run.opts.modelDir, { dtype: run.dtype, device: run.opts.device, signal: run.opts.signal });
    model.applyLora({ r: run.lora.r, alpha: run.lora.alpha, seed });
  }
  const head = await seedHead({
    getModel: async () => model, train: e.train, trainLabels: e.trainLabels, numClasses: run.spec.labels.length,
    options: run.linearProbe, cache: null, signal: run.opts.signal,
  });
  if (head) model.setClassifier(head.weight, head.bias);
  return { model, head };
}

async function prepareSeed(run: FtRun, seed: number, e: EncodedSplits, t0: number, configId: string, bss: number[]): Promise<FtSeed> {
  const encode_s = secs(t0);
  const { model, head } = await seedModel(run, seed, e);
  const o = run.opts;
  const common = {
    train: e.train, trainLabels: e.trainLabels, dev: e.dev, devLabels: e.devLabels, test: e.test,
    output: run.output, labelWordIds: run.prepared.labelWordIds ?? undefined, optimizer: run.optimizer, steps: run.steps,
    evalEvery: run.evalEvery, metric: devMetricOf(run.spec), seed, trainable: run.lora ? ('lora' as const) : ('all' as const),
    maxGradNorm: o.maxGradNorm, weightDecay: o.weightDecay, evalBatchSize: o.evalBatchSize, kernelBatchSize: o.kernelBatchSize, signal: o.signal,
  };
  const oneShot = run.behaviour && bss.length * run.lrs.length === 1;
  return { seed, t0, encode_s, e, configId, model, head, bss, oneShot, common };
}

/** Fine-tunes every (batch size, lr) of the grid; the best dev score wins (ties: the first in grid order). */
async function runGrid(run: FtRun, s: FtSeed): Promise<GridOutcome> {
  const tG = performance.now();
  const out: GridOutcome = { runs: [], grid_s: 0 };
  outer: for (const bs of s.bss) {
    for (const lr of run.lrs) {
      if (run.opts.signal?.aborted) break outer;
      let r: FinetuneResult;
      const onProgress = run.opts.onProgress?.(`seed ${s.seed} lr ${lr} bs ${bs}`);
      try {
        r = await finetune(s.model, { ...s.common, lr, batchSize: bs, linearize: s.oneShot, kernelDistance: s.oneShot, onProgress });
      } catch (err) {
        if (!(err instanceof TrainingDivergedError)) throw err;
        out.runs.push({ lr, batch_size: bs, dev_score: null, best_step: err.result.bestStep, steps: err.result.steps, error: err.message });
        out.lastDiverged = { lr, bs, err };
        run.log(`seed ${s.seed}: lr ${lr} bs ${bs} diverged (${err.message})`);
        continue;
      }
      if (r.aborted) {
        out.aborted = { lr, bs, result: r };
        break outer;
      }
      const point = r.devHistory.find((p) => p.step === r.bestStep);
      const dev = point ? point.metric : NaN;
      out.runs.push({ lr, batch_size: bs, dev_score: Number.isFinite(dev) ? dev : null, best_step: r.bestStep, steps: r.steps });
      const b = out.best;
      if (b === undefined || (Number.isFinite(dev) && (!Number.isFinite(b.dev) || dev > b.dev))) out.best = { lr, bs, dev, result: r };
    }
  }
  out.grid_s = secs(tG);
  return out;
}

/** The fields every line of a seed shares, whatever its status. */
function baseLine(run: FtRun, s: FtSeed, g: GridOutcome) {
  return {
    version: FT_RUNNER_VERSION, time: new Date().toISOString(), config_id: s.configId, method: 'finetune' as const, task: run.task, k: run.k,
    seed: s.seed, model: basename(resolve(run.opts.modelDir)), model_id: run.prepared.modelId, output: run.output, formula: run.optimizer,
    solver: 'ft' as const, binary: false as const, subset: run.lora ? ('lora' as const) : ('all' as const), dtype: run.dtype, metric: run.metric,
    grid: { lr: run.lrs, batch_size: s.bss }, grid_size: run.lrs.length * s.bss.length, grid_runs: g.runs, steps: run.steps,
    eval_every: run.evalEvery, lora: run.lora, n_train: s.e.train.length, n_dev: s.e.dev.length, n_test: s.e.test.length,
    max_test: run.maxTest, label_word_ids: run.prepared.labelWordIds, linear_probe: s.head ? s.head.info : null,
  };
}

async function testMetricsOf(run: FtRun, s: FtSeed, m: LmModel): Promise<{ logits: number[][]; metrics: Metrics }> {
  const logits = await m.outputs({ inputs: s.e.test, output: run.output, labelWordIds: run.prepared.labelWordIds ?? undefined, batchSize: run.opts.evalBatchSize });
  return { logits, metrics: computeMetrics(run.spec, argmaxRows(logits), s.e.testLabels) };
}

/** Interrupted, or nothing trained: the state reached, marked "aborted". */
async function abortedLine(run: FtRun, s: FtSeed, g: GridOutcome): Promise<FtResultLine> {
  const st = g.aborted?.result;
  let partialTest: Metrics | null = null;
  if (st) partialTest = st.testLogits ? computeMetrics(run.spec, argmaxRows(st.testLogits), s.e.testLabels) : (await testMetricsOf(run, s, st.model)).metrics;
  run.log(`seed ${s.seed}: interrupted${st ? ` at step ${st.steps} of lr ${g.aborted!.lr} bs ${g.aborted!.bs}` : ''}; partial line written (status "aborted")`);
  return {
    ...baseLine(run, s, g), status: 'aborted', params: null, dev: null, test: null, dev_score: null, test_score: null, behaviour: null,
    partial: st ? { lr: g.aborted!.lr, batch_size: g.aborted!.bs, step: st.steps, test: partialTest } : undefined,
    train_loss: st ? lossRange(st) : null, timings: { encode_s: s.encode_s, grid_s: g.grid_s, behaviour_s: 0, total_s: secs(s.t0) },
  };
}

/** Every run diverged: the last good state of the last run, marked "diverged"; the error to throw after writing it. */
async function divergedLine(run: FtRun, s: FtSeed, g: GridOutcome): Promise<[FtResultLine, LmkError]> {
  const d = g.lastDiverged!;
  const lastGood = d.err.result;
  const { metrics } = await testMetricsOf(run, s, lastGood.model);
  const line: FtResultLine = {
    ...baseLine(run, s, g), status: 'diverged', params: null, dev: null, test: null, dev_score: null, test_score: null, behaviour: null,
    partial: { lr: d.lr, batch_size: d.bs, step: lastGood.steps, test: metrics, error: d.err.message },
    train_loss: lossRange(lastGood), timings: { encode_s: s.encode_s, grid_s: g.grid_s, behaviour_s: 0, total_s: secs(s.t0) },
  };
  const err = new LmkError(
    `seed ${s.seed}: every fine-tuning run diverged (last: lr ${d.lr}, batch size ${d.bs}: ${d.err.message}); ` +
      `the last good state (step ${lastGood.steps}) was evaluated and written to ${run.opts.out} with status "diverged"`,
    'LMK_DIVERGED',
  );
  return [line, err];
}

/** The selected run with the measurements on: the grid's own run when it had them, else a deterministic re-run. */
async function measuredRun(run: FtRun, s: FtSeed, best: NonNullable<GridOutcome['best']>): Promise<{ sel: FinetuneResult; rerunDev?: number | null }> {
  if (!run.behaviour || s.oneShot) return { sel: best.result };
  const onProgress = run.opts.onProgress?.(`seed ${s.seed} behaviour`);
  const r = await finetune(s.model, { ...s.common, lr: best.lr, batchSize: best.bs, linearize: true, kernelDistance: true, onProgress });
  if (r.aborted) throw abortError(`run interrupted during the behaviour re-run of seed ${s.seed}`);
  const p = r.devHistory.find((q) => q.step === r.bestStep);
  const rerunDev = p ? p.metric : null;
  if (rerunDev !== best.dev) run.log(`seed ${s.seed}: the behaviour re-run's dev score ${rerunDev} differs from the grid's ${best.dev}`);
  return { sel: r, rerunDev };
}

/** Linearization and Fixed Features (the paper's §6): pre-trained, linearized and fine-tuned test scores, kernel distances. */
async function behaviourRecord(run: FtRun, s: FtSeed, sel: FinetuneResult, test: Metrics, rerunDev?: number | null) {
  const pre = await testMetricsOf(run, s, s.model);
  const lin = computeMetrics(run.spec, argmaxRows(sel.linearizedTestLogits!), s.e.testLabels);
  const [ps, ls, fs] = [scoreOf(pre.metrics, run.metric), scoreOf(lin, run.metric), scoreOf(test, run.metric)];
  const rec: BehaviourRecord = {
    pre_test: pre.metrics, linearized_test: lin, ft_test: test, pre_test_score: ps, linearized_test_score: ls, ft_test_score: fs,
    share_recovered: share(ls, ps, fs), share_recovered_acc: share(lin.acc, pre.metrics.acc, test.acc),
    kernel_distance_train_train: sel.trainSgdKernelRelativeDistance ?? null,
    kernel_distance_train_test: sel.trainTestSgdKernelRelativeDistance ?? null,
  };
  if (rerunDev !== undefined) rec.rerun_dev_score = rerunDev;
  return { rec, preLogits: pre.logits };
}

/** The selected run's dev and test metrics and, with `behaviour`, its measurements: the seed's "done" result. */
async function doneResult(run: FtRun, s: FtSeed, g: GridOutcome): Promise<FtSeedResult> {
  const best = g.best!;
  const tB = performance.now();
  const { sel, rerunDev } = await measuredRun(run, s, best);
  const testLogits = sel.testLogits!;
  const test = computeMetrics(run.spec, argmaxRows(testLogits), s.e.testLabels);
  const devLogits = await sel.model.outputs({ inputs: s.e.dev, output: run.output, labelWordIds: run.prepared.labelWordIds ?? undefined, batchSize: run.opts.evalBatchSize });
  const dev = computeMetrics(run.spec, argmaxRows(devLogits), s.e.devLabels);
  const b = run.behaviour ? await behaviourRecord(run, s, sel, test, rerunDev) : undefined;
  const line: FtResultLine = {
    ...baseLine(run, s, g), status: 'done', params: { lr: best.lr, batch_size: best.bs, best_step: sel.bestStep, steps: sel.steps },
    dev, test, dev_score: scoreOf(dev, run.metric), test_score: scoreOf(test, run.metric), behaviour: b ? b.rec : null,
    train_loss: lossRange(sel), timings: { encode_s: s.encode_s, grid_s: g.grid_s, behaviour_s: secs(tB), total_s: secs(s.t0) },
  };
  const pct = (x: number) => (x * 100).toFixed(1);
  const beh = line.behaviour;
  run.log(
    `seed ${s.seed}: ${run.optimizer} lr ${best.lr} bs ${best.bs} (step ${sel.bestStep}): dev ${run.metric} ${pct(line.dev_score!)}, test ${pct(line.test_score!)}` +
      (beh ? `; pre ${pct(beh.pre_test_score)}, linearized ${pct(beh.linearized_test_score)}, kernel distance ${beh.kernel_distance_train_train?.toPrecision(3)}` : '') +
      ` (${line.timings.total_s}s)`,
  );
  return { seed: s.seed, status: 'done', line, testLogits, linearizedTestLogits: sel.linearizedTestLogits, preTestLogits: b?.preLogits };
}

export async function runFinetuneExperiment(opts: FinetuneRunOptions): Promise<FtRunStats> {
  const tStart = performance.now();
  const run = await startFtRun(opts);
  const existing = finishedLines<FtResultLine>(opts.out, (l) => l.status === undefined || l.status === 'done');
  const stats: FtRunStats = { seeds: [], lines: [], skipped: 0, aborted: false, total_s: 0 };
  const record = (r: FtSeedResult) => {
    stats.lines.push(r.line);
    stats.seeds.push(r);
  };
  for (const seed of run.seeds) {
    if (opts.signal?.aborted) {
      stats.aborted = true;
      break;
    }
    const t0 = performance.now();
    const e = loadEncodedSplits(opts.dataDir, run.spec, run.k, seed, run.prepared.enc, run.output, { maxTest: run.maxTest });
    // Batch sizes >= N are all "the full batch": try it once.
    const bss = [...new Set(run.batchSizes.map((b) => Math.min(b, e.train.length)))];
    const configId = ftConfigId(run, seed, e, bss);
    const prev = existing.get(configId);
    if (prev) {
      run.log(`seed ${seed}: already in ${opts.out}, skipped`);
      stats.skipped++;
      record({ seed, status: 'skipped', line: prev });
      continue;
    }
    const s = await prepareSeed(run, seed, e, t0, configId, bss);
    const g = await runGrid(run, s);
    if (g.aborted || (opts.signal?.aborted && !g.best)) {
      const line = await abortedLine(run, s, g);
      appendLineAtomic(opts.out, JSON.stringify(line));
      record({ seed, status: 'aborted', line });
      stats.aborted = true;
      break;
    }
    if (!g.best) {
      const [line, err] = await divergedLine(run, s, g);
      appendLineAtomic(opts.out, JSON.stringify(line));
      throw err;
    }
    const r = await doneResult(run, s, g);
    appendLineAtomic(opts.out, JSON.stringify(r.line));
    existing.set(configId, r.line);
    record(r);
  }
  stats.total_s = secs(tStart);
  return stats;
}
