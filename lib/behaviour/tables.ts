// Tables of the kernel-behaviour measurements from result lines: Linearization (pre-trained, linearized
// and fine-tuned test score, share of the improvement recovered) and Fixed Features (relative kernel
// distance train x train and train x test, of the eNTK formula each line names: the optimizer's analog by
// default, Table 7; lines without one used the SGD kernel), one row per (task, k, method, kernel-distance
// formula), cells mean (std) over seeds;
// also the χ table (Table 8) and the LoRA-vs-full table. Lines are de-duplicated by config_id (the last
// occurrence wins) and only finished lines (status "done") with a `behaviour` record are used.
import type { BehaviourRecord } from '../experiments/finetuneSpec.js';
import { dedupe, type ReadLineHead } from '../experiments/results.js';
import { meanStd } from '../stats.js';

export interface Agg {
  mean: number;
  std: number;
  n: number;
}

export function agg(values: readonly (number | null | undefined)[]): Agg {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (v.length === 0) return { mean: NaN, std: NaN, n: 0 };
  return { ...meanStd(v), n: v.length };
}

export interface BehaviourRow {
  task: string;
  k: number;
  method: string;
  metric: string;
  seeds: number[];
  pre: Agg;
  linearized: Agg;
  ft: Agg;
  /** Mean over seeds of the per-seed share (seeds with ft = pre left out). */
  shareRecovered: Agg;
  /** The share of the seed means: (mean lin − mean pre)/(mean ft − mean pre). */
  shareOfMeans: number | null;
  kernelDistanceTrainTrain: Agg;
  kernelDistanceTrainTest: Agg;
  /** The eNTK formula of the kernel distances ('sgd' for lines written before it was recorded). */
  kernelDistanceFormula: string;
}

interface FtLike extends ReadLineHead {
  solver: string;
  subset?: string;
  model?: string;
  metric: string;
  behaviour?: BehaviourRecord | null;
}

/** The prompt/standard choice of a line: `output`, or `mode` in lines that keep the old key. */
export const outputOf = (l: { output?: string; mode?: string }): string => l.output ?? l.mode ?? '';

export const methodLabel = (l: {
  output?: string;
  mode?: string;
  formula: string;
  solver: string;
  subset?: string;
  binary?: boolean;
}): string =>
  `${outputOf(l)}/${l.formula}/${l.solver}${l.binary ? '/binary' : ''}${l.subset && l.subset !== 'all' ? `/${l.subset}` : ''}`;

/** The eNTK of a line's kernel distances: recorded since runner version 2, the SGD kernel before. */
const kernelDistanceFormulaOf = (l: FtLike): string => l.behaviour?.kernel_distance_formula ?? 'sgd';

/** Fine-tuning lines that carry behaviour measurements. */
export function behaviourLines(lines: readonly unknown[]): FtLike[] {
  return dedupe(lines as FtLike[]).filter(
    (l) =>
      l &&
      typeof l === 'object' &&
      l.method === 'finetune' &&
      (l.status ?? 'done') === 'done' &&
      l.behaviour &&
      typeof l.behaviour === 'object',
  );
}

export function behaviourTable(lines: readonly unknown[]): BehaviourRow[] {
  const groups = new Map<string, FtLike[]>();
  for (const l of behaviourLines(lines)) {
    const key = `${l.task}\0${l.k}\0${methodLabel(l)}\0${kernelDistanceFormulaOf(l)}`;
    groups.set(key, [...(groups.get(key) ?? []), l]);
  }
  const rows: BehaviourRow[] = [];
  for (const ls of groups.values()) {
    // one line per seed: the last one
    const bySeed = new Map<number, FtLike>();
    for (const l of ls) bySeed.set(l.seed, l);
    const v = [...bySeed.values()].sort((a, b) => a.seed - b.seed);
    const b = v.map((l) => l.behaviour!);
    const pre = agg(b.map((x) => x.pre_test_score));
    const lin = agg(b.map((x) => x.linearized_test_score));
    const ft = agg(b.map((x) => x.ft_test_score));
    rows.push({
      task: v[0].task,
      k: v[0].k,
      method: methodLabel(v[0]),
      metric: v[0].metric,
      seeds: v.map((l) => l.seed),
      pre,
      linearized: lin,
      ft,
      shareRecovered: agg(b.map((x) => x.share_recovered)),
      shareOfMeans: ft.mean === pre.mean ? null : (lin.mean - pre.mean) / (ft.mean - pre.mean),
      kernelDistanceTrainTrain: agg(b.map((x) => x.kernel_distance_train_train)),
      kernelDistanceTrainTest: agg(b.map((x) => x.kernel_distance_train_test)),
      kernelDistanceFormula: kernelDistanceFormulaOf(v[0]),
    });
  }
  return rows.sort((a, b) => a.task.localeCompare(b.task) || a.k - b.k || a.method.localeCompare(b.method));
}

