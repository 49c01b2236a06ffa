// The experiment runner end to end on CPU with the tiny RoBERTa fixture (real vocabulary) and the real
// SST-2 16-shot split: prompt and standard (linear probing) modes, the kernel cache, resuming, bad inputs.
// Test sets are capped with maxTest (first N examples) to keep each run around a second.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../lib/model.js';
import { loadTokenizer, taskEncoder } from '../lib/prompts/index.js';
import { readSplit } from '../lib/tasks/index.js';
import {
  linearProbe,
  stratifiedFolds,
  runKernelExperiment,
  solveSeed,
  resolveGrid,
  reportTable,
  formatCell,
  splitColumns,
  concatColumns,
  type RunOptions,
  type ResultLine,
} from '../lib/runner/index.js';
import { gridOf } from '../lib/solvers/index.js';
import { run as runCli } from '../lib/cli/run.js';
import { run as reportCli } from '../lib/cli/report.js';

// The dispatcher's dynamic import is not resolvable under vite; call the command modules as lib/cli.ts does
// (an error becomes exit code 1 and a message).
async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    return await (cmd === 'run' ? runCli : reportCli)(rest);
  } catch (e) {
    console.error(`lmkernel ${cmd}: ${(e as Error).message}`);
    return 1;
  }
}
import { fixtureModelDir, sharedDir } from './helpers/fixtures.js';

const dataDir = join(sharedDir, 'data', 'k-shot-1k-test');
const tokenizerDir = join(sharedDir, 'tokenizers', 'roberta-base');
const tmp = () => mkdtempSync(join(tmpdir(), 'lmk-runner-'));
const readLines = (p: string): ResultLine[] =>
  readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));

function base(dir: string, over: Partial<RunOptions> = {}): RunOptions {
  return {
    task: 'SST-2',
    k: 16,
    seeds: [42],
    dataDir,
    modelDir: fixtureModelDir('roberta'),
    tokenizerDir,
    mode: 'prompt',
    formula: 'sgd',
    solver: 'lstsq',
    grid: { kernelRegularization: [0, 1e-3], f0Scaling: [0, 10] },
    dtype: 'float64',
    maxTest: 48,
    out: join(dir, 'results.jsonl'),
    cacheDir: join(dir, 'cache'),
    ...over,
  };
}

const outcome = (l: ResultLine) => ({ params: l.params, dev: l.dev, test: l.test, grad_dim: l.grad_dim, n: [l.n_train, l.n_dev, l.n_test] });

