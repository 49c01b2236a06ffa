// reportTable: gather_result.py aggregation (REFERENCE.md §8.2) over results.jsonl lines, and its renderings.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportTable, renderMarkdown, renderCsv, formatCell } from '../lib/experiments/index.js';
import { run as reportCli } from '../lib/cli/report.js';

let n = 0;
function line(over: Record<string, unknown>): Record<string, unknown> {
  return {
    config_id: `cfg${n++}`,
    task: 'SST-2',
    k: 16,
    seed: 42,
    model: 'roberta-base',
    model_id: 'aaaa',
    output: 'prompt',
    formula: 'sgd',
    solver: 'lstsq',
    binary: false,
    subset: 'all',
    metric: 'acc',
    params: {},
    dev_score: 0.5,
    test_score: 0.5,
    ...over,
  };
}

describe('reportTable', () => {
  it('mean and population std x100 over seeds of the best-dev line per seed, ties to the first', () => {
    const lines = [
      // seed 13: two trials, the second has the better dev
      line({ seed: 13, dev_score: 0.7, test_score: 0.8 }),
      line({ seed: 13, dev_score: 0.9, test_score: 0.85 }),
      // seed 21: a tie on dev: the first wins
      line({ seed: 21, dev_score: 0.6, test_score: 0.9 }),
      line({ seed: 21, dev_score: 0.6, test_score: 0.1 }),
      // seed 42: one trial
      line({ seed: 42, dev_score: 0.5, test_score: 0.95 }),
    ];
    const t = reportTable(lines);
    expect(t.rows).toHaveLength(1);
    expect(t.columns.map((c) => c.label)).toEqual(['prompt/sgd/lstsq']);
    const c = t.cells[t.rows[0].key]['prompt/sgd/lstsq'];
    expect(c.seeds).toEqual([13, 21, 42]);
    expect(c.perSeed.map((p) => p.test)).toEqual([0.85, 0.9, 0.95]);
    expect(c.perSeed.map((p) => p.trials)).toEqual([2, 2, 1]);
    expect(c.mean).toBeCloseTo(0.9, 12);
    expect(c.std).toBeCloseTo(Math.sqrt((0.05 ** 2 * 2) / 3), 12); // ddof 0
    expect(formatCell(c)).toBe('90.0 (4.1) [3]');
    expect(formatCell(c, false)).toBe('90.0 (4.1)');
    expect(formatCell(undefined)).toBe('–');
  });

  it('lines with the same config_id are de-duplicated (the last one wins)', () => {
    const t = reportTable([
      line({ config_id: 'x', seed: 13, dev_score: 0.9, test_score: 0.1 }),
      line({ config_id: 'y', seed: 13, dev_score: 0.8, test_score: 0.2 }),
      line({ config_id: 'x', seed: 13, dev_score: 0.7, test_score: 0.3 }),
    ]);
    const c = t.cells[t.rows[0].key]['prompt/sgd/lstsq'];
    expect(c.perSeed[0]).toMatchObject({ dev: 0.8, test: 0.2, trials: 2 });
  });

  it('rows are tasks in the paper order, columns are methods in order of appearance', () => {
    const lines = [
      line({ task: 'MRPC', metric: 'f1', dev_score: 0.7, test_score: 0.75 }),
      line({ task: 'SST-2', formula: 'signgd', test_score: 0.6 }),
      line({
        task: 'sst-5',
        output: undefined,
        mode: 'standard' /* a line written before the rename */,
        solver: 'logistic',
        test_score: 0.3,
      }),
      line({ task: 'SST-2', binary: true, solver: 'svc', subset: 'only_biases', test_score: 0.7 }),
      line({ task: 'SST-2', formula: 'signgd', seed: 13, test_score: 0.8 }),
    ];
    const t = reportTable(lines);
    expect(t.rows.map((r) => `${r.label}:${r.metric}`)).toEqual(['SST-2:acc', 'sst-5:acc', 'MRPC:f1']);
    expect(t.columns.map((c) => c.label)).toEqual([
      'prompt/sgd/lstsq',
      'prompt/signgd/lstsq',
      'standard/sgd/logistic',
      'prompt/sgd/svc/binary/only_biases',
    ]);
    const md = renderMarkdown(t);
    expect(md).toContain(
      '| Task | prompt/sgd/lstsq | prompt/signgd/lstsq | standard/sgd/logistic | prompt/sgd/svc/binary/only_biases |',
    );
    expect(md).toContain('| SST-2 (acc) | – | 70.0 (10.0) [2] | – | 70.0 (0.0) [1] |');
    expect(md).toContain('| MRPC (f1) | 75.0 (0.0) [1] | – | – | – |');
    const csv = renderCsv(t).trim().split('\n');
    expect(csv[0].split(',').slice(0, 6)).toEqual([
      'task',
      'k',
      'metric',
      'prompt/sgd/lstsq mean',
      'prompt/sgd/lstsq std',
      'prompt/sgd/lstsq seeds',
    ]);
    expect(csv[1]).toBe('SST-2,16,acc,,,,70.0,10.0,2,,,,70.0,0.0,1');
  });

  it('several k or several models are told apart', () => {
    const t = reportTable([
      line({ k: 16, test_score: 0.6 }),
      line({ k: 64, test_score: 0.7 }),
      line({ k: 16, model: 'roberta-large', model_id: 'bbbb', test_score: 0.8 }),
    ]);
    expect(t.rows.map((r) => r.label)).toEqual(['SST-2 (k=16)', 'SST-2 (k=64)']);
    expect(t.columns.map((c) => c.label)).toEqual(['roberta-base:prompt/sgd/lstsq', 'roberta-large:prompt/sgd/lstsq']);
  });

  it('a null score (NaN in JSON) renders as nan; a malformed line is an error naming it', () => {
    const t = reportTable([line({ test_score: null })]);
    expect(formatCell(t.cells[t.rows[0].key]['prompt/sgd/lstsq'])).toBe('nan (nan) [1]');
    expect(() => reportTable([line({}), { task: 'SST-2' }])).toThrow(/results line 2: field "output" missing/);
    expect(() => reportTable([line({ seed: '42' })])).toThrow(/results line 1: field "seed" missing or not a number/);
  });
});