const pct = (a: Agg) => (a.n === 0 ? '–' : `${(a.mean * 100).toFixed(1)} (${(a.std * 100).toFixed(1)})`);
const num = (a: Agg, digits = 3) => (a.n === 0 ? '–' : `${a.mean.toPrecision(digits)} (${a.std.toPrecision(2)})`);
const esc = (s: string) => s.replace(/\|/g, '\\|');
const csvField = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
const mdTable = (head: string[], body: string[][]) =>
  [
    '| ' + head.map(esc).join(' | ') + ' |',
    '|' + head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|') + '|',
    ...body.map((r) => '| ' + r.map(esc).join(' | ') + ' |'),
  ].join('\n');
const csv = (head: string[], body: string[][]) => [head, ...body].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
const f = (x: number, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : '');

export function renderLinearizationMarkdown(rows: BehaviourRow[]): string {
  const head = ['Task', 'k', 'Method', 'Pre-trained', 'Linearized', 'Fine-tuned', '% of FT gain recovered', 'seeds'];
  const body = rows.map((r) => [
    `${r.task} (${r.metric})`,
    String(r.k),
    r.method,
    pct(r.pre),
    pct(r.linearized),
    pct(r.ft),
    r.shareRecovered.n === 0 ? '–' : `${(r.shareRecovered.mean * 100).toFixed(0)} (${(r.shareRecovered.std * 100).toFixed(0)})`,
    String(r.seeds.length),
  ]);
  return (
    'Linearization: test metric x100, mean (std) over seeds. Recovered = (lin − pre)/(ft − pre) per seed, x100 ' +
    '(seeds where ft = pre are left out).\n\n' +
    mdTable(head, body) +
    '\n'
  );
}

export function renderFixedFeaturesMarkdown(rows: BehaviourRow[]): string {
  const head = ['Task', 'k', 'Method', 'eNTK', '‖ΔK‖/‖K₀‖ train×train', '‖ΔK‖/‖K₀‖ train×test', 'seeds'];
  const body = rows.map((r) => [
    `${r.task}`,
    String(r.k),
    r.method,
    r.kernelDistanceFormula,
    num(r.kernelDistanceTrainTrain),
    num(r.kernelDistanceTrainTest),
    String(r.seeds.length),
  ]);
  return (
    "Fixed Features: relative distance of the eNTK (column eNTK: the optimizer's analog by default, the paper's Table 7) " +
    'between the pre-trained and the fine-tuned model, ‖K(θ_FT) − K(θ0)‖_F / ‖K(θ0)‖_F, mean (std) over seeds; ' +
    "the paper's Section 6 calls a distance below 2 low (Fixed Features holds).\n\n" +
    mdTable(head, body) +
    '\n'
  );
}

export function renderBehaviourCsv(rows: BehaviourRow[]): string {
  const head = [
    'task',
    'k',
    'method',
    'metric',
    'seeds',
    'pre_mean',
    'pre_std',
    'linearized_mean',
    'linearized_std',
    'ft_mean',
    'ft_std',
    'share_recovered_mean',
    'share_recovered_std',
    'share_of_means',
    'kd_train_train_mean',
    'kd_train_train_std',
    'kd_train_test_mean',
    'kd_train_test_std',
    'kd_formula',
  ];
  const body = rows.map((r) => [
    r.task,
    String(r.k),
    r.method,
    r.metric,
    String(r.seeds.length),
    f(r.pre.mean),
    f(r.pre.std),
    f(r.linearized.mean),
    f(r.linearized.std),
    f(r.ft.mean),
    f(r.ft.std),
    f(r.shareRecovered.mean),
    f(r.shareRecovered.std),
    r.shareOfMeans === null ? '' : f(r.shareOfMeans),
    f(r.kernelDistanceTrainTrain.mean, 6),
    f(r.kernelDistanceTrainTrain.std, 6),
    f(r.kernelDistanceTrainTest.mean, 6),
    f(r.kernelDistanceTrainTest.std, 6),
    r.kernelDistanceFormula,
  ]);
  return csv(head, body);
}