describe('runKernelExperiment end to end (SST-2, 16-shot, seed 42, tiny RoBERTa)', () => {
  it('prompt mode, sgd and signgd with lstsq: one valid line each, and the report renders them', async () => {
    const dir = tmp();
    const t0 = performance.now();
    for (const formula of ['sgd', 'signgd'] as const) {
      const stats = await runKernelExperiment(base(dir, { formula }));
      expect(stats.seeds).toHaveLength(1);
      expect(stats.seeds[0].status).toBe('done');
    }
    const ms = performance.now() - t0;
    const lines = readLines(join(dir, 'results.jsonl'));
    expect(lines).toHaveLength(2);
    for (const [i, l] of lines.entries()) {
      expect(l).toMatchObject({
        task: 'SST-2',
        k: 16,
        seed: 42,
        mode: 'prompt',
        formula: i === 0 ? 'sgd' : 'signgd',
        solver: 'lstsq',
        binary: false,
        subset: 'all',
        metric: 'acc',
        n_train: 32,
        n_dev: 32,
        n_test: 48,
        max_test: 48,
        num_logits: 2,
        grid_size: 4,
        kernel_cache: 'miss',
        linear_probe: null,
      });
      expect(l.grad_dim).toBeGreaterThan(3_000_000);
      expect(l.label_word_ids).toHaveLength(2);
      expect([0, 1e-3]).toContain(l.params.kernelRegularization);
      expect([0, 10]).toContain(l.params.f0Scaling);
      for (const s of [l.dev_score, l.test_score, l.dev.acc, l.test.acc]) expect(s).toBeGreaterThanOrEqual(0), expect(s).toBeLessThanOrEqual(1);
      expect(l.dev_score).toBe(l.dev.acc);
      expect(l.test_score).toBe(l.test.acc);
      // test accuracy is a multiple of 1/48
      expect(Math.abs(l.test.acc * 48 - Math.round(l.test.acc * 48))).toBeLessThan(1e-9);
      for (const t of ['encode_s', 'kernel_s', 'select_s', 'eval_s', 'total_s'] as const) expect(l.timings[t]).toBeGreaterThanOrEqual(0);
      expect(l.config_id).toMatch(/^[0-9a-f]{64}$/);
      expect(l.kernel_key).toMatch(/^[0-9a-f]{64}$/);
    }
    console.log(`e2e prompt sgd + signgd (2 runs): ${(ms / 1000).toFixed(2)} s`);

    const table = reportTable(lines);
    expect(table.rows.map((r) => r.label)).toEqual(['SST-2']);
    expect(table.columns.map((c) => c.label)).toEqual(['prompt/sgd/lstsq', 'prompt/signgd/lstsq']);
    const cell = table.cells[table.rows[0].key]['prompt/sgd/lstsq'];
    expect(cell.n).toBe(1);
    expect(cell.mean).toBeCloseTo(lines[0].test_score, 12);
    expect(formatCell(cell)).toBe(`${(lines[0].test_score * 100).toFixed(1)} (0.0) [1]`);

    // the report command prints and writes Markdown and CSV
    const md = join(dir, 'table.md');
    const csv = join(dir, 'table.csv');
    expect(await main(['report', join(dir, 'results.jsonl'), '--out-md', md, '--out-csv', csv])).toBe(0);
    const mdText = readFileSync(md, 'utf8');
    expect(mdText).toContain('| Task | prompt/sgd/lstsq | prompt/signgd/lstsq |');
    expect(mdText).toMatch(/\| SST-2 \(acc\) \| \d+\.\d \(0\.0\) \[1\] \| \d+\.\d \(0\.0\) \[1\] \|/);
    const csvLines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(csvLines[0]).toBe('task,k,metric,prompt/sgd/lstsq mean,prompt/sgd/lstsq std,prompt/sgd/lstsq seeds,prompt/signgd/lstsq mean,prompt/signgd/lstsq std,prompt/signgd/lstsq seeds');
    expect(csvLines[1]).toMatch(/^SST-2,16,acc,\d+\.\d,0\.0,1,\d+\.\d,0\.0,1$/);
  });

  it('standard mode: linear probing sets the classifier, then the kernels run', async () => {
    const dir = tmp();
    const stats = await runKernelExperiment(base(dir, { mode: 'standard', binary: true }));
    const l = stats.lines[0];
    expect(l.mode).toBe('standard');
    expect(l.binary).toBe(true);
    expect(l.num_logits).toBe(1);
    expect(l.label_word_ids).toBeNull();
    expect(l.linear_probe).not.toBeNull();
    expect(l.linear_probe!.cv_scores).toHaveLength(10);
    expect(l.linear_probe!.C).toBeGreaterThan(0);
    expect(l.linear_probe!.train_acc).toBeGreaterThan(0.5);
    expect(l.linear_probe!.cache).toBe('miss');
    expect(existsSync(join(dir, 'cache', 'linear-probe'))).toBe(true);
    // a second run: head and kernels from the cache, the model is never loaded
    const again = await runKernelExperiment(base(dir, { mode: 'standard', binary: true, out: join(dir, 'again.jsonl') }));
    expect(again.lines[0].linear_probe!.cache).toBe('hit');
    expect(again.lines[0].kernel_cache).toBe('hit');
    expect(again.modelLoaded).toBe(false);
    expect(outcome(again.lines[0])).toEqual(outcome(l));
    // a fixed C skips CV
    const s2 = await runKernelExperiment(base(dir, { mode: 'standard', binary: true, linearProbe: { C: 0.5 }, cacheDir: null }));
    expect(s2.lines[0].linear_probe!.C).toBe(0.5);
    expect(s2.lines[0].linear_probe!.cv_scores).toEqual([]);
    expect(s2.lines[0].kernel_key).not.toBe(l.kernel_key); // another head, other kernels
  });

  it('the written head reproduces the probe: classifier outputs = features . W^T + b, binary as [-w/2, +w/2]', async () => {
    const tok = loadTokenizer(tokenizerDir);
    const enc = taskEncoder(tok, 'SST-2');
    const train = readSplit(join(dataDir, 'SST-2', '16-42'), 'SST-2', 'train');
    const inputs = train.map((x) => ({ input_ids: enc.encodeStandard(x.texts).inputIds }));
    const model = await loadModel(fixtureModelDir('roberta'), { dtype: 'float64' });
    const X = await model.features({ inputs, output: 'standard' });
    const lp = linearProbe(X, train.map((x) => x.labelIndex), 2);
    expect(lp.weight[0].map((v) => -v)).toEqual(lp.weight[1]);
    expect(lp.bias[0]).toBe(-lp.bias[1]);
    model.setClassifier(lp.weight, lp.bias);
    const out = await model.outputs({ inputs, output: 'standard' });
    X.forEach((x, i) => {
      for (let c = 0; c < 2; c++) {
        const want = x.reduce((s, v, j) => s + v * lp.weight[c][j], lp.bias[c]);
        expect(out[i][c]).toBeCloseTo(want, 9);
      }
    });
  });
});

