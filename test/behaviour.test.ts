// The kernel-behaviour measurements (χ, lora-vs-full, the behaviour tables and CLI) on the tiny RoBERTa
// fixture (real vocabulary, hidden 32) and the real SST-2 16-shot split, seed 42.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../lib/model.js';
import { loadTokenizer, taskEncoder } from '../lib/prompts/index.js';
import { getTask } from '../lib/tasks/index.js';
import { loadEncodedSplits, runFinetuneExperiment } from '../lib/experiments/index.js';
import { chiFromLogits, chiStats, loraKernel, loraVsFull, relativeDifference } from '../lib/behaviour/measures.js';
import { run as behaviourCli } from '../lib/cli/behaviour.js';
import { fixtureModelDir, maxRelErr, needsData, tokenizerDirs } from './helpers/fixtures.js';
import { dataDir, tokenizerDir, ftBase } from './helpers/runner.js';
const tmp = () => mkdtempSync(join(tmpdir(), 'lmk-beh-'));

describe('chi (natural-task test)', () => {
  needsData.it('mean |χ| is in [0, 1] and matches a direct computation from outputs', async () => {
    const spec = getTask('SST-2');
    const enc = taskEncoder(loadTokenizer(tokenizerDir), 'SST-2');
    const e = loadEncodedSplits(dataDir, spec, 16, 42, enc, 'prompt');
    const m = await loadModel(fixtureModelDir('roberta'), { dtype: 'float64' });
    const s = await chiStats(m, { inputs: e.train, labels: e.trainLabels, labelWordIds: enc.labelWordIds });
    const f = await m.outputs({ inputs: e.train, labelWordIds: enc.labelWordIds });
    let sum = 0;
    f.forEach((row, i) => {
      const z = Math.exp(row[0]) + Math.exp(row[1]);
      const p = [Math.exp(row[0]) / z, Math.exp(row[1]) / z];
      sum += Math.abs(p[0] - (e.trainLabels[i] === 0 ? 1 : 0)) + Math.abs(p[1] - (e.trainLabels[i] === 1 ? 1 : 0));
    });
    expect(s.meanAbsChi).toBeCloseTo(sum / (2 * f.length), 12);
    expect(s.meanAbsChi).toBeGreaterThanOrEqual(0);
    expect(s.meanAbsChi).toBeLessThanOrEqual(1);
    for (const v of s.perExample) expect(v >= 0 && v <= 1).toBe(true);
    expect(s.n).toBe(32);
    console.log(
      `tiny RoBERTa SST-2 16-42 train: mean |chi| ${s.meanAbsChi.toFixed(4)} (std ${s.std.toFixed(4)}), acc at θ0 ${s.accuracy}`,
    );
  });

  it('chiFromLogits: by hand', () => {
    const chi = chiFromLogits(
      [
        [0, 0],
        [Math.log(3), 0],
      ],
      [1, 0],
    );
    expect(chi[0][0]).toBeCloseTo(0.5, 15);
    expect(chi[0][1]).toBeCloseTo(-0.5, 15);
    expect(chi[1][0]).toBeCloseTo(-0.25, 15);
    expect(chi[1][1]).toBeCloseTo(0.25, 15);
    expect(() => chiFromLogits([[0, 0]], [2])).toThrow(/labels\[0\]/);
  });

  needsData.it('CLI: one line per model, two models (RoBERTa, BERT with its own tokenizer)', async () => {
    const dir = tmp();
    const out = join(dir, 'b.jsonl');
    const md = join(dir, 'chi.md');
    const code = await behaviourCli([
      'chi',
      '--task',
      'SST-2',
      '--data-dir',
      dataDir,
      '--model',
      `${fixtureModelDir('roberta')},${fixtureModelDir('bert')}`,
      '--tokenizer',
      `${tokenizerDir},${tokenizerDirs.bert}`,
      '--split',
      'dev',
      '--out',
      out,
      '--out-md',
      md,
    ]);
    expect(code).toBe(0);
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.kind)).toEqual(['chi', 'chi', 'chi-width']);
    // mean |softmax(f) − onehot(y)| over the dev examples and outputs, by hand from each model's outputs
    const perExample: number[][] = [];
    const byHand = async (modelDir: string, tokDir: string): Promise<number> => {
      const enc = taskEncoder(loadTokenizer(tokDir), 'SST-2');
      const e = loadEncodedSplits(dataDir, getTask('SST-2'), 16, 42, enc, 'prompt');
      const f = await (
        await loadModel(modelDir, { dtype: 'float64' })
      ).outputs({ inputs: e.dev, labelWordIds: enc.labelWordIds });
      let sum = 0;
      const per: number[] = [];
      f.forEach((row, i) => {
        const ex = row.map(Math.exp);
        const z = ex.reduce((a, b) => a + b, 0);
        let pi = 0;
        ex.forEach((v, c) => (pi += Math.abs(v / z - (c === e.devLabels[i] ? 1 : 0)) / row.length));
        per.push(pi);
        sum += pi;
      });
      perExample.push(per);
      return sum / f.length;
    };
    const expected = [
      await byHand(fixtureModelDir('roberta'), tokenizerDir),
      await byHand(fixtureModelDir('bert'), tokenizerDirs.bert),
    ];
    lines.slice(0, 2).forEach((l, i) => {
      expect(l.kind).toBe('chi');
      expect(l.split).toBe('dev');
      expect(Math.abs(l.mean_abs_chi - expected[i])).toBeLessThan(1e-12);
    });
    // the paired comparison: examples whose |χ| is lower under the second model (same width: given order)
    const w = lines[2];
    const fell = perExample[1].filter((v, i) => v < perExample[0][i]).length;
    expect(w.comparisons).toHaveLength(1);
    expect(w.comparisons[0].all.decreased).toBe(fell);
    expect(w.comparisons[0].all.n).toBe(perExample[0].length);
    expect(w.comparisons[0].by_output).toHaveLength(2);
    expect(readFileSync(md, 'utf8')).toMatch(/mean \\\|χ\\\|/);
    await expect(
      behaviourCli([
        'chi',
        '--task',
        'SST-2',
        '--data-dir',
        dataDir,
        '--model',
        fixtureModelDir('bert'),
        '--tokenizer',
        tokenizerDir,
        '--out',
        out,
      ]),
    ).rejects.toThrow(/does not belong to this model/);
  });
});

