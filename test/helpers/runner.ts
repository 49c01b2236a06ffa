// Shared set-up of the experiment-runner tests (runner.test.ts, runner-inputs.test.ts): the SST-2 16-shot
// data, the options of a small run, the lines of a results file, and the accuracies of a prompt-mode run
// recomputed without the runner (own reading and encoding of the split, fixture-checked kernels and
// solver, own argmax and dev selection).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../lib/model.js';
import { loadTokenizer, taskEncoder } from '../../lib/prompts/index.js';
import { gridOf, solve } from '../../lib/solvers/index.js';
import { readSplit } from '../../lib/tasks/index.js';
import type { FinetuneRunOptions, ResultLine, RunOptions } from '../../lib/experiments/index.js';
import { fixtureModelDir, kshotDataDir, tokenizerDirs } from './fixtures.js';

/** The paper's k-shot splits (task data: tests that read it go through `needsData`). */
export const dataDir = kshotDataDir;
export const tokenizerDir = tokenizerDirs.roberta;
export const tmp = (prefix = 'lmk-runner-') => mkdtempSync(join(tmpdir(), prefix));

/** The JSON lines of a file (blank lines skipped). */
export const readJsonLines = <T = ResultLine>(p: string): T[] =>
  readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);

/** The flags every experiment-command test starts with: SST-2, k = 16, seed 42, the tiny RoBERTa and its tokenizer. */
export const sst2Flags = (): string[] => [
  ...['--task', 'SST-2', '--k', '16', '--seeds', '42', '--data-dir', dataDir],
  ...['--model', fixtureModelDir('roberta'), '--tokenizer', tokenizerDir],
];

/** The run's source: SST-2's 16-shot split of seed 42 and the tiny RoBERTa with its tokenizer. */
export const sst2Source = () => ({
  task: 'SST-2',
  k: 16,
  seeds: [42],
  dataDir,
  modelDir: fixtureModelDir('roberta'),
  tokenizerDir,
});

/** SST-2, k 16, seed 42, tiny RoBERTa, prompt mode, sgd + lstsq on a 2 x 2 grid, float64, 48 test examples. */
export function base(dir: string, over: Partial<RunOptions> = {}): RunOptions {
  return {
    ...sst2Source(),
    output: 'prompt',
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

/** finetune-run's small run: SST-2, k 16, seed 42, tiny RoBERTa, prompt mode, SGD at lr 1e-2, 4 steps, 16 test examples. */
export function ftBase(dir: string, over: Partial<FinetuneRunOptions> = {}): FinetuneRunOptions {
  return {
    ...sst2Source(),
    output: 'prompt',
    optimizer: 'sgd',
    lrs: [1e-2],
    batchSizes: [8],
    steps: 4,
    evalEvery: 2,
    maxTest: 16,
    dtype: 'float64',
    out: join(dir, 'results.jsonl'),
    ...over,
  };
}

/** What a run decided and measured (not the timings or cache fields). */
export const outcome = (l: ResultLine) => ({
  params: l.params,
  dev: l.dev,
  test: l.test,
  grad_dim: l.grad_dim,
  n: [l.n_train, l.n_dev, l.n_test],
});

/**
 * The dev and test accuracies of every setting of `base()`'s grid for one formula, and the selected
 * setting (best dev accuracy, the first in grid order on ties), computed without the runner.
 */
export async function expectedPromptRun(formula: 'sgd' | 'signgd', maxTest = 48) {
  const enc = taskEncoder(loadTokenizer(tokenizerDir), 'SST-2');
  const dir = join(dataDir, 'SST-2', '16-42');
  const encode = (split: 'train' | 'dev' | 'test') => {
    const xs = readSplit(dir, 'SST-2', split);
    const kept = split === 'test' ? xs.slice(0, maxTest) : xs;
    return {
      inputs: kept.map((x) => {
        const e = enc.encode(x.texts);
        return { input_ids: e.inputIds, mask_pos: e.maskPos };
      }),
      labels: kept.map((x) => x.labelIndex),
    };
  };
  const [train, dev, test] = [encode('train'), encode('dev'), encode('test')];
  const model = await loadModel(fixtureModelDir('roberta'), { dtype: 'float64' });
  const kernelsOn = (other: typeof dev) =>
    model.kernels({ train: train.inputs, test: other.inputs, labelWordIds: enc.labelWordIds, formulas: [formula] });
  const [kd, kt] = [await kernelsOn(dev), await kernelsOn(test)];
  // accuracy by hand: the argmax of each example's scores (first on ties) against its label
  const accuracy = (pred: number[], labels: number[]) =>
    labels.filter((y, i) => (pred[2 * i + 1] > pred[2 * i] ? 1 : 0) === y).length / labels.length;
  const grid = gridOf({ kernelRegularization: [0, 1e-3], f0Scaling: [0, 10] });
  const scored = [];
  for (const params of grid) {
    const on = async (k: typeof kd, split: typeof dev) =>
      accuracy(
        (
          await solve({
            kernelTrainTrain: k.kernels[formula]!.trainTrain,
            kernelTrainTest: k.kernels[formula]!.trainTest,
            f0Train: k.f0Train,
            f0Test: k.f0Test,
            trainLabels: train.labels,
            numClasses: 2,
            binary: false,
            solver: 'lstsq',
            params,
          })
        ).predictions,
        split.labels,
      );
    scored.push({ params, dev: await on(kd, dev), test: await on(kt, test) });
  }
  const best = scored.reduce((a, b) => (b.dev > a.dev ? b : a));
  return { gradDim: kd.gradDim, scored, best, nTest: test.labels.length };
}