describe('cache and resume', () => {
  it('a second run hits the cache with identical results and rewrites nothing; another option misses', async () => {
    const dir = tmp();
    const first = await runKernelExperiment(base(dir, { out: join(dir, 'a.jsonl') }));
    expect(first.cacheMisses).toBe(1);
    const files = readdirSync(join(dir, 'cache', 'kernels'));
    expect(files).toHaveLength(1);
    const file = join(dir, 'cache', 'kernels', files[0]);
    const mtime = statSync(file).mtimeMs;
    const second = await runKernelExperiment(base(dir, { out: join(dir, 'b.jsonl') }));
    expect(second.cacheHits).toBe(1);
    expect(second.seeds[0].kernelCache).toBe('hit');
    expect(second.lines[0].kernel_cache).toBe('hit');
    expect(second.modelLoaded).toBe(false); // prompt mode: nothing to compute
    expect(outcome(second.lines[0])).toEqual(outcome(first.lines[0]));
    expect(second.lines[0].kernel_key).toBe(first.lines[0].kernel_key);
    expect(statSync(file).mtimeMs).toBe(mtime);
    // a different solver grid reuses the same kernels
    const third = await runKernelExperiment(base(dir, { out: join(dir, 'c.jsonl'), grid: { kernelRegularization: [1e-2] } }));
    expect(third.lines[0].kernel_cache).toBe('hit');
    // options that change kernels miss
    for (const over of [{ binary: true }, { maxTest: 40 }, { formula: 'signgd' as const }, { dtype: 'float32' as const }, { subset: 'only_biases' as const }, { labelWords: ['bad', 'good'] }]) {
      const r = await runKernelExperiment(base(dir, { out: join(dir, 'd.jsonl'), ...over }));
      expect(r.lines[0].kernel_cache, JSON.stringify(over)).toBe('miss');
      expect(r.lines[0].kernel_key).not.toBe(first.lines[0].kernel_key);
    }
    expect(readdirSync(join(dir, 'cache', 'kernels'))).toHaveLength(7);
  });

  it('changed model weights change the model id and miss the cache', async () => {
    const dir = tmp();
    const a = await runKernelExperiment(base(dir, { out: join(dir, 'a.jsonl') }));
    // a copy of the fixture model with the last byte of the weights changed (inside a tensor's data)
    const m2 = join(dir, 'model2');
    mkdirSync(m2);
    copyFileSync(join(fixtureModelDir('roberta'), 'config.json'), join(m2, 'config.json'));
    const w = readFileSync(join(fixtureModelDir('roberta'), 'model.safetensors'));
    w[w.length - 1] ^= 1;
    writeFileSync(join(m2, 'model.safetensors'), w);
    const b = await runKernelExperiment(base(dir, { out: join(dir, 'a.jsonl'), modelDir: m2 }));
    expect(b.skipped).toBe(0); // not the same configuration as the line already in a.jsonl
    expect(b.lines[0].model_id).not.toBe(a.lines[0].model_id);
    expect(b.lines[0].kernel_cache).toBe('miss');
    expect(b.lines[0].kernel_key).not.toBe(a.lines[0].kernel_key);
  });

  it('a corrupt cache file is ignored and recomputed', async () => {
    const dir = tmp();
    const a = await runKernelExperiment(base(dir, { out: join(dir, 'a.jsonl') }));
    const f = join(dir, 'cache', 'kernels', readdirSync(join(dir, 'cache', 'kernels'))[0]);
    writeFileSync(f, readFileSync(f).subarray(0, 1000));
    const msgs: string[] = [];
    const b = await runKernelExperiment(base(dir, { out: join(dir, 'b.jsonl'), log: (m) => msgs.push(m) }));
    expect(b.lines[0].kernel_cache).toBe('miss');
    expect(msgs.join('\n')).toMatch(/unreadable cache file/);
    expect(outcome(b.lines[0])).toEqual(outcome(a.lines[0]));
  });

  it('seeds already in the results file are skipped; an interrupted run resumes with identical results', async () => {
    const dir = tmp();
    const out = join(dir, 'r.jsonl');
    const ac = new AbortController();
    // interrupt right after seed 42's line is written (seed 13 never starts)
    await expect(
      runKernelExperiment(base(dir, { out, seeds: [42, 13], signal: ac.signal, log: (m) => m.startsWith('seed 42: dev') && ac.abort() })),
    ).rejects.toThrow();
    expect(readLines(out).map((l) => l.seed)).toEqual([42]);
    const resumed = await runKernelExperiment(base(dir, { out, seeds: [42, 13] }));
    expect(resumed.seeds.map((s) => [s.seed, s.status])).toEqual([
      [42, 'skipped'],
      [13, 'done'],
    ]);
    expect(resumed.skipped).toBe(1);
    expect(readLines(out).map((l) => l.seed)).toEqual([42, 13]);
    // the same as an uninterrupted run without cache
    const clean = await runKernelExperiment(base(dir, { out: join(dir, 'clean.jsonl'), seeds: [42, 13], cacheDir: null }));
    expect(readLines(out).map(outcome)).toEqual(clean.lines.map(outcome));
    // rerunning does nothing
    const again = await runKernelExperiment(base(dir, { out, seeds: [42, 13] }));
    expect(again.skipped).toBe(2);
    expect(again.modelLoaded).toBe(false);
    expect(readLines(out)).toHaveLength(2);
  });
});

