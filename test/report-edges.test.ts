// lib/experiments/report.ts at its edges (docs/mutation.md): the exact Markdown and CSV of a small table, lines
// left out (aborted, diverged), line checks and their messages, model labels, seed and row order.
import { describe, expect, it } from 'vitest';
import { reportTable, renderMarkdown, renderCsv } from '../lib/experiments/index.js';

let n = 0;
const line = (over: Record<string, unknown>): Record<string, unknown> => ({
  config_id: `e${n++}`,
  task: 'SST-2',
  k: 16,
  seed: 13,
  model: 'm',
  model_id: 'id-m',
  output: 'prompt',
  formula: 'sgd',
  solver: 'lstsq',
  metric: 'acc',
  dev_score: 0.5,
  test_score: 0.5,
  ...over,
});

describe('report edges', () => {
  it('the Markdown table exactly: the note, the header, right-aligned method columns, a missing cell', () => {
    const t = reportTable([
      line({ seed: 13, test_score: 0.8 }),
      line({ seed: 21, test_score: 0.9 }),
      line({ task: 'mr', solver: 'svm|x', test_score: 0.7 }),
    ]);
    expect(renderMarkdown(t)).toBe(
      'Test metric: mean (std) x100 over seeds (population std), best dev setting per seed; [n] = number of seeds.\n\n' +
        '| Task | prompt/sgd/lstsq | prompt/sgd/svm\\|x |\n' +
        '| --- | ---: | ---: |\n' +
        '| SST-2 (acc) | 85.0 (5.0) [2] | – |\n' +
        '| mr (acc) | – | 70.0 (0.0) [1] |\n',
    );
    expect(renderCsv(t)).toBe(
      'task,k,metric,prompt/sgd/lstsq mean,prompt/sgd/lstsq std,prompt/sgd/lstsq seeds,prompt/sgd/svm|x mean,prompt/sgd/svm|x std,prompt/sgd/svm|x seeds\n' +
        'SST-2,16,acc,85.0,5.0,2,,,\n' +
        'mr,16,acc,,,,70.0,0.0,1\n',
    );
  });

  it('aborted and diverged lines are left out before any check; other statuses count', () => {
    const t = reportTable([
      line({ status: 'aborted', test_score: 'not checked' }),
      line({ status: 'diverged', task: 7 }),
      line({ status: 'done', test_score: 0.25 }),
      line({ test_score: 0.75, seed: 21 }),
    ]);
    expect(t.rows.map((r) => r.task)).toEqual(['SST-2']);
    expect(t.cells[t.rows[0].key]['prompt/sgd/lstsq'].perSeed.map((p) => p.test)).toEqual([0.25, 0.75]);
  });

  it('each line check, with the line number', () => {
    expect(() => reportTable([line({}), null])).toThrow('results line 2: not a JSON object');
    expect(() => reportTable(['text'])).toThrow('results line 1: not a JSON object');
    expect(() => reportTable([line({ task: 3 })])).toThrow('results line 1: field "task" missing or not a string');
    expect(() => reportTable([line({ seed: '1' })])).toThrow('results line 1: field "seed" missing or not a number');
    expect(() => reportTable([line({ dev_score: '0.5' })])).toThrow('results line 1: field "dev_score" missing or not a number');
    expect(() => reportTable([line({ test_score: undefined })])).toThrow(
      'results line 1: field "test_score" missing or not a number',
    );
    // the former field name `mode` stands for `output`
    const t = reportTable([{ ...line({}), output: undefined, mode: 'standard' }]);
    expect(t.columns.map((c) => c.key)).toEqual(['standard/sgd/lstsq']);
  });

  it('models told apart by name, and by id when two share a name; seeds in numeric order; unknown tasks last', () => {
    const t = reportTable([
      line({ seed: 9, model: 'roberta', model_id: 'aaaaaaaa1' }),
      line({ seed: 10, model: 'roberta', model_id: 'bbbbbbbb2' }),
      line({ seed: 100, model: 'bert', model_id: 'cccc' }),
      line({ task: 'zz-task', model: 'bert', model_id: 'cccc' }),
    ]);
    expect(t.columns.map((c) => c.key)).toEqual([
      'roberta#aaaaaa:prompt/sgd/lstsq',
      'roberta#bbbbbb:prompt/sgd/lstsq',
      'bert:prompt/sgd/lstsq',
    ]);
    expect(t.rows.map((r) => r.task)).toEqual(['SST-2', 'zz-task']);
    const u = reportTable([line({ seed: 10 }), line({ seed: 9 }), line({ seed: 100 })]);
    expect(u.cells[u.rows[0].key]['prompt/sgd/lstsq'].seeds).toEqual([9, 10, 100]);
    // rows of one task by k
    const v = reportTable([line({ k: 64 }), line({ k: 16 })]);
    expect(v.rows.map((r) => r.label)).toEqual(['SST-2 (k=16)', 'SST-2 (k=64)']);
  });

  it('per seed the best dev line wins, a NaN dev loses to any number, ties to the first', () => {
    const t = reportTable([
      line({ dev_score: null, test_score: 0.1 }),
      line({ dev_score: 0.3, test_score: 0.2 }),
      line({ dev_score: 0.3, test_score: 0.3 }),
      line({ dev_score: 0.1, test_score: 0.4 }),
    ]);
    const c = t.cells[t.rows[0].key]['prompt/sgd/lstsq'];
    expect(c.perSeed).toEqual([{ seed: 13, dev: 0.3, test: 0.2, params: undefined, trials: 4 }]);
  });
});