needsData.describe('LoRA vs full kernel', () => {
  // read when the first test runs (a skipped suite is still collected)
  let cached: { inputs: ReturnType<typeof loadEncodedSplits>['train']; labelWordIds: number[] } | undefined;
  const opts = () => {
    if (cached) return cached;
    const enc = taskEncoder(loadTokenizer(tokenizerDir), 'SST-2');
    const e = loadEncodedSplits(dataDir, getTask('SST-2'), 16, 42, enc, 'prompt');
    return (cached = { inputs: e.train.slice(0, 6), labelWordIds: enc.labelWordIds });
  };
  const H = 32;
  const eye = (rows: number[]) => rows.map((i) => Array.from({ length: H }, (_, j) => (i === j ? 1 : 0)));

  it('the definition by hand: A = I is the full kernel of the targets; a row partition of I adds up to it; a permutation changes nothing', async () => {
    const dir = fixtureModelDir('roberta');
    const all = Array.from({ length: H }, (_, i) => i);
    const full = await loraKernel(dir, { r: H, alpha: H, A: () => eye(all) }, opts());
    const lo = await loraKernel(dir, { r: 12, alpha: 12, A: () => eye(all.slice(0, 12)) }, opts());
    const hi = await loraKernel(dir, { r: 20, alpha: 20, A: () => eye(all.slice(12)) }, opts());
    const sum = full.data.map((_, i) => lo.data[i] + hi.data[i]);
    expect(maxRelErr(sum, full.data)).toBeLessThanOrEqual(1e-10);
    const perm = await loraKernel(dir, { r: H, alpha: H, A: () => eye([...all].reverse()) }, opts());
    expect(relativeDifference(perm.data, full.data)).toBeLessThanOrEqual(1e-12);
    // α and scaling: α/r = 2 multiplies the kernel by 4
    const twice = await loraKernel(dir, { r: H, alpha: 2 * H, A: () => eye(all) }, opts());
    expect(relativeDifference(twice.data, full.data, 0.25)).toBeLessThanOrEqual(1e-12);
    // the 'lora' subset holds A and B (A's gradient is 0 at B = 0): layers x 2 targets x (A + B) x H x r
    expect(full.gradDim).toBe((await loadModel(dir)).info.layers * 2 * 2 * H * H);
  });

  it('the relative difference decreases as r grows (mean over seeds)', async () => {
    const res = await loraVsFull(fixtureModelDir('roberta'), {
      ...opts(),
      ranks: [1, 4, 32],
      seeds: [0, 1, 2],
      alpha: 16,
      init: 'gaussian',
    });
    const m = res.byRank.map((b) => b.mean);
    console.log(
      `tiny RoBERTa lora-vs-full (6 examples, gaussian A): ${res.byRank.map((b) => `r=${b.r}: ${b.mean.toFixed(3)} (${b.std.toFixed(3)})`).join(', ')}`,
    );
    expect(m[2]).toBeLessThan(m[0]);
    expect(m[1]).toBeLessThan(m[0]);
    for (const p of res.points) expect(p.scale).toBeCloseTo(p.r / (16 * 16 * (1 / p.r)), 12);
  });
});

needsData.describe('behaviour tables CLI', () => {
  it('renders the Linearization and Fixed-Features tables; no behaviour lines is an error', async () => {
    const dir = tmp();
    await runFinetuneExperiment(ftBase(dir, { behaviour: true, seeds: [42, 13] }));
    const md = join(dir, 't.md');
    const csv = join(dir, 't.csv');
    expect(await behaviourCli(['tables', join(dir, 'results.jsonl'), '--out-md', md, '--out-csv', csv])).toBe(0);
    const text = readFileSync(md, 'utf8');
    expect(text).toMatch(/Linearization/);
    expect(text).toMatch(/Fixed Features/);
    expect(text).toMatch(/\| SST-2 \(acc\) \| 16 \| prompt\/sgd\/ft \|/);
    expect(readFileSync(csv, 'utf8').split('\n')[0]).toMatch(/^task,k,method,metric,seeds,pre_mean/);
    const plain = join(dir, 'plain.jsonl');
    await runFinetuneExperiment(ftBase(dir, { out: plain }));
    await expect(behaviourCli(['tables', plain])).rejects.toThrow(/no finished fine-tuning lines with behaviour/);
  });
});
