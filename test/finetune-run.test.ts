// The fine-tuning experiment runner (finetune-run) on the tiny RoBERTa fixture (real vocabulary, hidden
// 32) and the real SST-2 16-shot split, seed 42, with few steps and a capped test set; bad inputs,
// divergence, abort.
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LmkError, OptionError } from '../lib/errors.js';
import { finetune, OPTIMIZERS } from '../lib/finetune.js';
import { loadModel } from '../lib/model.js';
import { loadTokenizer, taskEncoder } from '../lib/prompts/index.js';
import { getTask } from '../lib/tasks/index.js';
import { loadEncodedSplits } from '../lib/experiments/index.js';
import {
  DEFAULT_FT_LRS,
  defaultEvalEvery,
  defaultKernelDistanceFormula,
  defaultSteps,
  resolveFtOptions,
  runFinetuneExperiment,
  type FinetuneRunOptions,
  type FtResultLine,
} from '../lib/experiments/index.js';
import { behaviourTable } from '../lib/behaviour/tables.js';
import { reportTable } from '../lib/experiments/report.js';
import { run as ftRunCli } from '../lib/cli/finetune-run.js';
import { fixtureModelDir, maxRelErr, needsData } from './helpers/fixtures.js';
import { dataDir, readJsonLines, sst2Flags, tokenizerDir, ftBase } from './helpers/runner.js';
const tmp = () => mkdtempSync(join(tmpdir(), 'lmk-beh-'));
const readLines = (p: string) => readJsonLines<FtResultLine>(p);

