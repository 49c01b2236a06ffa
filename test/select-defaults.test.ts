// lib/solvers/select.ts (docs/mutation.md): a grid setting without a value is scored with the solver's
// documented default, as solve() fits it; asym's lambda defaults to 1 (the paper's predictor, A.3), checked
// against the fixture's asym predictions at lambda 1 (fixtures-a.json, RoBERTa binary case).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { selectOnDev, solve } from '../lib/solvers/index.js';
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
    // and the test can tell the two apart (lambda 0.5 above)
    expect(close(seen[1], want(0.5))).toBe(true);
    expect(close(seen[0], want(0.5))).toBe(false);
  });

  it('asym settings differing in gamma, s or the regularization are fitted apart: each as solve() fits it', async () => {
    const k = bin.kernels.asymmetric_signgd;
    // every value given (the group key must tell 1 from 10 and 0 from 0.1, not only given from absent)
    const at = (gamma: number, kernelRegularization: number, f0Scaling: number) => ({
      gamma,
      kernelRegularization,
      f0Scaling,
      lambda: 1,
    });
    const grid = [at(1, 0, 0), at(10, 0, 0), at(1, 0.1, 0), at(1, 0, 10)];
    const seen: number[][] = [];
    const common = {
      kernelTrainTrain: k.train_train,
      f0Train: bin.f0_train,
      trainLabels: rob.inputs.prompt.train_labels,
      numClasses: 2,
      binary: true,
      solver: 'asym' as const,
    };
    await selectOnDev({
      ...common,
      kernelTrainDev: k.train_test,
      kernelTrainDevFlipped: k.train_test_flipped,
      f0Dev: bin.f0_test,
      devLabels: labels,
      grid,
      metric: (_p, _l, scores) => (seen.push(scores.map((s) => s[1])), 0),
    });
    for (const [i, params] of grid.entries()) {
      const r = await solve({
        ...common,
        kernelTrainTest: k.train_test,
        kernelTrainTestFlipped: k.train_test_flipped,
        f0Test: bin.f0_test,
        params,
      });
      // (one native call for a group of lambdas, or one for the setting: equal to rounding)
      seen[i].forEach((v, j) =>
        expect(Math.abs(v - r.predictions[j]), JSON.stringify(params)).toBeLessThan(1e-12 * Math.max(1, Math.abs(v))),
      );
    }
    expect(new Set(seen.map((p) => p.join())).size).toBe(4);
  });
});