describe('lmkernel report', () => {
  it('prints the table and writes Markdown and CSV; filters by task and k; bad files are named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmk-report-'));
    const p = join(dir, 'results.jsonl');
    writeFileSync(
      p,
      [line({ seed: 13, test_score: 0.9 }), line({ seed: 21, test_score: 0.8 }), line({ task: 'MRPC', metric: 'f1' })]
        .map((l) => JSON.stringify(l))
        .join('\n') + '\n',
    );
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    try {
      expect(await reportCli([p, '--out-md', join(dir, 't.md'), '--out-csv', join(dir, 't.csv'), '--task', 'SST-2'])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect(out.join('')).toContain('| SST-2 (acc) | 85.0 (5.0) [2] |');
    expect(out.join('')).not.toContain('MRPC');
    expect(readFileSync(join(dir, 't.md'), 'utf8')).toBe(out.join(''));
    expect(readFileSync(join(dir, 't.csv'), 'utf8')).toBe(
      'task,k,metric,prompt/sgd/lstsq mean,prompt/sgd/lstsq std,prompt/sgd/lstsq seeds\nSST-2,16,acc,85.0,5.0,2\n',
    );
    await expect(reportCli([p, '--k', '64'])).rejects.toThrow(/no result lines .* after filtering/);
    await expect(reportCli([])).rejects.toThrow(/give at least one results.jsonl/);
    writeFileSync(join(dir, 'bad.jsonl'), JSON.stringify(line({})) + '\n{oops\n');
    await expect(reportCli([join(dir, 'bad.jsonl')])).rejects.toThrow(/bad\.jsonl:2: not a JSON line/);
    await expect(reportCli([join(dir, 'missing.jsonl')])).rejects.toThrow(/missing\.jsonl: results file not found/);
  });
});
