// The fine-tuning runner's result lines of a seed: "done" (with the behaviour measurements), "aborted"
// (the state reached) or "diverged" (the last good state); the runner is finetuneRun.ts.
import { basename, resolve } from 'node:path';
import { LmkError } from '../errors.js';
import { finetune, type FinetuneResult } from '../finetune.js';
import { computeMetrics, type Metrics } from '../metrics.js';
import type { LmModel } from '../model.js';
import { argmaxRows } from '../stats.js';
import {
  FT_RUNNER_VERSION,
  type BehaviourRecord,
  type FtResultLine,
  type FtRun,
  type FtSeed,
  type FtSeedResult,
  type GridOutcome,
} from './finetuneSpec.js';
import { abortError, secs } from './options.js';

const scoreOf = (m: Metrics, metric: string): number => (m as unknown as Record<string, number>)[metric];

function share(lin: number, pre: number, ft: number): number | null {
  const d = ft - pre;
  return d === 0 ? null : (lin - pre) / d;
}

const lossRange = (r: FinetuneResult) =>
  r.trainLoss.length ? { first: r.trainLoss[0], last: r.trainLoss[r.trainLoss.length - 1] } : null;

/** The fields every line of a seed shares, whatever its status. */
function baseLine(run: FtRun, s: FtSeed, g: GridOutcome) {
  return {
    version: FT_RUNNER_VERSION,
    time: new Date().toISOString(),
    config_id: s.configId,
    method: 'finetune' as const,
    task: run.task,
    k: run.k,
    seed: s.seed,
    model: basename(resolve(run.opts.modelDir)),
    model_id: run.prepared.modelId,
    output: run.output,
    formula: run.optimizer,
    solver: 'ft' as const,
    binary: false as const,
    subset: run.lora ? ('lora' as const) : ('all' as const),
    dtype: run.dtype,
    metric: run.metric,
    grid: { lr: run.lrs, batch_size: s.bss },
    grid_size: run.lrs.length * s.bss.length,
    grid_runs: g.runs,
    steps: run.steps,
    eval_every: run.evalEvery,
    dropout: run.dropout,
    lora: run.lora,
    n_train: s.e.train.length,
    n_dev: s.e.dev.length,
    n_test: s.e.test.length,
    max_test: run.maxTest,
    label_word_ids: run.prepared.labelWordIds,
    linear_probe: s.head ? s.head.info : null,
  };
}

async function testMetricsOf(run: FtRun, s: FtSeed, m: LmModel): Promise<{ logits: number[][]; metrics: Metrics }> {
  const logits = await m.outputs({
    inputs: s.e.test,
    output: run.output,
    labelWordIds: run.prepared.labelWordIds ?? undefined,
    batchSize: run.opts.evalBatchSize,
  });
  return { logits, metrics: computeMetrics(run.spec, argmaxRows(logits), s.e.testLabels) };
}

/** The fields of a seed that has no selected run (aborted or diverged): no scores, no measurements. */
const UNFINISHED = { params: null, dev: null, test: null, dev_score: null, test_score: null, behaviour: null } as const;

/** Interrupted, or nothing trained: the state reached, marked "aborted". */
export async function abortedLine(run: FtRun, s: FtSeed, g: GridOutcome): Promise<FtResultLine> {
  const st = g.aborted?.result;
  let partialTest: Metrics | null = null;
  if (st)
    partialTest = st.testLogits
      ? computeMetrics(run.spec, argmaxRows(st.testLogits), s.e.testLabels)
      : (await testMetricsOf(run, s, st.model)).metrics;
  run.log(
    `seed ${s.seed}: interrupted${st ? ` at step ${st.steps} of lr ${g.aborted!.lr} bs ${g.aborted!.bs}` : ''}; partial line written (status "aborted")`,
  );
  return {
    ...baseLine(run, s, g),
    status: 'aborted',
    ...UNFINISHED,
    partial: st ? { lr: g.aborted!.lr, batch_size: g.aborted!.bs, step: st.steps, test: partialTest } : undefined,
    train_loss: st ? lossRange(st) : null,
    timings: { encode_s: s.encode_s, grid_s: g.grid_s, behaviour_s: 0, total_s: secs(s.t0) },
  };
}

/** Every run diverged: the last good state of the last run, marked "diverged"; the error to throw after writing it. */
export async function divergedLine(run: FtRun, s: FtSeed, g: GridOutcome): Promise<[FtResultLine, LmkError]> {
  const d = g.lastDiverged!;
  const lastGood = d.err.result;
  const { metrics } = await testMetricsOf(run, s, lastGood.model);
  const line: FtResultLine = {
    ...baseLine(run, s, g),
    status: 'diverged',
    ...UNFINISHED,
    partial: { lr: d.lr, batch_size: d.bs, step: lastGood.steps, test: metrics, error: d.err.message },
    train_loss: lossRange(lastGood),
    timings: { encode_s: s.encode_s, grid_s: g.grid_s, behaviour_s: 0, total_s: secs(s.t0) },
  };
  const err = new LmkError(
    `seed ${s.seed}: every fine-tuning run diverged (last: lr ${d.lr}, batch size ${d.bs}: ${d.err.message}); ` +
      `the last good state (step ${lastGood.steps}) was evaluated and written to ${run.opts.out} with status "diverged"`,
    'LMK_DIVERGED',
  );
  return [line, err];
}