// χ and LoRA lines (written by `lmkernel behaviour chi|lora-vs-full`)

export interface ChiLine {
  kind: 'chi';
  task: string;
  k: number;
  seed: number;
  split: string;
  model: string;
  model_id: string;
  output: string;
  /** @deprecated `output` in lines written before the rename. */
  mode?: string;
  n: number;
  num_outputs: number;
  mean_abs_chi: number;
  std_abs_chi: number;
  mean_abs_chi_label: number;
  /** Per output c: mean |χ_ic|; per label class c: mean |χ| of its examples (lines before these fields: absent). */
  mean_abs_chi_by_output?: number[];
  mean_abs_chi_by_label?: number[];
  /** The model's hidden size (the width of the χ comparison). */
  hidden?: number;
  accuracy: number;
}

export function renderChiMarkdown(lines: ChiLine[]): string {
  const head = ['Model', 'Task', 'k-seed', 'split', 'output', 'mean |χ|', 'std', 'by output', 'by label class', 'acc at θ0', 'n'];
  const list = (v: number[] | undefined) => (v ? v.map((x) => (Number.isFinite(x) ? x.toFixed(4) : '–')).join(', ') : '–');
  const body = lines.map((l) => [
    l.model,
    l.task,
    `${l.k}-${l.seed}`,
    l.split,
    outputOf(l),
    l.mean_abs_chi.toFixed(4),
    l.std_abs_chi.toFixed(4),
    list(l.mean_abs_chi_by_output),
    list(l.mean_abs_chi_by_label),
    (l.accuracy * 100).toFixed(1),
    String(l.n),
  ]);
  return (
    'Natural-task test: mean over examples and outputs of |χ| = |softmax(f) − onehot(y)| at θ0 (Definition 5.3).\n\n' +
    mdTable(head, body) +
    '\n'
  );
}

export function renderChiCsv(lines: ChiLine[]): string {
  const head = [
    'model',
    'task',
    'k',
    'seed',
    'split',
    'output',
    'mean_abs_chi',
    'std_abs_chi',
    'mean_abs_chi_label',
    'accuracy',
    'n',
    'num_outputs',
  ];
  return csv(
    head,
    lines.map((l) => [
      l.model,
      l.task,
      String(l.k),
      String(l.seed),
      l.split,
      outputOf(l),
      f(l.mean_abs_chi, 6),
      f(l.std_abs_chi, 6),
      f(l.mean_abs_chi_label, 6),
      f(l.accuracy),
      String(l.n),
      String(l.num_outputs),
    ]),
  );
}

export interface LoraLine {
  kind: 'lora-vs-full';
  task: string;
  k: number;
  seed: number;
  model: string;
  output: string;
  /** @deprecated `output` in lines written before the rename. */
  mode?: string;
  init: string;
  alpha: number;
  n_examples: number;
  by_rank: { r: number; mean: number; std: number; n: number }[];
  points: { r: number; seed: number; scale: number; relDiff: number; normRatio: number }[];
}

export function renderLoraMarkdown(l: LoraLine): string {
  const head = ['r', 'mean ‖s·K_LoRA − K_full‖/‖K_full‖', 'std', 'LoRA seeds'];
  const body = l.by_rank.map((b) => [String(b.r), b.mean.toFixed(4), b.std.toFixed(4), String(b.n)]);
  return (
    `LoRA vs full kernel (${l.model}, ${l.task} ${l.k}-${l.seed}, ${outputOf(l)}, ${l.n_examples} train examples, A ${l.init}, α ${l.alpha}): ` +
    'relative Frobenius difference of the scaled LoRA eNTK (over B at B = 0) from the full SGD eNTK of the query/value weights.\n\n' +
    mdTable(head, body) +
    '\n'
  );
}
