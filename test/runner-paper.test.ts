// `lmkernel run` with the paper's A.3 solvers and the LoRA kernel K^LoRA (Table 12) on the tiny RoBERTa
// fixture and the SST-2 16-shot split (seed 42), through the CLI: the LoRA kernel against one computed
// here through the model API (and its alpha^2 scaling, by hand), the asym lambda setting, kernel logistic
// regression with f0, and the report's columns for them.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

import { run as runCli } from '../lib/cli/run.js';
import { entryPath, readEntry } from '../lib/experiments/cache.js';
import { reportTable, type ResultLine } from '../lib/experiments/index.js';
import { loadModel } from '../lib/model.js';
import { loadTokenizer, taskEncoder } from '../lib/prompts/index.js';
import { solve } from '../lib/solvers/index.js';
import { readSplit } from '../lib/tasks/index.js';
import { fixtureModelDir, maxRelErr, needsData } from './helpers/fixtures.js';
import { dataDir, readJsonLines, sst2Flags, tmp, tokenizerDir } from './helpers/runner.js';

const MAX_TEST = 16;
const last = (ls: ResultLine[]): ResultLine => ls[ls.length - 1];

/** Runs `lmkernel run` quietly with the SST-2 flags; returns the lines of its results file. */
async function runLines(dir: string, out: string, extra: string[]): Promise<ResultLine[]> {
  const orig = console.error;
  console.error = () => {};
  try {
    const args = [...sst2Flags(), '--max-test', String(MAX_TEST), '--dtype', 'float64', '--quiet'];
    expect(await runCli([...args, '--cache-dir', join(dir, 'cache'), '--out', join(dir, out), ...extra])).toBe(0);
  } finally {
    console.error = orig;
  }
  return readJsonLines(join(dir, out));
}

/** The SST-2 seed-42 inputs as the runner encodes them (train, dev + the first MAX_TEST test examples). */
function encoded() {
  const enc = taskEncoder(loadTokenizer(tokenizerDir), 'SST-2');
  const split = (s: 'train' | 'dev' | 'test') => {
    const xs = readSplit(join(dataDir, 'SST-2', '16-42'), 'SST-2', s);
    return (s === 'test' ? xs.slice(0, MAX_TEST) : xs).map((x) => {
      const e = enc.encode(x.texts);
      return { input_ids: e.inputIds, mask_pos: e.maskPos };
    });
  };
  return { train: split('train'), evalSet: [...split('dev'), ...split('test')], labelWordIds: enc.labelWordIds };
}

/** The cached kernel arrays of a result line. */
function cached(dir: string, l: ResultLine): Record<string, Float64Array> {
  const e = readEntry(entryPath(join(dir, 'cache'), 'kernels', l.kernel_key), l.kernel_key);
  if (!e || 'error' in e) throw new Error(`no cache entry for ${l.kernel_key}`);
  return e.arrays;
}

needsData.describe('run --subset lora: the LoRA kernel K^LoRA through the solvers', () => {
  it('equals the model API kernel with A seeded by the data seed, scales as alpha^2, caches', async () => {
    const dir = tmp('lmk-lora-');
    const flags = ['--subset', 'lora', '--lora-r', '4', '--kernel-regularization', '0,1e-3', '--f0-scaling', '0'];
    const [a8] = await runLines(dir, 'a.jsonl', [...flags, '--lora-alpha', '8']);
    expect(a8).toMatchObject({ subset: 'lora', lora: { r: 4, alpha: 8, seed: 42 }, kernel_cache: 'miss', n_test: MAX_TEST });
    // LoRA on query and value of 2 layers, hidden 32, r 4: A [4, 32] and B [32, 4] each: 2 * 2 * (128 + 128)
    expect(a8.grad_dim).toBe(1024);
    const { train, evalSet, labelWordIds } = encoded();
    const model = await loadModel(fixtureModelDir('roberta'), { dtype: 'float64' });
    model.applyLora({ r: 4, alpha: 8, seed: 42 });
    const k = await model.kernels({ train, test: evalSet, labelWordIds, formulas: ['sgd'], subset: 'lora' });
    const got = cached(dir, a8);
    expect(maxRelErr(got.trainTrain, k.kernels.sgd!.trainTrain.data)).toBeLessThan(1e-12);
    expect(maxRelErr(got.trainEval, k.kernels.sgd!.trainTest.data)).toBeLessThan(1e-12);
    // B = 0: only the gradient in B = (alpha / r) delta (A x)^T is non-zero, so alpha 16 gives 4 x the kernel
    const [a16] = await runLines(dir, 'b.jsonl', [...flags, '--lora-alpha', '16']);
    const k16 = cached(dir, a16).trainTrain;
    expect(
      maxRelErr(
        k16,
        Float64Array.from(got.trainTrain, (v) => 4 * v),
      ),
    ).toBeLessThan(1e-12);
    // another seed of A: another kernel; the same options again: a cache hit
    const [s7] = await runLines(dir, 'c.jsonl', [...flags, '--lora-alpha', '8', '--lora-seed', '7']);
    expect(s7.lora).toEqual({ r: 4, alpha: 8, seed: 7 });
    expect(s7.kernel_key).not.toBe(a8.kernel_key);
    expect(maxRelErr(cached(dir, s7).trainTrain, got.trainTrain)).toBeGreaterThan(1e-3);
    const [again] = await runLines(dir, 'd.jsonl', [...flags, '--lora-alpha', '8']);
    expect(again).toMatchObject({ kernel_cache: 'hit', kernel_key: a8.kernel_key, test: a8.test, params: a8.params });
    // the report shows K^LoRA as its own column
    expect(reportTable([a8]).columns.map((c) => c.label)).toEqual(['prompt/sgd/lstsq/lora']);
  });

  it('LoRA flags need --subset lora, and --subset lora needs r and alpha', async () => {
    const dir = tmp('lmk-lora-');
    await expect(runLines(dir, 'x.jsonl', ['--lora-r', '4'])).rejects.toThrow(/--lora-r.*unless --subset lora/);
    await expect(runLines(dir, 'x.jsonl', ['--subset', 'lora', '--lora-alpha', '8'])).rejects.toThrow(
      /--lora-r.*with --subset lora/,
    );
    await expect(runLines(dir, 'x.jsonl', ['--subset', 'lora', '--lora-r', '0', '--lora-alpha', '8'])).rejects.toThrow(/lora\.r/);
  });
});