describe('bad inputs', () => {
  const dir = tmp();
  it('wrong task name', async () => {
    await expect(runKernelExperiment(base(dir, { task: 'SST-3' }))).rejects.toThrow(/option 'task': expected one of SST-2, .*received "SST-3"/);
  });
  it('missing split folder names the path', async () => {
    await expect(runKernelExperiment(base(dir, { seeds: [999] }))).rejects.toThrow(/k-shot-1k-test\/SST-2\/16-999: k-shot split folder not found/);
    await expect(runKernelExperiment(base(dir, { k: 3 }))).rejects.toThrow(/SST-2\/3-42: k-shot split folder not found/);
  });
  it('a label word that is not a single token', async () => {
    await expect(runKernelExperiment(base(dir, { labelWords: ['terrible', 'supercalifragilistic'] }))).rejects.toThrow(
      /label word "supercalifragilistic": must be a single token/,
    );
  });
  it('unknown formula or solver, and options that do not fit', async () => {
    await expect(runKernelExperiment(base(dir, { formula: 'adam' as never }))).rejects.toThrow(/option 'formula': expected sgd \| signgd \| asymmetric_signgd, received "adam"/);
    await expect(runKernelExperiment(base(dir, { solver: 'ridge' as never }))).rejects.toThrow(/option 'solver': expected lstsq \| logistic \| svr \| svc \| asym, received "ridge"/);
    await expect(runKernelExperiment(base(dir, { solver: 'asym' }))).rejects.toThrow(/asym only with --binary and --formula asymmetric_signgd/);
    await expect(runKernelExperiment(base(dir, { task: 'sst-5', binary: true }))).rejects.toThrow(/sst-5 has 5 labels/);
    expect(() => resolveGrid('lstsq', { gamma: [1] })).toThrow(/grid.gamma.*only kernelRegularization, f0Scaling for solver 'lstsq'/);
  });
  it('kernel / label shape mismatch through the solver layer', async () => {
    const K = (n: number, m: number) => ({ shape: [n, 2, m, 2] as [number, number, number, number], data: new Float64Array(n * 2 * m * 2).fill(1) });
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
    await expect(solveSeed({ ...common, kernelTrainTrain: K(4, 4), kernelTrainTest: { shape: [4, 1, 2, 1], data: new Float64Array(8) } })).rejects.toThrow(
      /kernelTrainTest: shape \[4, 1, 2, 1\] does not match the train x train kernel \[4, 2, 4, 2\]/,
    );
  });
  it('the CLI reports bad flags with a clear message and exit code 1', async () => {
    const errs: string[] = [];
    const orig = console.error;
    console.error = (m: string) => errs.push(String(m));
    try {
      const args = ['run', '--task', 'SST-2', '--k', '16', '--data-dir', dataDir, '--model', fixtureModelDir('roberta'), '--tokenizer', tokenizerDir, '--out', join(dir, 'x.jsonl')];
      expect(await main([...args, '--solver', 'ridge'])).toBe(1);
      expect(await main([...args, '--gamma', '1'])).toBe(1);
      expect(await main([...args, '--formula', 'adam'])).toBe(1);
      expect(await main(['run', '--task', 'SST-2', '--k', '16', '--data-dir', dataDir, '--model', fixtureModelDir('roberta')])).toBe(1);
    } finally {
      console.error = orig;
    }
    expect(errs[0]).toMatch(/option '--solver': expected lstsq \| logistic \| svr \| svc \| asym, received "ridge"/);
    expect(errs[1]).toMatch(/option '--gamma': .*solver 'lstsq' takes --kernel-regularization, --f0-scaling/);
    expect(errs[2]).toMatch(/option '--formula'/);
    expect(errs[3]).toMatch(/no tokenizer files: pass --tokenizer DIR/);
  });
});

describe('CLI run', () => {
  it('runs seeds from the command line and skips them when rerun', async () => {
    const dir = tmp();
    const out = join(dir, 'cli.jsonl');
    const args = ['run', '--task', 'SST-2', '--k', '16', '--seeds', '42', '--data-dir', dataDir, '--model', fixtureModelDir('roberta'),
      '--tokenizer', tokenizerDir, '--max-test', '32', '--kernel-regularization', '0,1e-3', '--f0-scaling', '0', '--out', out, '--quiet'];
    const orig = console.error;
    const errs: string[] = [];
    console.error = (m: string) => errs.push(String(m));
    try {
      expect(await main(args)).toBe(0);
      expect(await main(args)).toBe(0);
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
    const centers = [[2, 0], [-1, 2], [-1, -2]];
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
