// The experiment runner end to end on CPU with the tiny RoBERTa fixture (real vocabulary) and the real
// SST-2 16-shot split: prompt and standard (linear probing) modes, the kernel cache, resuming. Test sets
// are capped with maxTest (first N examples) to keep each run around a second. The accuracies are
// recomputed without the runner (test/helpers/runner.ts). Bad inputs and the CLI: runner-inputs.test.ts.
import { copyFileSync, mkdirSync, readFileSync, statSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadModel } from '../lib/model.js';
import { loadTokenizer, taskEncoder } from '../lib/prompts/index.js';
import { readSplit } from '../lib/tasks/index.js';
import { DEFAULT_LP_CS, linearProbe, runKernelExperiment, reportTable, formatCell } from '../lib/experiments/index.js';
import { run as reportCli } from '../lib/cli/report.js';
import { fixtureModelDir, fixtures, needsData } from './helpers/fixtures.js';
import { base, dataDir, expectedPromptRun, outcome, readJsonLines as readLines, tmp, tokenizerDir } from './helpers/runner.js';

needsData.describe('runKernelExperiment end to end (SST-2, 16-shot, seed 42, tiny RoBERTa)', () => {
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
        output: 'prompt',
        formula: i === 0 ? 'sgd' : 'signgd',
        solver: 'lstsq',
        binary: false,
        subset: 'all',
        metric: 'acc',
        n_train: 32,
        n_dev: 32,
        n_test: 48,
        max_test: 48,
        num_outputs: 2,
        grid_size: 4,
        kernel_cache: 'miss',
        linear_probe: null,
      });
      expect(l.grad_dim).toBe(fixtures().roberta.cases[0].grad_dim); // 3,289,755: prompt mode, all parameters
      expect(l.label_word_ids).toEqual(fixtures().roberta.label_word_ids); // SST-2's " terrible", " great"
      // the selected setting and its accuracies, recomputed without the runner
      const want = await expectedPromptRun(l.formula as 'sgd' | 'signgd');
      expect(want.nTest).toBe(48);
      expect(l.params).toEqual(want.best.params);
      expect(l.dev.acc).toBe(want.best.dev);
      expect(l.test.acc).toBe(want.best.test);
      expect(l.dev_score).toBe(l.dev.acc);
      expect(l.test_score).toBe(l.test.acc);
      for (const t of ['encode_s', 'kernel_s', 'select_s', 'eval_s', 'total_s'] as const)
        expect(l.timings[t]).toBeGreaterThanOrEqual(0);
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
    expect(await reportCli([join(dir, 'results.jsonl'), '--out-md', md, '--out-csv', csv])).toBe(0);
    const mdText = readFileSync(md, 'utf8');
    expect(mdText).toContain('| Task | prompt/sgd/lstsq | prompt/signgd/lstsq |');
    expect(mdText).toMatch(/\| SST-2 \(acc\) \| \d+\.\d \(0\.0\) \[1\] \| \d+\.\d \(0\.0\) \[1\] \|/);
    const csvLines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(csvLines[0]).toBe(
      'task,k,metric,prompt/sgd/lstsq mean,prompt/sgd/lstsq std,prompt/sgd/lstsq seeds,prompt/signgd/lstsq mean,prompt/signgd/lstsq std,prompt/signgd/lstsq seeds',
    );
    expect(csvLines[1]).toMatch(/^SST-2,16,acc,\d+\.\d,0\.0,1,\d+\.\d,0\.0,1$/);
  });

  it('standard mode: linear probing sets the classifier, then the kernels run', async () => {
    const dir = tmp();
    const stats = await runKernelExperiment(base(dir, { output: 'standard', binary: true }));
    const l = stats.lines[0];
    expect(l.output).toBe('standard');
    expect(l.binary).toBe(true);
    expect(l.num_outputs).toBe(1);
    expect(l.label_word_ids).toBeNull();
    expect(l.linear_probe).not.toBeNull();
    expect(l.linear_probe!.cv_scores).toHaveLength(10);
    // CV's C is the grid's first best mean fold score; train_acc is the head's accuracy on the training
    // features, recomputed here from the cached head (argmax of W f + b)
    const cv = l.linear_probe!.cv_scores;
    expect(l.linear_probe!.C).toBe(DEFAULT_LP_CS[cv.indexOf(Math.max(...cv))]);
    const headFile = readdirSync(join(dir, 'cache', 'linear-probe'))[0];
    const head = JSON.parse(readFileSync(join(dir, 'cache', 'linear-probe', headFile), 'utf8'));
    const enc = taskEncoder(loadTokenizer(tokenizerDir), 'SST-2');
    const train = readSplit(join(dataDir, 'SST-2', '16-42'), 'SST-2', 'train');
    const feats = await (
      await loadModel(fixtureModelDir('roberta'), { dtype: 'float64' })
    ).features({ inputs: train.map((x) => ({ input_ids: enc.encodeStandard(x.texts).inputIds })), output: 'standard' });
    const predicted = feats.map((f) => {
      const z = head.weight.map((w: number[], c: number) => w.reduce((s, v, j) => s + v * f[j], head.bias[c]));
      return z.indexOf(Math.max(...z));
    });
    expect(l.linear_probe!.train_acc).toBe(predicted.filter((p, i) => p === train[i].labelIndex).length / train.length);
    expect(l.linear_probe!.cache).toBe('miss');
    expect(existsSync(join(dir, 'cache', 'linear-probe'))).toBe(true);
    // a second run: head and kernels from the cache, the model is never loaded
    const again = await runKernelExperiment(base(dir, { output: 'standard', binary: true, out: join(dir, 'again.jsonl') }));
    expect(again.lines[0].linear_probe!.cache).toBe('hit');
    expect(again.lines[0].kernel_cache).toBe('hit');
    expect(again.modelLoaded).toBe(false);
    expect(outcome(again.lines[0])).toEqual(outcome(l));
    // a fixed C skips CV
    const s2 = await runKernelExperiment(
      base(dir, { output: 'standard', binary: true, linearProbe: { C: 0.5 }, cacheDir: null }),
    );
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
    const lp = linearProbe(
      X,
      train.map((x) => x.labelIndex),
      2,
    );
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

needsData.describe('cache and resume', () => {
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
    for (const over of [
      { binary: true },
      { maxTest: 40 },
      { formula: 'signgd' as const },
      { dtype: 'float32' as const },
      { subset: 'only_biases' as const },
      { labelWords: ['bad', 'good'] },
    ]) {
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
      runKernelExperiment(
        base(dir, { out, seeds: [42, 13], signal: ac.signal, log: (m) => m.startsWith('seed 42: dev') && ac.abort() }),
      ),
    ).rejects.toMatchObject({ name: 'AbortError' });
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
