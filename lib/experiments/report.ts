// The paper's Table 2 from results.jsonl lines: rows = tasks, columns = methods (output/formula/solver,
// plus /binary and a non-default parameter subset), cells = test metric mean (std) x100 over seeds.
// Aggregation as `tools/gather_result.py` (REFERENCE.md §8.2): lines are de-duplicated by config_id (the
// last occurrence wins, keeping the first one's position); per seed the line with the best dev score wins,
// ties going to the first line in file order; then mean and population std (ddof 0) of the winners' test
// scores. The metric is the task's selection metric (F1 for MRPC/QQP, acc elsewhere; mcc for CoLA).
import { InputError } from '../errors.js';
import { meanStd } from '../stats.js';
import { TASKS } from '../tasks/index.js';
import { dedupe } from './results.js';

export interface ReportCell {
  /** Mean and population std of the test score over seeds (fractions, not x100). */
  mean: number;
  std: number;
  /** Number of seeds. */
  n: number;
  seeds: number[];
  /** Per seed (seed order): the chosen line's dev and test scores and hyper-parameters. */
  perSeed: { seed: number; dev: number; test: number; params: unknown; trials: number }[];
}

export interface ReportRow {
  key: string;
  label: string;
  task: string;
  k: number;
  metric: string;
}

export interface ReportColumn {
  key: string;
  label: string;
}

export interface ReportTable {
  rows: ReportRow[];
  columns: ReportColumn[];
  /** cells[rowKey][columnKey]; absent when there is no line for that pair. */
  cells: Record<string, Record<string, ReportCell>>;
}

interface Line {
  config_id?: string;
  task: string;
  k: number;
  seed: number;
  model?: string;
  model_id?: string;
  /** prompt | standard (`mode` in lines written before the rename). */
  output: string;
  formula: string;
  solver: string;
  binary?: boolean;
  subset?: string;
  metric: string;
  dev_score: number | null;
  test_score: number | null;
  params?: unknown;
  grid?: { lambda?: number[] };
}

/** asym: the lambda grid when it is not the paper's lambda = 1 (A.3; docs/solvers.md), e.g. `[lambda 0,0.5,1]`. */
const asymLambdas = (l: Line): string => {
  const ls = l.solver === 'asym' ? l.grid?.lambda : undefined;
  return ls && !(ls.length === 1 && ls[0] === 1) ? `[lambda ${ls.join(',')}]` : '';
};

function check(l: unknown, i: number): Line {
  const where = `results line ${i + 1}`;
  if (typeof l !== 'object' || l === null) throw new InputError(where, 'not a JSON object');
  const o = { ...(l as Record<string, unknown>) };
  o.output ??= o.mode;
  for (const f of ['task', 'output', 'formula', 'solver', 'metric'])
    if (typeof o[f] !== 'string') throw new InputError(where, `field "${f}" missing or not a string`);
  for (const f of ['k', 'seed'])
    if (typeof o[f] !== 'number') throw new InputError(where, `field "${f}" missing or not a number`);
  for (const f of ['dev_score', 'test_score'])
    if (typeof o[f] !== 'number' && o[f] !== null) throw new InputError(where, `field "${f}" missing or not a number`);
  return o as unknown as Line;
}

const num = (v: number | null): number => (v === null ? NaN : v);