describe('finetune-run', () => {
  needsData.it("writes one line per seed with the behaviour fields; the linearized logits equal the finetune API's", async () => {
    const dir = tmp();
    const stats = await runFinetuneExperiment(ftBase(dir, { behaviour: true }));
    const lines = readLines(join(dir, 'results.jsonl'));
    expect(lines).toHaveLength(1);
    const l = lines[0];
    expect(l).toMatchObject({
      method: 'finetune',
      status: 'done',
      task: 'SST-2',
      k: 16,
      seed: 42,
      output: 'prompt',
      formula: 'sgd',
      solver: 'ft',
      subset: 'all',
      metric: 'acc',
      n_test: 16,
      steps: 4,
      eval_every: 2,
      dropout: 0.1, // LM-BFF's, the runner's default
    });
    expect(l.behaviour!.kernel_distance_formula).toBe('sgd'); // SGD's kernel analog
    expect(l.params).toMatchObject({ lr: 1e-2, batch_size: 8 });
    expect(l.grid_runs).toHaveLength(1);
    expect(l.test_score).toBe(l.test!.acc);
    const b = l.behaviour!;
    expect(b.ft_test_score).toBe(l.test_score);
    if (b.ft_test_score !== b.pre_test_score)
      expect(b.share_recovered).toBeCloseTo(
        (b.linearized_test_score - b.pre_test_score) / (b.ft_test_score - b.pre_test_score),
        12,
      );
    else expect(b.share_recovered).toBeNull();
    expect(b.kernel_distance_train_train).toBeGreaterThan(0);
    expect(b.kernel_distance_train_test).toBeGreaterThan(0);
    console.log(
      `tiny RoBERTa SST-2 16-42 (16 test): pre ${b.pre_test_score}, lin ${b.linearized_test_score}, ft ${b.ft_test_score}, kd ${b.kernel_distance_train_train} / ${b.kernel_distance_train_test}`,
    );

    // The same fine-tuning through the API directly.
    const spec = getTask('SST-2');
    const enc = taskEncoder(loadTokenizer(tokenizerDir), 'SST-2');
    const e = loadEncodedSplits(dataDir, spec, 16, 42, enc, 'prompt', { maxTest: 16 });
    const m = await loadModel(fixtureModelDir('roberta'), { dtype: 'float64' });
    const r = await finetune(m, {
      train: e.train,
      trainLabels: e.trainLabels,
      dev: e.dev,
      devLabels: e.devLabels,
      test: e.test,
      output: 'prompt',
      labelWordIds: enc.labelWordIds,
      optimizer: 'sgd',
      lr: 1e-2,
      batchSize: 8,
      steps: 4,
      evalEvery: 2,
      seed: 42,
      dropout: 0.1,
      linearize: true,
      kernelDistance: true,
    });
    const s = stats.seeds[0];
    expect(maxRelErr(s.linearizedTestLogits!.flat(), r.linearizedTestLogits!.flat())).toBeLessThanOrEqual(1e-12);
    expect(maxRelErr(s.testLogits!.flat(), r.testLogits!.flat())).toBeLessThanOrEqual(1e-12);
    expect(b.kernel_distance_train_train).toBeCloseTo(r.trainKernelRelativeDistance!, 12);
    const pre = await m.outputs({ inputs: e.test, labelWordIds: enc.labelWordIds });
    expect(maxRelErr(s.preTestLogits!.flat(), pre.flat())).toBeLessThanOrEqual(1e-12);
    // the three scores are the accuracies of those logits (argmax against the 16 test labels), by hand
    const accuracyOf = (logits: number[][]) =>
      e.testLabels.filter((y, i) => (logits[i][1] > logits[i][0] ? 1 : 0) === y).length / 16;
    expect(e.testLabels).toHaveLength(16);
    expect(b.pre_test_score).toBe(accuracyOf(pre));
    expect(b.linearized_test_score).toBe(accuracyOf(r.linearizedTestLogits!));
    expect(b.ft_test_score).toBe(accuracyOf(r.testLogits!));
    expect(b.kernel_distance_train_test).toBeCloseTo(r.trainTestKernelRelativeDistance!, 12);

    // the report puts the FT line in a column of its own; rerunning skips the seed
    const t = reportTable(lines);
    expect(t.columns.map((c) => c.label)).toEqual(['prompt/sgd/ft']);
    const again = await runFinetuneExperiment(ftBase(dir, { behaviour: true }));
    expect(again.skipped).toBe(1);
    expect(readLines(join(dir, 'results.jsonl'))).toHaveLength(1);
  });

  needsData.it('a grid selects on dev, and the behaviour re-run reproduces the selected run', async () => {
    const dir = tmp();
    const stats = await runFinetuneExperiment(ftBase(dir, { lrs: [1e-3, 5e-2], batchSizes: [4, 100], behaviour: true }));
    const l = stats.lines[0];
    expect(l.grid).toEqual({ lr: [1e-3, 5e-2], batch_size: [4, 32] }); // 100 >= 32 examples = full batch
    expect(l.grid_runs).toHaveLength(4);
    const bestDev = Math.max(...l.grid_runs.map((r) => r.dev_score!));
    const first = l.grid_runs.find((r) => r.dev_score === bestDev)!;
    expect(l.params).toMatchObject({ lr: first.lr, batch_size: first.batch_size });
    expect(l.behaviour!.rerun_dev_score).toBe(bestDev);
    expect(l.dev_score).toBe(bestDev);
  });

  needsData.it(
    'LoRA runs train LoRA + heads and are reported as <mode>/<optimizer>/ft/lora; standard mode fits the head first',
    async () => {
      const dir = tmp();
      await runFinetuneExperiment(ftBase(dir, { optimizer: 'adam', lrs: [1e-3], lora: { r: 4, alpha: 8 } }));
      await runFinetuneExperiment(ftBase(dir, { output: 'standard', linearProbe: { C: 1 }, behaviour: true }));
      const lines = readLines(join(dir, 'results.jsonl'));
      expect(lines.map((l) => [l.subset, l.lora])).toEqual([
        ['lora', { r: 4, alpha: 8 }],
        ['all', null],
      ]);
      expect(lines[1].linear_probe).not.toBeNull();
      expect(reportTable(lines).columns.map((c) => c.label)).toEqual(['prompt/adam/ft/lora', 'standard/sgd/ft']);
      expect(behaviourTable(lines).map((r) => r.method)).toEqual(['standard/sgd/ft']);
    },
  );

  it("defaults (paper A.3, Table 4, Table 7): 32·k·C steps, evaluation every 4·k·C, the optimizer's kernel analog", () => {
    expect(defaultSteps(16, 2)).toBe(1024);
    expect(defaultSteps(16, 3)).toBe(1536);
    expect(defaultSteps(64, 2)).toBe(4096);
    expect(defaultEvalEvery(16, 2)).toBe(128);
    expect(defaultEvalEvery(16, 5)).toBe(320);
    expect(OPTIMIZERS.map(defaultKernelDistanceFormula)).toEqual(['sgd', 'signgd', 'signgd']);
    expect(DEFAULT_FT_LRS.sgd).toEqual([1e-4, 5e-4, 1e-3, 5e-3, 1e-2]);
    expect(DEFAULT_FT_LRS.adam).toEqual([1e-5, 2e-5, 5e-5]);
  });

  needsData.it('resolves the defaults for a task; explicit options win; bad ones are named', () => {
    const o = { ...ftBase('/tmp'), steps: undefined, evalEvery: undefined, lrs: undefined };
    const r = resolveFtOptions({ ...o, optimizer: 'adam' });
    expect([r.steps, r.evalEvery, r.dropout, r.kernelDistanceFormula, r.lrs]).toEqual([
      1024,
      128,
      0.1,
      'signgd',
      [1e-5, 2e-5, 5e-5],
    ]);
    const x = resolveFtOptions({
      ...o,
      optimizer: 'adam',
      steps: 50,
      evalEvery: 5,
      dropout: 0,
      kernelDistanceFormula: 'asymmetric_signgd',
    });
    expect([x.steps, x.evalEvery, x.dropout, x.kernelDistanceFormula]).toEqual([50, 5, 0, 'asymmetric_signgd']);
    expect(resolveFtOptions({ ...o, steps: 64 }).evalEvery).toBe(64); // at most the steps
    expect(() => resolveFtOptions({ ...o, dropout: 1 })).toThrow(/dropout/);
    expect(() => resolveFtOptions({ ...o, kernelDistanceFormula: 'lstsq' as never })).toThrow(/kernelDistanceFormula/);
  });

  needsData.it("after Adam the kernel distance uses the SignGD eNTK by default, as the API's", async () => {
    const dir = tmp();
    await runFinetuneExperiment(ftBase(dir, { optimizer: 'adam', lrs: [1e-3], steps: 2, behaviour: true }));
    const b = readLines(join(dir, 'results.jsonl'))[0].behaviour!;
    expect(b.kernel_distance_formula).toBe('signgd');
    const enc = taskEncoder(loadTokenizer(tokenizerDir), 'SST-2');
    const e = loadEncodedSplits(dataDir, getTask('SST-2'), 16, 42, enc, 'prompt', { maxTest: 16 });
    const m = await loadModel(fixtureModelDir('roberta'), { dtype: 'float64' });
    const r = await finetune(m, {
      ...{ train: e.train, trainLabels: e.trainLabels, dev: e.dev, devLabels: e.devLabels, test: e.test },
      output: 'prompt',
      labelWordIds: enc.labelWordIds,
      optimizer: 'adam',
      lr: 1e-3,
      batchSize: 8,
      steps: 2,
      evalEvery: 2,
      seed: 42,
      dropout: 0.1,
      kernelDistance: true,
      kernelDistanceFormula: 'signgd',
    });
    expect(r.kernelDistanceFormula).toBe('signgd');
    expect(b.kernel_distance_train_train).toBe(r.trainKernelRelativeDistance);
    expect(b.kernel_distance_train_test).toBe(r.trainTestKernelRelativeDistance);
  });

  needsData.it('CLI: writes the line and skips it on a second run', async () => {
    const dir = tmp();
    const out = join(dir, 'r.jsonl');
    const args = [
      ...sst2Flags(),
      '--optimizer',
      'signgd',
      '--lr',
      '1e-4',
      '--batch-size',
      '8',
      '--steps',
      '2',
      '--max-test',
      '8',
      '--behaviour',
      '--out',
      out,
      '--quiet',
    ];
    expect(await ftRunCli(args)).toBe(0);
    expect(await ftRunCli(args)).toBe(0);
    const lines = readLines(out);
    expect(lines).toHaveLength(1);
    expect(lines[0].formula).toBe('signgd');
    expect(lines[0].behaviour).not.toBeNull();
    await expect(ftRunCli([...args.slice(0, -5), '--lr', '0', '--out', out])).rejects.toThrow(/--lr/);
  });
});

