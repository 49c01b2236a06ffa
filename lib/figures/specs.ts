// The figures' data and vega-lite specs (rendering and files: index.ts).
import type { TopLevelSpec } from 'vega-lite';
import { reportTable } from '../experiments/report.js';
import { dedupe } from '../experiments/results.js';
import { meanStd } from '../stats.js';
import type { BehaviourRow, ChiLine, LoraLine } from '../behaviour/tables.js';

export const FONT = 'DejaVu Sans';

export const CONFIG = {
  font: FONT,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, labelLimit: 160 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 320 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  title: { fontSize: 14, anchor: 'start' as const, offset: 12 },
};

/** Is this a kernel- or fine-tuning result line (not chi / lora-vs-full)? */
const isRunLine = (l: Record<string, unknown>) =>
  l &&
  typeof l === 'object' &&
  l.kind === undefined &&
  typeof l.task === 'string' &&
  typeof l.solver === 'string' &&
  (l.status ?? 'done') === 'done';

export interface Figure1Datum {
  task: string;
  /** prompt | standard. */
  output: string;
  method: string;
  kind: 'zero-shot' | 'kernel' | 'fine-tuning';
  mean: number;
  std: number;
  lo: number;
  hi: number;
  n: number;
}

/**
 * The pre-trained model's test score per (task, output): from fine-tuning lines with behaviour
 * measurements (`pre_test_score`, the same θ0 for every optimizer: one value per seed). For the prompt
 * output it is zero-shot prompting, as the paper's Figure 1 draws beside the kernels and fine-tuning.
 */
function preTrainedData(run: Record<string, unknown>[], taskLabel: (task: string, k: number) => string): Figure1Datum[] {
  const bySeed = new Map<string, Map<number, number>>();
  for (const l of dedupe(run as { config_id?: string }[]) as Record<string, unknown>[]) {
    const b = l.behaviour as { pre_test_score?: number } | null | undefined;
    if (l.method !== 'finetune' || !b || typeof b.pre_test_score !== 'number') continue;
    if ((l.subset ?? 'all') !== 'all') continue; // LoRA's θ0 is the same model: one value is enough
    const key = `${l.task}\0${l.k}\0${l.output ?? l.mode}`;
    const m = bySeed.get(key) ?? new Map<number, number>();
    bySeed.set(key, m);
    m.set(l.seed as number, b.pre_test_score);
  }
  return [...bySeed].map(([key, m]) => {
    const [task, k, output] = key.split('\0');
    const vals = [...m.values()].map((v) => 100 * v);
    const { mean: mu, std } = meanStd(vals);
    return {
      task: taskLabel(task, Number(k)),
      output,
      method: output === 'prompt' ? 'zero-shot (pre-trained)' : 'pre-trained (θ0)',
      kind: 'zero-shot' as const,
      mean: mu,
      std,
      lo: mu - std,
      hi: mu + std,
      n: vals.length,
    };
  });
}

export function figure1Data(lines: readonly unknown[]): Figure1Datum[] {
  const run = (lines as Record<string, unknown>[]).filter(isRunLine);
  if (run.length === 0) return [];
  const t = reportTable(run);
  const labels = new Map(t.rows.map((r) => [`${r.task}\0${r.k}`, r.label]));
  const out: Figure1Datum[] = preTrainedData(run, (task, k) => labels.get(`${task}\0${k}`) ?? task);
  for (const r of t.rows)
    for (const c of t.columns) {
      const cell = t.cells[r.key]?.[c.key];
      if (!cell || !Number.isFinite(cell.mean)) continue;
      // column label: [model:]output/formula/solver[/...]
      const parts = c.label.replace(/^[^/]*:/, '').split('/');
      const output = parts[0];
      const ft = parts[2] === 'ft';
      const method = ft
        ? `FT ${parts[1]}${parts
            .slice(3)
            .map((p) => ' ' + p)
            .join('')}`
        : `kernel ${parts[1]} (${parts.slice(2).join(', ')})`;
      const modelPrefix = c.label.includes(':') ? c.label.slice(0, c.label.indexOf(':') + 1) + ' ' : '';
      const m = 100 * cell.mean;
      const s = 100 * cell.std;
      out.push({
        task: r.label,
        output,
        method: modelPrefix + method,
        kind: ft ? 'fine-tuning' : 'kernel',
        mean: m,
        std: s,
        lo: m - s,
        hi: m + s,
        n: cell.n,
      });
    }
  return out;
}

