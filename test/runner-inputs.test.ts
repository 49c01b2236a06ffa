// The experiment runner's bad inputs (each named with the option, path or shape), `lmkernel run` from the
// command line, and the linear-probe and kernel-layout helpers. End to end: runner.test.ts.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { linearProbe, stratifiedFolds, runKernelExperiment, solveSeed, resolveGrid } from '../lib/experiments/index.js';
import { splitColumns, concatColumns } from '../lib/kernels/layout.js';
import { gridOf } from '../lib/solvers/index.js';
import { run as runCli } from '../lib/cli/run.js';
import { fixtureModelDir, needsData } from './helpers/fixtures.js';
import { base, dataDir, readJsonLines as readLines, sst2Flags, tmp, tokenizerDir } from './helpers/runner.js';

describe('bad inputs', () => {
  const dir = tmp();
  it('wrong task name', async () => {
    await expect(runKernelExperiment(base(dir, { task: 'SST-3' }))).rejects.toThrow(
      /option 'task': expected one of SST-2, .*received "SST-3"/,
    );
  });
  needsData.it('missing split folder names the path', async () => {
    await expect(runKernelExperiment(base(dir, { seeds: [999] }))).rejects.toThrow(
      /k-shot-1k-test\/SST-2\/16-999: k-shot split folder not found/,
    );
    await expect(runKernelExperiment(base(dir, { k: 3 }))).rejects.toThrow(/SST-2\/3-42: k-shot split folder not found/);
  });
  needsData.it('a label word that is not a single token', async () => {
    await expect(runKernelExperiment(base(dir, { labelWords: ['terrible', 'supercalifragilistic'] }))).rejects.toThrow(
      /label word "supercalifragilistic": must be a single token/,
    );
  });
  needsData.it('unknown formula or solver, and options that do not fit', async () => {
    await expect(runKernelExperiment(base(dir, { formula: 'adam' as never }))).rejects.toThrow(
      /option 'formula': expected one of sgd, signgd, asymmetric_signgd, received "adam"/,
    );
    await expect(runKernelExperiment(base(dir, { solver: 'ridge' as never }))).rejects.toThrow(
      /option 'solver': expected one of lstsq, logistic, logistic-rows, svr, svc, asym, received "ridge"/,
    );
    await expect(runKernelExperiment(base(dir, { solver: 'asym' }))).rejects.toThrow(
      /asym only with --formula asymmetric_signgd/,
    );
    await expect(runKernelExperiment(base(dir, { task: 'sst-5', binary: true }))).rejects.toThrow(/sst-5 has 5 labels/);
    expect(() => resolveGrid('lstsq', { gamma: [1] })).toThrow(
      /grid.gamma.*only kernelRegularization, f0Scaling for solver 'lstsq'/,
    );
  });
  it('kernel / label shape mismatch through the solver layer', async () => {
    const K = (n: number, m: number) => ({
      shape: [n, 2, m, 2] as [number, number, number, number],
      data: new Float64Array(n * 2 * m * 2).fill(1),
    });
    const common = {
      task: 'SST-2',
      solver: 'lstsq' as const,
      binary: false,
      grid: gridOf({ kernelRegularization: [0] }),
      kernelTrainDev: K(4, 3),
      kernelTrainTest: K(4, 2),
      trainLabels: [0, 1, 0, 1],
      devLabels: [0, 1, 1],
      testLabels: [0, 1],
    };
    await expect(solveSeed({ ...common, kernelTrainTrain: K(5, 5) })).rejects.toThrow(
      /kernelTrainTrain: shape \[5, 2, 5, 2\] does not match trainLabels \(4 examples\)/,
    );
    await expect(solveSeed({ ...common, kernelTrainTrain: K(4, 4), devLabels: [0, 1] })).rejects.toThrow(
      /kernelTrainDev: shape \[4, 2, 3, 2\] does not match 2 dev labels/,
    );
    await expect(solveSeed({ ...common, kernelTrainTrain: K(4, 4), testLabels: [0, 1, 1, 1] })).rejects.toThrow(
      /kernelTrainTest: shape \[4, 2, 2, 2\] does not match 4 test labels/,
    );
    await expect(
      solveSeed({ ...common, kernelTrainTrain: K(4, 4), kernelTrainTest: { shape: [4, 1, 2, 1], data: new Float64Array(8) } }),
    ).rejects.toThrow(/kernelTrainTest: shape \[4, 1, 2, 1\] does not match the train x train kernel \[4, 2, 4, 2\]/);
  });
  it('the CLI rejects bad flags with the flag named', async () => {
    const args = [
      '--task',
      'SST-2',
      '--k',
      '16',
      '--data-dir',
      dataDir,
      '--model',
      fixtureModelDir('roberta'),
      '--tokenizer',
      tokenizerDir,
      '--out',
      join(dir, 'x.jsonl'),
    ];
    await expect(runCli([...args, '--solver', 'ridge'])).rejects.toThrow(
      /option '--solver': expected one of lstsq, logistic, logistic-rows, svr, svc, asym, received "ridge"/,
    );
    await expect(runCli([...args, '--gamma', '1'])).rejects.toThrow(
      /option '--gamma': .*solver 'lstsq' takes --kernel-regularization, --f0-scaling/,
    );
    await expect(runCli([...args, '--formula', 'adam'])).rejects.toThrow(
      /option '--formula': expected one of sgd, signgd, asymmetric_signgd, received "adam"/,
    );
    await expect(
      runCli(['--task', 'SST-2', '--k', '16', '--data-dir', dataDir, '--model', fixtureModelDir('roberta')]),
    ).rejects.toThrow(/no tokenizer files: pass --tokenizer DIR/);
  });
});

