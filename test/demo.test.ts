// A reduced `lmkernel demo` end to end on the shipped model (models/demo): data and k-shot splits,
// zero-shot, the three kernels with dev-selected solvers, SGD and Adam fine-tuning with linearization
// and kernel distance, the table, results files and figure; then the CLI path.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultDemoModel, runDemo } from '../lib/demo/run.js';
import { loadModel } from '../lib/model.js';
import { loadTokenizer, taskEncoder } from '../lib/prompts/index.js';
import { readSplit } from '../lib/tasks/index.js';
import { run } from '../lib/cli/demo.js';
import { kshotDataDir as dataDir, needsData } from './helpers/fixtures.js';

describe('demo (reduced)', () => {
  it('runs every step and writes the table, results and figure', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lmk-demo-'));
    const logs: string[] = [];
    const s = await runDemo({
      out,
      k: 4,
      seeds: [13],
      maxTest: 12,
      ftSteps: 3,
      sgdLrs: [1e-2],
      adamLrs: [1e-3],
      log: (m) => logs.push(m),
    });
    expect(s.rows.map((r) => r.method.trim())).toEqual([
      'zero-shot prompt',
      'SGD eNTK (logistic)',
      'SignGD eNTK (logistic)',
      'A-SignGD eNTK (asym)',
      'SGD fine-tuning',
      'linearized (SGD-FT)',
      'Adam fine-tuning',
      'linearized (Adam-FT)',
    ]);
    for (const r of s.rows) expect(r.acc).toHaveLength(1);
    // zero-shot, recomputed here from the split file: argmax of the label-word logits at <mask>
    const test = readSplit(join(out, 'data', 'k-shot-1k-test', 'brown-genre', '4-13'), 'brown-genre', 'test').slice(0, 12);
    const enc = taskEncoder(loadTokenizer(defaultDemoModel()), 'brown-genre');
    const inputs = test.map((x, i) => {
      const e = enc.encode(x.texts, i);
      return { input_ids: e.inputIds, mask_pos: e.maskPos };
    });
    const logits = await (await loadModel(defaultDemoModel())).outputs({ inputs, labelWordIds: enc.labelWordIds });
    const zeroShot = logits.filter((row, i) => row.indexOf(Math.max(...row)) === test[i].labelIndex).length / test.length;
    expect(s.rows[0].acc).toEqual([zeroShot]);
    // every other row is the number its results line records
    const byFormula = Object.fromEntries(
      readFileSync(s.files.results, 'utf8')
        .trim()
        .split('\n')
        .map((l) => [JSON.parse(l).formula, JSON.parse(l)]),
    );
    expect(s.rows.slice(1, 4).map((r) => r.acc[0])).toEqual(
      ['sgd', 'signgd', 'asymmetric_signgd'].map((f) => byFormula[f].test.acc),
    );
    const ftLines = readFileSync(s.files.finetune!, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(s.rows.slice(4).map((r) => r.acc[0])).toEqual(
      ftLines.flatMap((l) => [l.behaviour.ft_test.acc, l.behaviour.linearized_test.acc]),
    );
    expect([s.kernelDistance.sgd![0], s.kernelDistance.adam![0]]).toEqual(
      ftLines.map((l) => l.behaviour.kernel_distance_train_test),
    );
    // the pre-trained model of the behaviour measurements is the zero-shot model
    expect(ftLines.map((l) => l.behaviour.pre_test.acc)).toEqual([zeroShot, zeroShot]);
    expect(s.kernelDistance.adam![0]).toBeGreaterThan(0);
    // the distances use the optimizer's kernel analog (Table 7); the selected lr and best step are the lines'
    expect(s.kernelDistanceFormula).toEqual({ sgd: 'sgd', adam: 'signgd' });
    expect(ftLines.map((l) => l.behaviour.kernel_distance_formula)).toEqual(['sgd', 'signgd']);
    expect([s.selected!.sgd![0], s.selected!.adam![0]]).toEqual(
      ftLines.map((l) => ({ lr: l.params.lr, bestStep: l.params.best_step })),
    );
    // per-example correctness (for the width study's bootstrap) averages to each row's accuracy
    for (const r of s.rows.filter((x) => x.correct))
      r.correct!.forEach((c, i) => expect(c.reduce((a, v) => a + v, 0) / c.length).toBeCloseTo(r.acc[i], 12));
    expect(s.rows.filter((x) => x.correct).map((x) => x.method.trim())).toEqual([
      'zero-shot prompt',
      'SGD fine-tuning',
      'linearized (SGD-FT)',
      'Adam fine-tuning',
      'linearized (Adam-FT)',
    ]);
    // Figure 1 draws zero-shot and fine-tuning beside the kernels (its data, in the written vega-lite spec)
    const fig1 = JSON.parse(readFileSync(join(out, 'figures', 'figure1-kernel-vs-ft.vl.json'), 'utf8'));
    expect(new Set(fig1.data.values.map((v: { kind: string }) => v.kind))).toEqual(
      new Set(['zero-shot', 'kernel', 'fine-tuning']),
    );
    expect(existsSync(join(out, 'data', 'original', 'brown-genre', 'train.csv'))).toBe(true);
    expect(existsSync(join(out, 'data', 'k-shot-1k-test', 'brown-genre', '4-13', 'dev.csv'))).toBe(true);
    const results = readFileSync(s.files.results, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(results.map((l) => l.formula)).toEqual(['sgd', 'signgd', 'asymmetric_signgd']);
    expect(results.every((l) => l.n_test === 12 && l.task === 'brown-genre')).toBe(true);
    const ft = readFileSync(s.files.finetune, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(ft.map((l) => l.formula)).toEqual(['sgd', 'adam']);
    expect(readFileSync(s.files.table, 'utf8')).toMatch(/\| A-SignGD eNTK \(asym\) \|/);
    expect(readFileSync(s.files.figure, 'utf8')).toMatch(/^<svg/);
    expect(logs.some((l) => l.startsWith('k-shot splits'))).toBe(true);
  });

  needsData.it(
    "runs another task from the paper's k-shot splits with substitute label words and chosen kernels (the width study's use)",
    async () => {
      const out = mkdtempSync(join(tmpdir(), 'lmk-demo-sst5-'));
      // the shipped tokenizer has no single token for SST-5's "okay"
      await expect(
        runDemo({ out, task: 'sst-5', dataDir, k: 16, seeds: [13], maxTest: 5, kernels: false, finetuning: false }),
      ).rejects.toThrow(/label word "okay": must be a single token/);
      const s = await runDemo({
        out,
        task: 'SST-2',
        dataDir,
        k: 16,
        seeds: [13],
        maxTest: 10,
        ftSteps: 2,
        sgdLrs: [1e-2],
        adamLrs: [1e-3],
        labelWords: ['bad', 'good'],
        formulas: ['signgd'],
      });
      expect(s.task).toBe('SST-2');
      expect(readFileSync(s.files.table, 'utf8')).toContain('## SST-2, k = 16');
      expect(s.rows.map((r) => r.method.trim())).toEqual([
        'zero-shot prompt',
        'SignGD eNTK (logistic)',
        'SGD fine-tuning',
        'linearized (SGD-FT)',
        'Adam fine-tuning',
        'linearized (Adam-FT)',
      ]);
      const results = readFileSync(s.files.results, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(results.map((l) => [l.task, l.formula, l.n_test, l.label_word_ids.length])).toEqual([['SST-2', 'signgd', 10, 2]]);
      expect(existsSync(join(out, 'data'))).toBe(false); // the given splits are read, nothing is generated
      await expect(runDemo({ out, task: 'SST-2', seeds: [13] })).rejects.toThrow(/task 'SST-2' needs dataDir/);
    },
    300_000,
  );

  it('runs from the CLI (kernels only) and prints the table', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lmk-demo-cli-'));
    const printed: string[] = [];
    const orig = console.log;
    console.log = (m: string) => printed.push(String(m));
    try {
      expect(await run(['--out', out, '--k', '2', '--seeds', '21', '--max-test', '6', '--no-finetune'])).toBe(0);
    } finally {
      console.log = orig;
    }
    expect(printed.join('\n')).toMatch(/SGD eNTK \(logistic\)/);
  });
});