function groupedBars(
  data: object[],
  opts: {
    title: string;
    subtitle?: string;
    x: string;
    xTitle: string;
    series: string;
    seriesTitle: string;
    facet?: string;
    yTitle: string;
    seriesOrder?: string[];
    yDomain?: [number, number];
  },
): TopLevelSpec {
  const color = {
    field: opts.series,
    type: 'nominal' as const,
    title: opts.seriesTitle,
    sort: opts.seriesOrder,
    legend: { orient: 'bottom' as const, direction: 'vertical' as const },
  };
  const y = {
    field: 'mean',
    type: 'quantitative' as const,
    title: opts.yTitle,
    scale: opts.yDomain ? { domain: opts.yDomain } : { zero: true },
  };
  const x = { field: opts.x, type: 'nominal' as const, title: opts.xTitle, axis: { labelAngle: -30 } };
  const xOffset = { field: opts.series, type: 'nominal' as const, sort: opts.seriesOrder };
  const layer = [
    {
      mark: { type: 'bar' as const },
      encoding: {
        x,
        xOffset,
        y,
        color,
        tooltip: [
          { field: opts.x },
          { field: opts.series },
          { field: 'mean', format: '.1f' },
          { field: 'std', format: '.1f' },
          { field: 'n' },
        ],
      },
    },
    {
      mark: { type: 'rule' as const, color: '#333' },
      encoding: { x, xOffset, y: { field: 'lo', type: 'quantitative' as const }, y2: { field: 'hi' } },
    },
  ];
  // Panel width from the data: about 26 px per bar, at least 200 px (room for the panel header).
  const tasks = new Set(data.map((d) => (d as Record<string, unknown>)[opts.x])).size;
  const perPanel = new Map<unknown, Set<unknown>>();
  for (const d of data as Record<string, unknown>[]) {
    const key = opts.facet ? d[opts.facet] : '';
    perPanel.set(key, (perPanel.get(key) ?? new Set()).add(d[opts.series]));
  }
  const series = Math.max(1, ...[...perPanel.values()].map((v) => v.size));
  const width = Math.max(200, tasks * (series * 26 + 16));
  const common = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: opts.subtitle ? { text: opts.title, subtitle: opts.subtitle } : opts.title,
    data: { values: data },
    config: CONFIG,
  };
  if (opts.facet)
    return {
      ...common,
      facet: { column: { field: opts.facet, type: 'nominal', title: null, header: { labelFontWeight: 'bold', labelLimit: 0 } } },
      spec: { width, height: 240, layer },
      resolve: { scale: { xOffset: 'independent' } },
    } as TopLevelSpec;
  return { ...common, width, height: 240, layer } as TopLevelSpec;
}

export function figure1Spec(data: Figure1Datum[]): TopLevelSpec {
  // zero-shot first, then the kernels, then fine-tuning (the paper's Figure 1 order)
  const rank = { 'zero-shot': 0, kernel: 1, 'fine-tuning': 2 };
  const seriesOrder = [...new Map(data.map((d) => [d.method, rank[d.kind]]))].sort((a, b) => a[1] - b[1]).map(([m]) => m);
  return groupedBars(data, {
    title: 'Figure 1: kernel vs fine-tuning, test score per task',
    subtitle: 'zero-shot, kernels, fine-tuning; mean ± std over seeds (best dev setting per seed)',
    seriesOrder,
    x: 'task',
    xTitle: 'task',
    series: 'method',
    seriesTitle: 'method',
    facet: 'output',
    yTitle: 'test score (x100)',
  });
}

export interface Figure2Datum {
  task: string;
  method: string;
  model: 'pre-trained' | 'linearized' | 'fine-tuned';
  mean: number;
  std: number;
  lo: number;
  hi: number;
  n: number;
}

export function figure2Data(rows: BehaviourRow[]): Figure2Datum[] {
  const out: Figure2Datum[] = [];
  for (const r of rows)
    for (const [model, a] of [
      ['pre-trained', r.pre],
      ['linearized', r.linearized],
      ['fine-tuned', r.ft],
    ] as const) {
      if (a.n === 0) continue;
      const m = 100 * a.mean;
      const s = 100 * a.std;
      out.push({
        task: r.k === 16 ? r.task : `${r.task} (k=${r.k})`,
        method: r.method,
        model,
        mean: m,
        std: s,
        lo: m - s,
        hi: m + s,
        n: a.n,
      });
    }
  return out;
}

