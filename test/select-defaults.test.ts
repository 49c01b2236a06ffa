// lib/solvers/select.ts (docs/mutation.md): a grid setting without a value is scored with the solver's
// documented default, as solve() fits it; asym's lambda defaults to 1 (the paper's predictor, A.3), checked
// against the fixture's asym predictions at lambda 1 (fixtures-a.json, RoBERTa binary case).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { selectOnDev } from '../lib/solvers/index.js';
import { fixturesDir } from './helpers/fixtures.js';

const rob = JSON.parse(readFileSync(join(fixturesDir, 'fixtures-a.json'), 'utf8')).roberta;
const bin = rob.cases[1];
const labels: number[] = rob.inputs.prompt.test_labels;

describe('selectOnDev defaults', () => {
  it('refuses an empty or missing grid and a bad setting before fitting anything', async () => {
    const k = bin.kernels.sgd;
    const input = {
      kernelTrainTrain: k.train_train,
      kernelTrainDev: k.train_test,
      trainLabels: rob.inputs.prompt.train_labels,
      devLabels: labels,
      numClasses: 2,
      binary: true,
      solver: 'lstsq' as const,
    };
    await expect(selectOnDev({ ...input, grid: [] })).rejects.toThrow(
      "option 'grid': expected a non-empty array of settings, received an array of length 0",
    );
    await expect(selectOnDev({ ...input, grid: 'x' as never })).rejects.toThrow(
      `option 'grid': expected a non-empty array of settings, received "x"`,
    );
    // lstsq's grid call checks lambdas and scales only: the other keys are checked per setting first
    await expect(selectOnDev({ ...input, grid: [{}, { foo: 1 } as never] })).rejects.toThrow(/^option 'params\.foo'/);
  });

  it("asym: a setting without lambda is scored at lambda 1, the fixture's predictions", async () => {
    const k = bin.kernels.asymmetric_signgd;
    const seen: number[][] = [];
    await selectOnDev({
      kernelTrainTrain: k.train_train,
      kernelTrainDev: k.train_test,
      kernelTrainDevFlipped: k.train_test_flipped,
      trainLabels: rob.inputs.prompt.train_labels,
      devLabels: labels,
      numClasses: 2,
      binary: true,
      solver: 'asym',
      grid: [{}, { lambda: 0.5 }],
      // binary scores are [-p, p]: keep p
      metric: (_p, _l, scores) => (seen.push(scores.map((s) => s[1])), 0),
    });
    const want = (lambda: number) =>
      bin.solvers.asym.find((e: { lambda: number }) => e.lambda === lambda).predictions as number[];
    const close = (got: number[], w: number[]) => got.every((g, i) => Math.abs(g - w[i]) <= 1e-9 * Math.max(1, Math.abs(w[i])));
    expect(bin.solvers.asym.find((e: { gamma: number; lambda: number }) => e.lambda === 1).gamma).toBe(1);
    expect(close(seen[0], want(1)), `${seen[0]} vs ${want(1)}`).toBe(true);
    // and the test can tell the two apart
    expect(close(seen[1], want(0.5))).toBe(true);
    expect(close(seen[0], want(0.5))).toBe(false);
  });
});
