// `lmkernel report`'s fine-tuning rows: the selected lr, batch size and best step per seed, the dropout
// and the kernel distance with its eNTK formula, from result lines.
import { describe, expect, it } from 'vitest';
import { finetuneSelections, renderFinetuneSelections } from '../lib/experiments/reportFinetune.js';

const line = (seed: number, extra: Record<string, unknown>) => ({
  config_id: `c${seed}`,
  method: 'finetune',
  status: 'done',
  task: 'SST-2',
  k: 16,
  seed,
  output: 'prompt',
  formula: 'adam',
  subset: 'all',
  params: { lr: 2e-5, batch_size: 4, best_step: 896, steps: 1024 },
  eval_every: 128,
  ...extra,
});

describe('finetuneSelections', () => {
  const rows = finetuneSelections([
    line(21, { dropout: 0.1, behaviour: { kernel_distance_train_train: 0.8123, kernel_distance_formula: 'signgd' } }),
    line(13, { behaviour: { kernel_distance_train_train: 1.5 } }), // a line from before dropout / formula were recorded
    { ...line(42, {}), status: 'aborted', params: null },
    { task: 'SST-2', k: 16, seed: 13, output: 'prompt', formula: 'sgd', solver: 'lstsq', dev_score: 1, test_score: 1 },
  ]);
  it('keeps finished fine-tuning lines only, in seed order, with old lines read as SGD kernel / no dropout', () => {
    expect(rows.map((r) => r.seed)).toEqual([13, 21]);
    expect(rows[0]).toMatchObject({
      lr: 2e-5,
      batchSize: 4,
      bestStep: 896,
      steps: 1024,
      dropout: null,
      kernelDistanceFormula: 'sgd',
    });
    expect(rows[1]).toMatchObject({
      dropout: 0.1,
      kernelDistance: 0.8123,
      kernelDistanceFormula: 'signgd',
      column: 'prompt/adam/ft',
    });
  });
  it('renders one row per seed', () => {
    const md = renderFinetuneSelections(rows);
    expect(md).toContain('| SST-2 | 16 | prompt/adam/ft | 21 | 0.00002 | 4 | 896 / 1024 | 128 | 0.1 | 0.812 (signgd) |');
    expect(md).toContain('| 0 (not recorded) | 1.50 (sgd) |');
    expect(renderFinetuneSelections([])).toBe('');
  });
});