export function figure2Spec(data: Figure2Datum[]): TopLevelSpec {
  return groupedBars(data, {
    title: 'Figure 2: pre-trained, linearized and fine-tuned test score per task',
    subtitle: 'linearized = f(θ0) + ∇f(θ0)·(θ_FT − θ0); mean ± std over seeds',
    x: 'task',
    xTitle: 'task',
    series: 'model',
    seriesTitle: 'model',
    facet: new Set(data.map((d) => d.method)).size > 1 ? 'method' : undefined,
    yTitle: 'test score (x100)',
    seriesOrder: ['pre-trained', 'linearized', 'fine-tuned'],
  });
}

export function figure3Spec(lines: LoraLine[]): TopLevelSpec {
  const data = lines.flatMap((l) =>
    l.by_rank.map((b) => ({
      r: b.r,
      mean: b.mean,
      lo: b.mean - b.std,
      hi: b.mean + b.std,
      series: `${l.model} ${l.task} (A ${l.init})`,
    })),
  );
  const x = {
    field: 'r',
    type: 'quantitative' as const,
    title: 'LoRA rank r',
    scale: { type: 'log' as const, base: 2, padding: 12 },
    axis: { values: [...new Set(data.map((d) => d.r))] },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Figure 3: LoRA kernel vs full kernel',
      subtitle: '‖s·K_LoRA − K_full‖_F / ‖K_full‖_F (query/value weights), mean ± std over A seeds',
    },
    data: { values: data },
    width: 360,
    height: 240,
    config: CONFIG,
    layer: [
      {
        mark: { type: 'rule' },
        encoding: {
          x,
          y: { field: 'lo', type: 'quantitative' },
          y2: { field: 'hi' },
          color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', direction: 'vertical' } },
        },
      },
      {
        mark: { type: 'line', point: true },
        encoding: {
          x,
          y: { field: 'mean', type: 'quantitative', title: 'relative difference' },
          color: { field: 'series', type: 'nominal' },
        },
      },
    ],
  } as TopLevelSpec;
}

export function figure4Spec(lines: ChiLine[]): TopLevelSpec {
  const data = lines.map((l) => ({
    model: l.model,
    task: `${l.task} ${l.split}`,
    mean: l.mean_abs_chi,
    lo: l.mean_abs_chi - l.std_abs_chi,
    hi: l.mean_abs_chi + l.std_abs_chi,
    std: l.std_abs_chi,
    n: l.n,
  }));
  return groupedBars(data, {
    title: 'Figure 4: natural-task test, mean |χ| at θ0',
    subtitle: 'χ = softmax(f) − onehot(y); mean over examples and outputs, ± std over examples',
    x: 'task',
    xTitle: 'task / split',
    series: 'model',
    seriesTitle: 'model',
    yTitle: 'mean |χ|',
  });
}

export interface WidthDatum {
  width: number;
  task: string;
  metric: string;
  mean: number;
  lo: number;
  hi: number;
}

/** The width study: one panel per measurement, width (log scale) on x, a line per task, ± std over seeds. */
export function widthStudySpec(data: WidthDatum[], title: string): TopLevelSpec {
  const x = {
    field: 'width',
    type: 'quantitative' as const,
    title: 'hidden width W',
    scale: { type: 'log' as const, base: 2, padding: 10 },
    axis: { values: [...new Set(data.map((d) => d.width))] },
  };
  const color = { field: 'task', type: 'nominal' as const, title: 'task', legend: { orient: 'bottom' as const } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: title,
      subtitle: 'error bars: standard error over seeds (sample std / √n); same depth, data, steps and optimiser at every width',
    },
    data: { values: data },
    config: CONFIG,
    facet: { field: 'metric', type: 'nominal', title: null, sort: [...new Set(data.map((d) => d.metric))] },
    columns: 3,
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 200,
      height: 150,
      layer: [
        { mark: { type: 'rule' }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color } },
        { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'mean', type: 'quantitative', title: null }, color } },
      ],
    },
  } as TopLevelSpec;
}

/** vega-lite spec -> SVG text (headless). */
