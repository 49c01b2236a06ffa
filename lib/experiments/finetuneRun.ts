// The fine-tuning experiment runner: data folder -> fine-tuning over an lr x batch-size grid selected on
// dev -> test metrics (and, with `behaviour`, the paper's kernel-behaviour measurements) -> one
// results.jsonl line per seed, in the kernel runner's line format so that `lmkernel report` puts kernel
// and fine-tuning columns side by side (column `<output>/<optimizer>/ft`, `/lora` for LoRA).
//
// Per seed: read and encode train/dev/test of <dataDir>/<TASK>/<k>-<seed>/ (prompt, or standard with the
// head fitted by linear probing, REFERENCE.md §3.5), fine-tune a copy of the model for every (lr, batch
// size) with dev evaluation every `evalEvery` steps (the best dev state of each run is kept, §7.1), pick
// the run with the best dev score (ties: the first in grid order, batch size outermost), evaluate it on
// test. Training uses dropout 0.1 (LM-BFF's) unless told otherwise; evaluation and the measurements are
// in eval mode. With `behaviour`: the pre-trained model's test metrics, the linearized model's test metrics
// f(θ0) + ∇f(θ0)·(θ_FT − θ0), the share of the fine-tuning improvement the linearization recovers
// (acc_lin − acc_pre)/(acc_ft − acc_pre), and the relative kernel distance ‖K(θ_FT) − K(θ0)‖_F/‖K(θ0)‖_F
// for train x train and train x test, of the optimizer's kernel analog by default (SGD after SGD, SignGD
// after Adam and SignGD: the paper's Table 7) (the paper's Linearization and Fixed Features checks). With a
// grid of more than one point the selected run is trained again with the measurements on (training is
// deterministic: seeded batches), so that the grid's runs stay cheap.
//
// Resuming: as the kernel runner, every line carries a `config_id` hash of everything that determines it;
// seeds whose config_id is in the output file with status "done" are skipped. An interrupted seed (abort)
// writes a line with status "aborted" and null scores, whose `partial` field holds the state reached; a
// seed whose every run diverged writes status "diverged" with the last good state's test metrics, then
// fails with an error naming the step. Neither counts as finished.
import { dirname, join, resolve } from 'node:path';
import { finetune, TrainingDivergedError, type DevMetric, type FinetuneResult } from '../finetune.js';
import { appendLineAtomic } from '../io.js';
import { selectionMetric } from '../metrics.js';
import { loadModel, type LmModel } from '../model.js';
import type { TaskSpec } from '../tasks/index.js';
import { hashJson } from './cache.js';
import { abortedLine, divergedLine, doneResult } from './finetuneLines.js';
import {
  FT_RUNNER_VERSION,
  resolveFtOptions,
  type FinetuneRunOptions,
  type FtResultLine,
  type FtRun,
  type FtRunStats,
  type FtSeed,
  type FtSeedResult,
  type GridOutcome,
} from './finetuneSpec.js';
import { secs } from './options.js';
import { inputsId, loadEncodedSplits, prepareModel, seedHead, type EncodedSplits, type SeedHead } from './prepare.js';
import { finishedLines } from './results.js';

function devMetricOf(spec: TaskSpec): DevMetric {
  const m = selectionMetric(spec);
  return m === 'f1' ? 'f1' : m === 'mcc' ? 'mcc' : 'accuracy';
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
    v: FT_RUNNER_VERSION,
    method: 'finetune',
    task: run.task,
    k: run.k,
    seed,
    model: prepared.modelId,
    mode: run.output,
    optimizer: run.optimizer,
    lrs: run.lrs,
    batchSizes: bss,
    steps: run.steps,
    evalEvery: run.evalEvery,
    dropout: run.dropout,
    lora: run.lora,
    behaviour: run.behaviour,
    kernelDistanceFormula: run.behaviour ? run.kernelDistanceFormula : null,
    dtype: run.dtype,
    labelWordIds: prepared.labelWordIds,
    template: prepared.enc.prompt.template,
    linearProbe: run.linearProbe,
    maxTest: run.maxTest,
    inputs: inputsId(e),
    maxGradNorm: opts.maxGradNorm ?? 1,
    weightDecay: opts.weightDecay ?? 0,
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
    getModel: async () => model,
    train: e.train,
    trainLabels: e.trainLabels,
    numClasses: run.spec.labels.length,
    options: run.linearProbe,
    cache: null,
    signal: run.opts.signal,
  });
  if (head) model.setClassifier(head.weight, head.bias);
  return { model, head };
}

async function prepareSeed(
  run: FtRun,
  seed: number,
  e: EncodedSplits,
  t0: number,
  configId: string,
  bss: number[],
): Promise<FtSeed> {
  const encode_s = secs(t0);
  const { model, head } = await seedModel(run, seed, e);
  const o = run.opts;
  const common = {
    train: e.train,
    trainLabels: e.trainLabels,
    dev: e.dev,
    devLabels: e.devLabels,
    test: e.test,
    output: run.output,
    labelWordIds: run.prepared.labelWordIds ?? undefined,
    optimizer: run.optimizer,
    steps: run.steps,
    evalEvery: run.evalEvery,
    dropout: run.dropout,
    kernelDistanceFormula: run.kernelDistanceFormula,
    metric: devMetricOf(run.spec),
    seed,
    trainable: run.lora ? ('lora' as const) : ('all' as const),
    maxGradNorm: o.maxGradNorm,
    weightDecay: o.weightDecay,
    evalBatchSize: o.evalBatchSize,
    kernelBatchSize: o.kernelBatchSize,
    signal: o.signal,
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
        r = await finetune(s.model, {
          ...s.common,
          lr,
          batchSize: bs,
          linearize: s.oneShot,
          kernelDistance: s.oneShot,
          onProgress,
        });
      } catch (err) {
        if (!(err instanceof TrainingDivergedError)) throw err;
        out.runs.push({
          lr,
          batch_size: bs,
          dev_score: null,
          best_step: err.result.bestStep,
          steps: err.result.steps,
          error: err.message,
        });
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
      if (b === undefined || (Number.isFinite(dev) && (!Number.isFinite(b.dev) || dev > b.dev)))
        out.best = { lr, bs, dev, result: r };
    }
  }
  out.grid_s = secs(tG);
  return out;
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