describe('finetune-run: bad inputs, divergence, abort', () => {
  needsData.it('a checkpoint of another model (BERT) with the RoBERTa tokenizer is a clear error', async () => {
    const err = await runFinetuneExperiment(ftBase(tmp(), { modelDir: fixtureModelDir('bert') })).then(
      () => undefined,
      (e) => e,
    );
    expect(err).toBeInstanceOf(LmkError);
    expect((err as Error).message).toMatch(/tokenizer .* has 50265 ids but the bert checkpoint's vocabulary has 30522/);
  });

  needsData.it('lr <= 0, no seeds, bad batch size are option errors', async () => {
    for (const [over, option] of [
      [{ lrs: [0] }, 'lrs[0]'],
      [{ lrs: [1e-3, -1] }, 'lrs[1]'],
      [{ seeds: [] }, 'seeds'],
      [{ batchSizes: [0] }, 'batchSizes[0]'],
      [{ steps: 0 }, 'steps'],
    ] as const) {
      const err = await runFinetuneExperiment(ftBase(tmp(), over as Partial<FinetuneRunOptions>)).then(
        () => undefined,
        (e) => e,
      );
      expect(err).toBeInstanceOf(OptionError);
      expect((err as OptionError).option).toBe(option);
    }
  });

  needsData.it('an empty dev set is an error naming the split', async () => {
    const d = tmp();
    mkdirSync(join(d, 'SST-2', '16-42'), { recursive: true });
    copyFileSync(join(dataDir, 'SST-2', '16-42', 'train.tsv'), join(d, 'SST-2', '16-42', 'train.tsv'));
    copyFileSync(join(dataDir, 'SST-2', 'test.tsv'), join(d, 'SST-2', 'test.tsv'));
    writeFileSync(join(d, 'SST-2', '16-42', 'dev.tsv'), 'sentence\tlabel\n');
    await expect(runFinetuneExperiment(ftBase(tmp(), { dataDir: d }))).rejects.toThrow(/the dev split is empty/);
  });

  needsData.it('a NaN loss fails with a clear error; the last good state is evaluated and written as "diverged"', async () => {
    const dir = tmp();
    const err = await runFinetuneExperiment(
      ftBase(dir, { lrs: [1e30], maxGradNorm: 0, dtype: 'float32', steps: 6, evalEvery: 3 }),
    ).then(
      () => undefined,
      (e) => e,
    );
    expect(err).toBeInstanceOf(LmkError);
    expect((err as Error).message).toMatch(/every fine-tuning run diverged .*step \d+.*status "diverged"/);
    const [l] = readLines(join(dir, 'results.jsonl'));
    expect(l.status).toBe('diverged');
    expect(l.test_score).toBeNull();
    expect(l.partial!.test!.acc).toBeGreaterThanOrEqual(0);
    expect(l.partial!.error).toMatch(/step/);
    // not a result for the report (no column), and not "finished": a rerun tries again
    expect(() => reportTable([l])).not.toThrow();
    expect(reportTable([l]).columns).toHaveLength(0);
  });

  needsData.it('an abort mid-training keeps the partial state in a line marked "aborted"; a rerun redoes the seed', async () => {
    const dir = tmp();
    const ac = new AbortController();
    const stats = await runFinetuneExperiment(
      ftBase(dir, {
        seeds: [42, 13],
        steps: 40,
        evalEvery: 10,
        signal: ac.signal,
        behaviour: true,
        onProgress: () => (phase, done) => {
          if (phase === 'train' && done >= 3) ac.abort();
        },
      }),
    );
    expect(stats.aborted).toBe(true);
    expect(stats.seeds).toHaveLength(1);
    const lines = readLines(join(dir, 'results.jsonl'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status: 'aborted', seed: 42, dev_score: null, test_score: null, behaviour: null });
    expect(lines[0].partial!.step).toBeGreaterThanOrEqual(3);
    expect(lines[0].partial!.step).toBeLessThan(40);
    expect(lines[0].partial!.test!.acc).toBeGreaterThanOrEqual(0);
    const again = await runFinetuneExperiment(ftBase(dir, { seeds: [42], steps: 40, evalEvery: 10, behaviour: true }));
    expect(again.seeds[0].status).toBe('done');
    expect(again.seeds[0].line.config_id).toBe(lines[0].config_id);
  });
});