needsData.describe('CLI run', () => {
  it('runs seeds from the command line and skips them when rerun', async () => {
    const dir = tmp();
    const out = join(dir, 'cli.jsonl');
    const args = [
      ...sst2Flags(),
      '--max-test',
      '32',
      '--kernel-regularization',
      '0,1e-3',
      '--f0-scaling',
      '0',
      '--out',
      out,
      '--quiet',
    ];
    const orig = console.error;
    const errs: string[] = [];
    console.error = (m: string) => errs.push(String(m));
    try {
      expect(await runCli(args)).toBe(0);
      expect(await runCli(args)).toBe(0);
    } finally {
      console.error = orig;
    }
    const lines = readLines(out);
    expect(lines).toHaveLength(1);
    expect(lines[0].grid).toEqual({ kernelRegularization: [0, 1e-3], f0Scaling: [0] });
    expect(errs.join('\n')).toMatch(/0 seed\(s\) computed, 1 skipped/);
    expect(existsSync(join(dir, '.lmkernel-cache', 'kernels'))).toBe(true);
  });
});

describe('linear probe and kernel helpers', () => {
  it('stratified folds as sklearn 0.24 StratifiedKFold(5)', () => {
    const y = [0, 1, 1, 0, 2, 2, 1, 0, 0, 1, 2, 0, 1, 1, 0, 2, 1];
    expect(Array.from(stratifiedFolds(y, 5))).toEqual([0, 0, 1, 0, 0, 1, 1, 1, 2, 2, 3, 3, 2, 3, 4, 4, 4]);
  });

  it('multinomial fit is stationary (zero gradient of the penalised loss) and separates separable data', () => {
    // 3 classes in 2-D, separable
    const X: number[][] = [];
    const y: number[] = [];
    const centers = [
      [2, 0],
      [-1, 2],
      [-1, -2],
    ];
    for (let i = 0; i < 30; i++) {
      const c = i % 3;
      X.push([centers[c][0] + 0.3 * Math.sin(i * 1.7), centers[c][1] + 0.3 * Math.cos(i * 2.3)]);
      y.push(c);
    }
    const C = 2;
    const r = linearProbe(X, y, 3, { C });
    expect(r.trainAccuracy).toBe(1);
    // gradient of sum CE + ||W||^2/(2C) at the solution
    const g = r.weight.map((row) => row.map((v) => v / C));
    const gb = [0, 0, 0];
    X.forEach((x, i) => {
      const z = r.weight.map((w, k) => w[0] * x[0] + w[1] * x[1] + r.bias[k]);
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      e.forEach((v, k) => {
        const d = v / s - (k === y[i] ? 1 : 0);
        g[k][0] += d * x[0];
        g[k][1] += d * x[1];
        gb[k] += d;
      });
    });
    // stopped at max|grad| <= 1e-4 (sklearn's tol) or a relative decrease <= 2.2e-9
    for (const v of [...g.flat(), ...gb]) expect(Math.abs(v)).toBeLessThan(1e-3);
  });

  it('splitColumns / concatColumns are inverse', () => {
    const k = { shape: [2, 2, 5, 2] as [number, number, number, number], data: Float64Array.from({ length: 40 }, (_, i) => i) };
    const [a, b] = splitColumns(k, 3);
    expect(a.shape).toEqual([2, 2, 3, 2]);
    expect(b.shape).toEqual([2, 2, 2, 2]);
    expect(Array.from(a.data.subarray(0, 6))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(Array.from(b.data.subarray(0, 4))).toEqual([6, 7, 8, 9]);
    expect(Array.from(concatColumns(a, b).data)).toEqual(Array.from(k.data));
  });
});