/** Builds the table from parsed results lines (file order matters for de-duplication and ties). */
export function reportTable(lines: readonly unknown[]): ReportTable {
  // Fine-tuning lines of interrupted or diverged seeds (status "aborted" / "diverged") are not results.
  const finished = (l: unknown) =>
    !(typeof l === 'object' && l !== null && ['aborted', 'diverged'].includes((l as { status?: string }).status ?? ''));
  const parsed = lines.map((l, i) => (finished(l) ? check(l, i) : undefined)).filter((l): l is Line => l !== undefined);
  // de-duplicate by config_id: last occurrence wins, at the first occurrence's position
  const uniq = dedupe(parsed);

  const models = new Map<string, string>(); // model_id -> name
  for (const l of uniq) models.set(l.model_id ?? l.model ?? '', l.model ?? '');
  const names = [...models.values()];
  const modelLabel = (l: Line): string => {
    if (models.size <= 1) return '';
    const id = l.model_id ?? l.model ?? '';
    const name = l.model ?? id.slice(0, 8);
    return names.filter((n) => n === name).length > 1 ? `${name}#${id.slice(0, 6)}:` : `${name}:`;
  };
  const ks = new Set(uniq.map((l) => l.k));
  const taskOrder = (t: string) => {
    const i = TASKS.findIndex((x) => x.name.toLowerCase() === t.toLowerCase());
    return i < 0 ? TASKS.length : i;
  };

  const rows = new Map<string, ReportRow>();
  const columns = new Map<string, ReportColumn>();
  const groups = new Map<string, Map<string, Map<number, Line[]>>>(); // row -> col -> seed -> lines
  for (const l of uniq) {
    const rowKey = `${l.task}\0${l.k}`;
    if (!rows.has(rowKey))
      rows.set(rowKey, {
        key: rowKey,
        label: ks.size > 1 ? `${l.task} (k=${l.k})` : l.task,
        task: l.task,
        k: l.k,
        metric: l.metric,
      });
    const label = `${modelLabel(l)}${l.output}/${l.formula}/${l.solver}${asymLambdas(l)}${l.binary ? '/binary' : ''}${l.subset && l.subset !== 'all' ? `/${l.subset}` : ''}`;
    if (!columns.has(label)) columns.set(label, { key: label, label });
    const g = groups.get(rowKey) ?? new Map<string, Map<number, Line[]>>();
    groups.set(rowKey, g);
    const c = g.get(label) ?? new Map<number, Line[]>();
    g.set(label, c);
    c.set(l.seed, [...(c.get(l.seed) ?? []), l]);
  }

  const cells: ReportTable['cells'] = {};
  for (const [rowKey, g] of groups) {
    cells[rowKey] = {};
    for (const [colKey, bySeed] of g) {
      const seeds = [...bySeed.keys()].sort((a, b) => a - b);
      const perSeed = seeds.map((seed) => {
        const ls = bySeed.get(seed)!;
        let best = ls[0];
        for (const l of ls.slice(1))
          if (num(l.dev_score) > num(best.dev_score) || (Number.isNaN(num(best.dev_score)) && !Number.isNaN(num(l.dev_score))))
            best = l;
        return { seed, dev: num(best.dev_score), test: num(best.test_score), params: best.params, trials: ls.length };
      });
      const vals = perSeed.map((p) => p.test);
      cells[rowKey][colKey] = { ...meanStd(vals), n: vals.length, seeds, perSeed };
    }
  }
  const rowList = [...rows.values()].sort(
    (a, b) => taskOrder(a.task) - taskOrder(b.task) || a.task.localeCompare(b.task) || a.k - b.k,
  );
  return { rows: rowList, columns: [...columns.values()], cells };
}

const pct = (x: number) => (Number.isFinite(x) ? (x * 100).toFixed(1) : 'nan');

/** "mean (std)" x100 with one decimal, as gather_result prints it. */
export function formatCell(c: ReportCell | undefined, withSeeds = true): string {
  if (!c) return '–';
  return `${pct(c.mean)} (${pct(c.std)})${withSeeds ? ` [${c.n}]` : ''}`;
}

export function renderMarkdown(t: ReportTable): string {
  const head = ['Task', ...t.columns.map((c) => c.label)];
  const body = t.rows.map((r) => [`${r.label} (${r.metric})`, ...t.columns.map((c) => formatCell(t.cells[r.key]?.[c.key]))]);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    '| ' + head.map(esc).join(' | ') + ' |',
    '|' + head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|') + '|',
    ...body.map((r) => '| ' + r.map(esc).join(' | ') + ' |'),
  ];
  return (
    'Test metric: mean (std) x100 over seeds (population std), best dev setting per seed; [n] = number of seeds.\n\n' +
    lines.join('\n') +
    '\n'
  );
}

const csvField = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** One row per task; per method three columns: mean and std (x100, one decimal) and the number of seeds. */
export function renderCsv(t: ReportTable): string {
  const head = ['task', 'k', 'metric', ...t.columns.flatMap((c) => [`${c.label} mean`, `${c.label} std`, `${c.label} seeds`])];
  const rows = t.rows.map((r) => [
    r.task,
    String(r.k),
    r.metric,
    ...t.columns.flatMap((c) => {
      const cell = t.cells[r.key]?.[c.key];
      return cell ? [pct(cell.mean), pct(cell.std), String(cell.n)] : ['', '', ''];
    }),
  ]);
  return [head, ...rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}