/** The selected run with the measurements on: the grid's own run when it had them, else a deterministic re-run. */
async function measuredRun(
  run: FtRun,
  s: FtSeed,
  best: NonNullable<GridOutcome['best']>,
): Promise<{ sel: FinetuneResult; rerunDev?: number | null }> {
  if (!run.behaviour || s.oneShot) return { sel: best.result };
  const onProgress = run.opts.onProgress?.(`seed ${s.seed} behaviour`);
  const r = await finetune(s.model, {
    ...s.common,
    lr: best.lr,
    batchSize: best.bs,
    linearize: true,
    kernelDistance: true,
    onProgress,
  });
  if (r.aborted) throw abortError(`run interrupted during the behaviour re-run of seed ${s.seed}`);
  const p = r.devHistory.find((q) => q.step === r.bestStep);
  const rerunDev = p ? p.metric : null;
  if (rerunDev !== best.dev)
    run.log(`seed ${s.seed}: the behaviour re-run's dev score ${rerunDev} differs from the grid's ${best.dev}`);
  return { sel: r, rerunDev };
}

/** Linearization and Fixed Features (the paper's §6): pre-trained, linearized and fine-tuned test scores, kernel distances. */
async function behaviourRecord(run: FtRun, s: FtSeed, sel: FinetuneResult, test: Metrics, rerunDev?: number | null) {
  const pre = await testMetricsOf(run, s, s.model);
  const lin = computeMetrics(run.spec, argmaxRows(sel.linearizedTestLogits!), s.e.testLabels);
  const [ps, ls, fs] = [scoreOf(pre.metrics, run.metric), scoreOf(lin, run.metric), scoreOf(test, run.metric)];
  const rec: BehaviourRecord = {
    pre_test: pre.metrics,
    linearized_test: lin,
    ft_test: test,
    pre_test_score: ps,
    linearized_test_score: ls,
    ft_test_score: fs,
    share_recovered: share(ls, ps, fs),
    share_recovered_acc: share(lin.acc, pre.metrics.acc, test.acc),
    kernel_distance_train_train: sel.trainKernelRelativeDistance ?? null,
    kernel_distance_train_test: sel.trainTestKernelRelativeDistance ?? null,
    kernel_distance_formula: run.kernelDistanceFormula,
  };
  if (rerunDev !== undefined) rec.rerun_dev_score = rerunDev;
  return { rec, preLogits: pre.logits };
}

/** The selected run's dev and test metrics and, with `behaviour`, its measurements: the seed's "done" result. */
export async function doneResult(run: FtRun, s: FtSeed, g: GridOutcome): Promise<FtSeedResult> {
  const best = g.best!;
  const tB = performance.now();
  const { sel, rerunDev } = await measuredRun(run, s, best);
  const testLogits = sel.testLogits!;
  const test = computeMetrics(run.spec, argmaxRows(testLogits), s.e.testLabels);
  const devLogits = await sel.model.outputs({
    inputs: s.e.dev,
    output: run.output,
    labelWordIds: run.prepared.labelWordIds ?? undefined,
    batchSize: run.opts.evalBatchSize,
  });
  const dev = computeMetrics(run.spec, argmaxRows(devLogits), s.e.devLabels);
  const b = run.behaviour ? await behaviourRecord(run, s, sel, test, rerunDev) : undefined;
  const line: FtResultLine = {
    ...baseLine(run, s, g),
    status: 'done',
    params: { lr: best.lr, batch_size: best.bs, best_step: sel.bestStep, steps: sel.steps },
    dev,
    test,
    dev_score: scoreOf(dev, run.metric),
    test_score: scoreOf(test, run.metric),
    behaviour: b ? b.rec : null,
    train_loss: lossRange(sel),
    timings: { encode_s: s.encode_s, grid_s: g.grid_s, behaviour_s: secs(tB), total_s: secs(s.t0) },
  };
  const pct = (x: number) => (x * 100).toFixed(1);
  const beh = line.behaviour;
  run.log(
    `seed ${s.seed}: ${run.optimizer} lr ${best.lr} bs ${best.bs} (step ${sel.bestStep}): dev ${run.metric} ${pct(line.dev_score!)}, test ${pct(line.test_score!)}` +
      (beh
        ? `; pre ${pct(beh.pre_test_score)}, linearized ${pct(beh.linearized_test_score)}, ${run.kernelDistanceFormula} kernel distance ${beh.kernel_distance_train_train?.toPrecision(3)}`
        : '') +
      ` (${line.timings.total_s}s)`,
  );
  return {
    seed: s.seed,
    status: 'done',
    line,
    testLogits,
    linearizedTestLogits: sel.linearizedTestLogits,
    preTestLogits: b?.preLogits,
  };
}