needsData.describe('run with the A.3 solvers', () => {
  it('logistic fits f0 as an offset; asym predicts with omega unless --asym-lambda search', async () => {
    const dir = tmp('lmk-a3-');
    const [klr] = await runLines(dir, 'r.jsonl', [
      '--solver',
      'logistic',
      '--kernel-regularization',
      '1e-3',
      '--f0-scaling',
      '0,10',
    ]);
    expect(klr.grid).toEqual({ kernelRegularization: [1e-3], f0Scaling: [0, 10] });
    // the line's test accuracy is that of the selected setting solved on the cached kernels and f0
    const a = cached(dir, klr);
    const [N, nDev] = [32, 32];
    const testLabels = readSplit(join(dataDir, 'SST-2', '16-42'), 'SST-2', 'test')
      .slice(0, MAX_TEST)
      .map((x) => x.labelIndex);
    const testKernel = a.trainEval.filter((_, i) => Math.floor(i / 2) % (nDev + MAX_TEST) >= nDev);
    const r = await solve({
      kernelTrainTrain: { shape: [N, 2, N, 2], data: a.trainTrain },
      kernelTrainTest: { shape: [N, 2, MAX_TEST, 2], data: Float64Array.from(testKernel) },
      f0Train: a.f0Train,
      f0Test: a.f0Eval.subarray(nDev * 2),
      trainLabels: readSplit(join(dataDir, 'SST-2', '16-42'), 'SST-2', 'train').map((x) => x.labelIndex),
      testLabels,
      numClasses: 2,
      binary: false,
      solver: 'logistic',
      params: klr.params,
    });
    expect(klr.test.acc).toBe(r.metrics!.accuracy);
    const rows = last(await runLines(dir, 'r.jsonl', ['--solver', 'logistic-rows', '--C', '1']));
    expect(rows.grid).toEqual({ kernelRegularization: [0], C: [1] });

    const asym = ['--formula', 'asymmetric_signgd', '--solver', 'asym', '--f0-scaling', '0,10', '--gamma', '1'];
    const paper = last(await runLines(dir, 'r.jsonl', asym)); // two outputs per example: the flattened problem
    expect(paper).toMatchObject({ binary: false, num_outputs: 2, grid: { lambda: [1] }, grid_size: 2, kernel_cache: 'miss' });
    // lambda = 1 reads no flipped kernel: none computed
    const plain = cached(dir, paper);
    expect(plain.trainEvalFlipped).toBeUndefined();
    // a lambda != 1 needs the flip: computed (the solver refuses lambda != 1 without it) and cached apart
    const search = last(await runLines(dir, 'r.jsonl', [...asym, '--asym-lambda', 'search']));
    expect(search).toMatchObject({ grid: { lambda: [0, 0.25, 0.5, 0.75, 1] }, grid_size: 10, kernel_cache: 'miss' });
    expect(search.kernel_key).not.toBe(paper.kernel_key);
    const withFlip = cached(dir, search);
    expect(withFlip.trainEvalFlipped).toHaveLength(plain.trainEval.length);
    expect(withFlip.trainEval).toEqual(plain.trainEval); // the same products, the flip only added
    const alias = last(await runLines(dir, 'r.jsonl', [...asym, '--lambda', '0,1']));
    expect(alias.grid.lambda).toEqual([0, 1]);
    expect(alias).toMatchObject({ kernel_cache: 'hit', kernel_key: search.kernel_key });
    // an entry with the flip serves a request without it
    rmSync(entryPath(join(dir, 'cache'), 'kernels', paper.kernel_key));
    const again = last(await runLines(dir, 'again.jsonl', asym));
    expect(again).toMatchObject({ kernel_cache: 'hit', kernel_key: search.kernel_key, params: paper.params, test: paper.test });
    expect(reportTable(readJsonLines(join(dir, 'r.jsonl'))).columns.map((c) => c.label)).toEqual([
      'prompt/sgd/logistic',
      'prompt/sgd/logistic-rows',
      'prompt/asymmetric_signgd/asym',
      'prompt/asymmetric_signgd/asym[lambda 0,0.25,0.5,0.75,1]',
      'prompt/asymmetric_signgd/asym[lambda 0,1]',
    ]);
    await expect(runLines(dir, 'r.jsonl', ['--formula', 'asymmetric_signgd', '--solver', 'logistic'])).rejects.toThrow(
      /logistic needs a symmetric one/,
    );
  });
});
