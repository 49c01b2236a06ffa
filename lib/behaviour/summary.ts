// Table 1's summary from result lines: for every task, k and fine-tuning method (output/optimizer), does
// fine-tuning show kernel behaviour? Linearization: the linearized model recovers at least
// `minShareRecovered` of fine-tuning's gain over the pre-trained model (mean over seeds of the per-seed
// share); Fixed Features: the relative kernel distance ‖K(θ_FT) − K(θ0)‖/‖K(θ0)‖ (train × train and
// train × test, mean over seeds) is below `maxKernelDistance` — the paper's Section 6 calls a relative
// distance below 2 "low". Kernel behaviour = both. Alongside: the fine-tuned test score and the test score
// of the kernel column of the optimizer's kernel analog (SGD → sgd, Adam/SignGD → signgd and
// asymmetric_signgd) with the best mean dev score (per seed the best dev line, as `report` selects) for
// the same task, k and output.
import { dedupe, type ReadLineHead } from '../experiments/results.js';
import { mean } from '../stats.js';
import { behaviourTable, outputOf, type Agg, type BehaviourRow } from './tables.js';

export interface SummaryThresholds {
  /** Linearization holds when the mean share of FT's gain recovered is >= this (default 0.5: ours, see docs). */
  minShareRecovered: number;
  /** Fixed Features holds when the mean relative kernel distance is < this (default 2: the paper's "low"). */
  maxKernelDistance: number;
}
export const DEFAULT_SUMMARY_THRESHOLDS: SummaryThresholds = { minShareRecovered: 0.5, maxKernelDistance: 2 };

export interface SummaryRow {
  task: string;
  k: number;
  method: string;
  optimizer: string;
  output: string;
  seeds: number;
  ft: number;
  shareRecovered: number;
  kernelDistance: number;
  kernelDistanceFormula: string;
  linearization: boolean | null;
  fixedFeatures: boolean | null;
  kernelBehaviour: boolean | null;
  /** The best kernel column of the optimizer's analog (null when the results have none). */
  kernel: { column: string; test: number; seeds: number } | null;
}

interface KernelLine extends ReadLineHead {
  solver: string;
  binary?: boolean;
  subset?: string;
  dev_score: number | null;
  test_score: number | null;
}

const ANALOGS: Record<string, string[]> = {
  sgd: ['sgd'],
  adam: ['signgd', 'asymmetric_signgd'],
  signgd: ['signgd', 'asymmetric_signgd'],
};

/** The kernel column of the analog formulas with the best mean dev score (per seed its best dev line). */
function bestKernelColumn(lines: KernelLine[], task: string, k: number, output: string, optimizer: string) {
  const formulas = ANALOGS[optimizer] ?? [];
  const cols = new Map<string, Map<number, KernelLine>>();
  for (const l of lines) {
    if (l.task !== task || l.k !== k || outputOf(l) !== output || !formulas.includes(l.formula)) continue;
    if ((l.subset ?? 'all') !== 'all') continue;
    const col = `${output}/${l.formula}/${l.solver}${l.binary ? '/binary' : ''}`;
    const bySeed = cols.get(col) ?? new Map<number, KernelLine>();
    cols.set(col, bySeed);
    const prev = bySeed.get(l.seed);
    if (!prev || (l.dev_score ?? -Infinity) > (prev.dev_score ?? -Infinity)) bySeed.set(l.seed, l);
  }
  // the column is chosen on dev (mean over seeds of the selected lines' dev score), never on test
  let best: (SummaryRow['kernel'] & { dev: number }) | null = null;
  for (const [column, bySeed] of cols) {
    const dev = mean([...bySeed.values()].map((l) => l.dev_score ?? NaN));
    const test = mean([...bySeed.values()].map((l) => l.test_score ?? NaN));
    if (Number.isFinite(dev) && (!best || dev > best.dev)) best = { column, test, seeds: bySeed.size, dev };
  }
  return best && { column: best.column, test: best.test, seeds: best.seeds };
}

const finite = (a: Agg) => (a.n > 0 && Number.isFinite(a.mean) ? a.mean : NaN);

export function summaryTable(lines: readonly unknown[], th: SummaryThresholds = DEFAULT_SUMMARY_THRESHOLDS): SummaryRow[] {
  const rows: BehaviourRow[] = behaviourTable(lines);
  const kernelLines = dedupe(lines as KernelLine[]).filter(
    (l) =>
      l && typeof l === 'object' && l.method !== 'finetune' && (l.status ?? 'done') === 'done' && typeof l.formula === 'string',
  );
  return rows.map((r) => {
    const [output, optimizer] = r.method.split('/');
    const share = finite(r.shareRecovered);
    const dTT = finite(r.kernelDistanceTrainTrain);
    const dTX = finite(r.kernelDistanceTrainTest);
    const d = Number.isFinite(dTX) ? Math.max(dTT, dTX) : dTT;
    const linearization = Number.isFinite(share) ? share >= th.minShareRecovered : null;
    const fixedFeatures = Number.isFinite(d) ? d < th.maxKernelDistance : null;
    return {
      task: r.task,
      k: r.k,
      method: r.method,
      optimizer,
      output,
      seeds: r.seeds.length,
      ft: r.ft.mean,
      shareRecovered: share,
      kernelDistance: d,
      kernelDistanceFormula: r.kernelDistanceFormula,
      linearization,
      fixedFeatures,
      kernelBehaviour: linearization === null || fixedFeatures === null ? null : linearization && fixedFeatures,
      kernel: bestKernelColumn(kernelLines, r.task, r.k, output, optimizer),
    };
  });
}

const mark = (b: boolean | null) => (b === null ? '–' : b ? '✓' : '✗');
const pct = (x: number) => (Number.isFinite(x) ? (x * 100).toFixed(1) : '–');

export function renderSummaryMarkdown(rows: SummaryRow[], th: SummaryThresholds = DEFAULT_SUMMARY_THRESHOLDS): string {
  const head = [
    'Task',
    'k',
    'FT method',
    'seeds',
    'FT test',
    'kernel analog (best column)',
    'Linearization',
    'Fixed Features',
    'kernel behaviour',
  ];
  const body = rows.map((r) => [
    r.task,
    String(r.k),
    r.method,
    String(r.seeds),
    pct(r.ft),
    r.kernel ? `${pct(r.kernel.test)} (${r.kernel.column}, ${r.kernel.seeds} seeds)` : '–',
    `${mark(r.linearization)} ${pct(r.shareRecovered)} %`,
    `${mark(r.fixedFeatures)} ${Number.isFinite(r.kernelDistance) ? r.kernelDistance.toPrecision(3) : '–'} (${r.kernelDistanceFormula})`,
    mark(r.kernelBehaviour),
  ]);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return (
    `Kernel behaviour per task and fine-tuning method (the paper's Table 1). Linearization: ✓ when the linearized model ` +
    `recovers >= ${th.minShareRecovered * 100} % of FT's gain over the pre-trained model (mean over seeds); ` +
    `Fixed Features: ✓ when the relative kernel distance (the larger of train × train and train × test, mean over seeds; ` +
    `its eNTK formula in brackets) is < ${th.maxKernelDistance} (the paper's Section 6: "low"). Kernel behaviour: both. ` +
    'Test scores x100.\n\n' +
    [
      '| ' + head.map(esc).join(' | ') + ' |',
      '|' + head.map((_, i) => (i < 3 ? ' --- ' : ' ---: ')).join('|') + '|',
      ...body.map((r) => '| ' + r.map(esc).join(' | ') + ' |'),
    ].join('\n') +
    '\n'
  );
}
