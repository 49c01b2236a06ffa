// `lmkernel behaviour summary` (Table 1): kernel behaviour per task and fine-tuning method from result
// lines, with the thresholds applied to hand-computed means.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run as behaviourCli } from '../lib/cli/behaviour.js';
import { renderSummaryMarkdown, summaryTable } from '../lib/behaviour/summary.js';

const ft = (task: string, seed: number, optimizer: string, share: number, kdTT: number, kdTX: number, formula?: string) => ({
  config_id: `${task}-${optimizer}-${seed}-${formula ?? 'old'}`,
  method: 'finetune',
  status: 'done',
  task,
  k: 16,
  seed,
  output: 'prompt',
  formula: optimizer,
  solver: 'ft',
  metric: 'acc',
  dev_score: 0.8,
  test_score: 0.8,
  behaviour: {
    pre_test_score: 0.5,
    linearized_test_score: 0.5 + 0.3 * share,
    ft_test_score: 0.8,
    share_recovered: share,
    kernel_distance_train_train: kdTT,
    kernel_distance_train_test: kdTX,
    ...(formula ? { kernel_distance_formula: formula } : {}),
  },
});
const kernel = (task: string, seed: number, formula: string, solver: string, dev: number, test: number) => ({
  config_id: `k-${task}-${formula}-${solver}-${seed}-${dev}`,
  task,
  k: 16,
  seed,
  output: 'prompt',
  formula,
  solver,
  metric: 'acc',
  dev_score: dev,
  test_score: test,
});

describe('summaryTable', () => {
  const lines = [
    // SST-2, Adam, SignGD-kernel distances: shares 0.9, 0.7 (mean 0.8 >= 0.5); distances max(TT, TX) means: TT 1.0, TX 1.5 -> 1.5 < 2
    ft('SST-2', 13, 'adam', 0.9, 0.8, 1.4, 'signgd'),
    ft('SST-2', 21, 'adam', 0.7, 1.2, 1.6, 'signgd'),
    // MR, SGD, old line (no formula: sgd): share 0.2 (< 0.5), distance 3 (>= 2)
    ft('MR', 13, 'sgd', 0.2, 3, 2.5),
    // kernel lines: SST-2 signgd/lstsq: seeds 13 (two lines, best dev wins: test 0.7), 21 test 0.9 -> mean 0.8
    kernel('SST-2', 13, 'signgd', 'lstsq', 0.6, 0.6),
    kernel('SST-2', 13, 'signgd', 'lstsq', 0.7, 0.7),
    kernel('SST-2', 21, 'signgd', 'lstsq', 0.9, 0.9),
    // asymmetric_signgd/asym: a better test score (0.95) but a worse dev score (0.5): not chosen (dev selects);
    // an SGD kernel is not Adam's analog (ignored)
    kernel('SST-2', 13, 'asymmetric_signgd', 'asym', 0.5, 0.95),
    kernel('SST-2', 13, 'sgd', 'lstsq', 0.9, 0.99),
  ];
  const rows = summaryTable(lines);
  const sst = rows.find((r) => r.task === 'SST-2')!;
  const mr = rows.find((r) => r.task === 'MR')!;

  it('applies the thresholds to the means over seeds', () => {
    expect(sst.shareRecovered).toBeCloseTo(0.8, 15);
    expect(sst.kernelDistance).toBeCloseTo(1.5, 15);
    expect(sst.kernelDistanceFormula).toBe('signgd');
    expect([sst.linearization, sst.fixedFeatures, sst.kernelBehaviour]).toEqual([true, true, true]);
    expect(mr.kernelDistanceFormula).toBe('sgd');
    expect([mr.linearization, mr.fixedFeatures, mr.kernelBehaviour]).toEqual([false, false, false]);
  });
  it("picks the column of the optimizer's kernel analog with the best mean dev score (best dev per seed)", () => {
    expect(sst.kernel).toEqual({ column: 'prompt/signgd/lstsq', test: 0.8, seeds: 2 });
    expect(mr.kernel).toBeNull();
  });
  it('a distance of exactly 2 is not low; thresholds are options', () => {
    const at2 = summaryTable([ft('CR', 1, 'sgd', 1, 2, 2, 'sgd')]);
    expect(at2[0].fixedFeatures).toBe(false);
    const loose = summaryTable(lines, { minShareRecovered: 0.1, maxKernelDistance: 4 });
    expect(loose.find((r) => r.task === 'MR')!.kernelBehaviour).toBe(true);
  });
  it('CLI: prints and writes the table; thresholds as flags; no behaviour lines is an error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmk-summary-'));
    const file = join(dir, 'r.jsonl');
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const md = join(dir, 's.md');
    expect(await behaviourCli(['summary', file, '--max-kernel-distance', '4', '--out-md', md])).toBe(0);
    expect(readFileSync(md, 'utf8')).toContain('| MR | 16 | prompt/sgd/ft | 1 | 80.0 | – | ✗ 20.0 % | ✓ 3.00 (sgd) | ✗ |');
    const kernelOnly = join(dir, 'k.jsonl');
    writeFileSync(kernelOnly, JSON.stringify(lines[3]) + '\n');
    await expect(behaviourCli(['summary', kernelOnly])).rejects.toThrow(/no finished fine-tuning lines/);
  });
  it('renders marks, the formula and the thresholds', () => {
    const md = renderSummaryMarkdown(rows);
    expect(md).toContain(
      '| SST-2 | 16 | prompt/adam/ft | 2 | 80.0 | 80.0 (prompt/signgd/lstsq, 2 seeds) | ✓ 80.0 % | ✓ 1.50 (signgd) | ✓ |',
    );
    expect(md).toContain('< 2');
  });
});
