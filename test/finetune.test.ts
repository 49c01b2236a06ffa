// Fine-tuning, linearization and the kernel distance through the TypeScript API and the CLI against
// fixtures-a.json (`roberta.cases[0].fine_tuning`: one full-batch step on the prompt model, float64),
// plus training behaviour (multi-step, dev selection, LoRA, standard head) and bad inputs.
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, type LmModel } from '../lib/model.js';
import { finetune, finetuneGrid, TrainingDivergedError, type FinetuneOptions, type Optimizer } from '../lib/finetune.js';
import { OptionError } from '../lib/errors.js';
import { run } from '../lib/cli/finetune.js';
import { fixtures, fixtureModelDir, maxRelErr, flat } from './helpers/fixtures.js';

const A = fixtures().roberta;
const P = A.inputs.prompt;
const FT = A.cases[0].fine_tuning;
const CASES: Array<{ key: string; optimizer: Optimizer; lr: number }> = [
  { key: 'sgd_lr1e-2', optimizer: 'sgd', lr: 1e-2 },
  { key: 'adam_lr1e-3', optimizer: 'adam', lr: 1e-3 },
  { key: 'signgd_lr1e-3', optimizer: 'signgd', lr: 1e-3 },
];
const base = (): Omit<FinetuneOptions, 'optimizer' | 'lr' | 'steps'> => ({
  train: P.train,
  trainLabels: P.train_labels,
  test: P.test,
  output: 'prompt',
  labelWordIds: A.label_word_ids,
});

let f64: Promise<LmModel> | undefined;
const model64 = () => (f64 ??= loadModel(fixtureModelDir('roberta'), { dtype: 'float64' }));

function trainLoss(logits: number[][], labels: number[]): number {
  let s = 0;
  logits.forEach((row, i) => {
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    s += lse - row[labels[i]];
  });
  return s / labels.length;
}

describe('one step against the fixtures (float64)', () => {
  for (const c of CASES) {
    it(`${c.key} through the API`, async () => {
      const want = FT[c.key];
      const kd = want.train_sgd_kernel_relative_distance !== undefined;
      const res = await finetune(await model64(), {
        ...base(),
        optimizer: c.optimizer,
        lr: c.lr,
        steps: 1,
        linearize: true,
        kernelDistance: kd,
      });
      expect(res.steps).toBe(1);
      expect(res.bestStep).toBe(1);
      expect(res.aborted).toBeUndefined();
      expect(Math.abs(res.trainLoss[0] - FT.loss) / FT.loss).toBeLessThan(1e-12);
      expect(Math.abs(res.gradNorm - FT.grad_norm) / FT.grad_norm).toBeLessThan(1e-10);
      expect(Math.abs(res.clipCoef - FT.clip_coef) / FT.clip_coef).toBeLessThan(1e-10);
      const e1 = maxRelErr(flat(res.testLogits), flat(want.test_logits));
      const e2 = maxRelErr(flat(res.linearizedTestLogits), flat(want.linearized_test_logits));
      expect(e1, 'test_logits').toBeLessThanOrEqual(1e-9);
      expect(e2, 'linearized_test_logits').toBeLessThanOrEqual(1e-9);
      let e3 = NaN;
      if (kd) {
        e3 =
          Math.abs(res.trainKernelRelativeDistance! - want.train_sgd_kernel_relative_distance) /
          want.train_sgd_kernel_relative_distance;
        expect(e3, 'kernel distance').toBeLessThanOrEqual(1e-9);
        // train x test has no fixture value: ‖K(θ1) − K(θ0)‖_F / ‖K(θ0)‖_F from the two models' own
        // (fixture-checked) SGD kernels, by hand
        const kernelOf = async (m: LmModel) =>
          (await m.kernels({ train: P.train, test: P.test, labelWordIds: A.label_word_ids, formulas: ['sgd'] })).kernels.sgd!
            .trainTest.data;
        const [k0, k1] = [await kernelOf(await model64()), await kernelOf(res.model)];
        let num = 0;
        let den = 0;
        k0.forEach((v, i) => {
          num += (k1[i] - v) ** 2;
          den += v * v;
        });
        const d = Math.sqrt(num / den);
        expect(Math.abs(res.trainTestKernelRelativeDistance! - d) / d, 'train x test kernel distance').toBeLessThanOrEqual(1e-9);
      }
      console.log(
        `${c.key}: max rel err test_logits ${e1.toExponential(2)}, linearized ${e2.toExponential(2)}${kd ? `, kernel distance ${e3.toExponential(2)}` : ''}`,
      );
      // the trained model is a new handle; the original is unchanged
      const after = await res.model.outputs({ inputs: P.test, labelWordIds: A.label_word_ids });
      expect(maxRelErr(flat(after), flat(want.test_logits))).toBeLessThanOrEqual(1e-9);
      const orig = await (await model64()).outputs({ inputs: P.test, labelWordIds: A.label_word_ids });
      expect(maxRelErr(flat(orig), flat(A.cases[0].f0_test))).toBeLessThanOrEqual(1e-12);
    });
  }

  it('through the CLI (IN.json from the fixture), every optimizer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmk-ft-cli-'));
    const inPath = join(dir, 'in.json');
    writeFileSync(
      inPath,
      JSON.stringify({
        train: P.train,
        test: P.test,
        label_word_ids: A.label_word_ids,
        train_labels: P.train_labels,
        test_labels: P.test_labels,
      }),
    );
    for (const c of CASES) {
      const want = FT[c.key];
      const outPath = join(dir, `${c.key}.json`);
      const argv = [
        '--model',
        fixtureModelDir('roberta'),
        '--input',
        inPath,
        '--out',
        outPath,
        '--optimizer',
        c.optimizer,
        '--lr',
        String(c.lr),
        '--steps',
        '1',
        '--max-grad-norm',
        '1.0',
        '--linearize',
        '--dtype',
        'float64',
      ];
      if (want.train_sgd_kernel_relative_distance !== undefined) argv.push('--kernel-distance');
      expect(await run(argv)).toBe(0);
      const out = JSON.parse(readFileSync(outPath, 'utf8'));
      expect(maxRelErr(flat(out.test_logits), flat(want.test_logits))).toBeLessThanOrEqual(1e-9);
      expect(maxRelErr(flat(out.linearized_test_logits), flat(want.linearized_test_logits))).toBeLessThanOrEqual(1e-9);
      if (want.train_sgd_kernel_relative_distance !== undefined)
        expect(
          Math.abs(out.train_sgd_kernel_relative_distance / want.train_sgd_kernel_relative_distance - 1),
        ).toBeLessThanOrEqual(1e-9);
      else expect(out.train_sgd_kernel_relative_distance).toBeUndefined();
      expect(out.test_accuracy).toBeGreaterThanOrEqual(0);
      expect(out.steps).toBe(1);
    }
    // --kernel-distance-formula signgd (Table 7: Adam's analog): the same distance as the API's, under the
    // formula-neutral key; the SGD-named key is absent
    const outPath = join(dir, 'signgd.json');
    const argv = ['--model', fixtureModelDir('roberta'), '--input', inPath, '--out', outPath, '--optimizer', 'adam'];
    argv.push('--lr', '1e-3', '--steps', '1', '--dtype', 'float64', '--kernel-distance', '--kernel-distance-formula', 'signgd');
    expect(await run(argv)).toBe(0);
    const out = JSON.parse(readFileSync(outPath, 'utf8'));
    expect(out.kernel_distance_formula).toBe('signgd');
    expect(out.train_sgd_kernel_relative_distance).toBeUndefined();
    const r = await finetune(await model64(), {
      ...base(),
      optimizer: 'adam',
      lr: 1e-3,
      steps: 1,
      kernelDistance: true,
      kernelDistanceFormula: 'signgd',
    });
    expect(out.train_kernel_relative_distance).toBe(r.trainKernelRelativeDistance);
    await expect(run([...argv.slice(0, -1), 'ntk'])).rejects.toThrow(/kernel-distance-formula/);
  });

  it('float32 stays close to the float64 fixture', async () => {
    const m32 = await loadModel(fixtureModelDir('roberta'), { dtype: 'float32' });
    const res = await finetune(m32, { ...base(), optimizer: 'sgd', lr: 1e-2, steps: 1, linearize: true });
    expect(maxRelErr(flat(res.testLogits), flat(FT['sgd_lr1e-2'].test_logits))).toBeLessThan(1e-4);
    expect(maxRelErr(flat(res.linearizedTestLogits), flat(FT['sgd_lr1e-2'].linearized_test_logits))).toBeLessThan(1e-4);
  });
});

describe('training behaviour', () => {
  it('several steps (random batches, linear decay) reduce the training loss', async () => {
    const m = await model64();
    const before = trainLoss(await m.outputs({ inputs: P.train, labelWordIds: A.label_word_ids }), P.train_labels);
    const res = await finetune(m, { ...base(), optimizer: 'adam', lr: 1e-3, steps: 12, batchSize: 4, seed: 1 });
    expect(res.steps).toBe(12);
    expect(res.trainLoss).toHaveLength(12);
    const after = trainLoss(await res.model.outputs({ inputs: P.train, labelWordIds: A.label_word_ids }), P.train_labels);
    expect(after).toBeLessThan(before * 0.5);
    // same seed, same run
    const again = await finetune(m, { ...base(), optimizer: 'adam', lr: 1e-3, steps: 12, batchSize: 4, seed: 1 });
    expect(again.trainLoss).toEqual(res.trainLoss);
    const other = await finetune(m, { ...base(), optimizer: 'adam', lr: 1e-3, steps: 12, batchSize: 4, seed: 2 });
    expect(other.trainLoss).not.toEqual(res.trainLoss);
  });

  it('evaluates on dev every evalEvery steps and returns the best state', async () => {
    const m = await model64();
    const res = await finetune(m, {
      ...base(),
      optimizer: 'sgd',
      lr: 5e-2,
      steps: 5,
      evalEvery: 2,
      dev: P.test,
      devLabels: P.test_labels,
      metric: 'loss',
    });
    expect(res.devHistory.map((p) => p.step)).toEqual([2, 4, 5]);
    const best = res.devHistory.reduce((a, b) => (b.metric < a.metric ? b : a));
    expect(res.bestStep).toBe(best.step);
    const dev = await res.model.outputs({ inputs: P.test, labelWordIds: A.label_word_ids });
    expect(Math.abs(trainLoss(dev, P.test_labels) - best.loss)).toBeLessThan(1e-12);
    expect(best.metric).toBe(best.loss);
  });

  it('LoRA: trains the LoRA matrices and the heads only', async () => {
    const lora = A.cases.find((c: { subset: string }) => c.subset === 'lora').lora;
    const m = await loadModel(fixtureModelDir('roberta'), { dtype: 'float64' });
    m.applyLora({ r: lora.r, alpha: lora.alpha, targets: lora.targets, A: lora.A });
    const res = await finetune(m, { ...base(), optimizer: 'adam', lr: 1e-3, steps: 4, trainable: 'lora', linearize: true });
    expect(res.trainedParams.length).toBeGreaterThan(0);
    for (const n of res.trainedParams) expect(n.includes('lora_') || !n.startsWith('roberta.')).toBe(true);
    expect(res.trainedParams.filter((n) => n.includes('lora_'))).toHaveLength(8);
    expect(res.trainLoss[3]).toBeLessThan(res.trainLoss[0]);
    expect(res.linearizedTestLogits).toHaveLength(8);
  });

  it('tied decoder: the word embeddings are one parameter; linearization agrees to first order', async () => {
    const m = await loadModel(fixtureModelDir('roberta'), { dtype: 'float64', tieWordEmbeddings: true });
    const res = await finetune(m, { ...base(), optimizer: 'sgd', lr: 1e-5, steps: 1, linearize: true });
    expect(res.trainedParams).not.toContain('lm_head.decoder.weight');
    expect(res.trainedParams).toContain('roberta.embeddings.word_embeddings.weight');
    expect(res.model.info.tied).toBe(true);
    const f0 = await m.outputs({ inputs: P.test, labelWordIds: A.label_word_ids });
    const step = maxRelErr(flat(res.testLogits), flat(f0));
    expect(step).toBeGreaterThan(1e-9);
    // f(θ1) − f_lin(θ1) = O(|Δθ|²): far below the step itself
    expect(maxRelErr(flat(res.linearizedTestLogits), flat(res.testLogits))).toBeLessThan(step * 1e-3);
  });

  it('CLI --lora trains LoRA + heads', async () => {
    const lora = A.cases.find((c: { subset: string }) => c.subset === 'lora').lora;
    const dir = mkdtempSync(join(tmpdir(), 'lmk-ft-lora-'));
    writeFileSync(join(dir, 'lora.json'), JSON.stringify(lora));
    writeFileSync(
      join(dir, 'in.json'),
      JSON.stringify({ train: P.train, test: P.test, label_word_ids: A.label_word_ids, train_labels: P.train_labels }),
    );
    const code = await run([
      '--model',
      fixtureModelDir('roberta'),
      '--input',
      join(dir, 'in.json'),
      '--out',
      join(dir, 'out.json'),
      '--optimizer',
      'adam',
      '--lr',
      '1e-3',
      '--steps',
      '3',
      '--batch-size',
      '4',
      '--lora',
      join(dir, 'lora.json'),
      '--linearize',
    ]);
    expect(code).toBe(0);
    const out = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
    expect(out.config.trainable).toBe('lora');
    expect(out.train_loss).toHaveLength(3);
    expect(out.linearized_test_logits).toHaveLength(P.test.length);
  });

  it('standard setting: the classifier head on <s>', async () => {
    const S = A.inputs.standard;
    const m = await model64();
    const res = await finetune(m, {
      train: S.train,
      trainLabels: S.train_labels,
      test: S.test,
      output: 'standard',
      optimizer: 'sgd',
      lr: 0.1,
      steps: 5,
      linearize: true,
    });
    expect(res.trainLoss[4]).toBeLessThan(res.trainLoss[0]);
    expect(res.testLogits).toHaveLength(S.test.length);
    // at step 0 the linearized model is the model: small steps keep them close
    const small = await finetune(m, {
      train: S.train,
      trainLabels: S.train_labels,
      test: S.test,
      output: 'standard',
      optimizer: 'sgd',
      lr: 1e-6,
      steps: 1,
      linearize: true,
    });
    expect(maxRelErr(flat(small.linearizedTestLogits), flat(small.testLogits))).toBeLessThan(1e-10);
  });

  it('finetuneGrid selects the learning rate on dev', async () => {
    const m = await model64();
    const g = await finetuneGrid(m, {
      ...base(),
      optimizer: 'sgd',
      lrs: [1e-6, 5e-2],
      steps: 3,
      dev: P.test,
      devLabels: P.test_labels,
      metric: 'loss',
      evalEvery: 1,
    });
    expect(g.runs).toHaveLength(2);
    expect(g.best.lr).toBe(5e-2);
    expect(g.best.result.devHistory).toHaveLength(3);
  });
});

describe('bad inputs, divergence, abort', () => {
  const bad: Array<[string, Partial<FinetuneOptions>, string]> = [
    ['lr 0', { lr: 0 }, 'lr'],
    ['lr < 0', { lr: -1e-3 }, 'lr'],
    ['lr NaN', { lr: NaN }, 'lr'],
    ['steps 0', { steps: 0 }, 'steps'],
    ['steps 1.5', { steps: 1.5 }, 'steps'],
    ['empty train', { train: [], trainLabels: [] }, 'train'],
    ['labels length', { trainLabels: [0, 1] }, 'trainLabels'],
    ['label out of range', { trainLabels: [0, 0, 0, 0, 1, 1, 1, 2] }, 'trainLabels[7]'],
    ['negative label', { trainLabels: [0, 0, 0, -1, 1, 1, 1, 1] }, 'trainLabels[3]'],
    ['evalEvery without dev', { evalEvery: 2 }, 'dev'],
    ['evalEvery with an empty dev', { evalEvery: 2, dev: [], devLabels: [] }, 'dev'],
    ['dev labels missing', { dev: P.test }, 'devLabels'],
    ['unknown optimizer', { optimizer: 'rmsprop' as Optimizer }, 'optimizer'],
    ['batch size 0', { batchSize: 0 }, 'batchSize'],
    ['linearize without test', { test: [], linearize: true }, 'test'],
    ['unknown trainable', { trainable: ['nope.weight'] }, 'trainable'],
    ['lora without LoRA', { trainable: 'lora' }, 'trainable'],
    ['f1 on 3 labels', { labelWordIds: [1, 2, 3], trainLabels: P.train_labels, metric: 'f1' }, 'metric'],
    ['dropout 1', { dropout: 1 }, 'dropout'],
    ['dropout < 0', { dropout: -0.1 }, 'dropout'],
    ['unknown kernel distance formula', { kernelDistanceFormula: 'ntk' as never }, 'kernelDistanceFormula'],
  ];
  for (const [name, patch, option] of bad) {
    it(`rejects ${name}`, async () => {
      const m = await model64();
      const opts = { ...base(), optimizer: 'sgd' as Optimizer, lr: 1e-3, steps: 1, ...patch };
      const err = await finetune(m, opts).then(
        () => undefined,
        (e) => e,
      );
      expect(err).toBeInstanceOf(OptionError);
      expect((err as OptionError).option).toBe(option);
    });
  }

  it('a non-finite loss stops with an error naming the step and keeps the last good state', async () => {
    const m = await loadModel(fixtureModelDir('roberta'), { dtype: 'float32' });
    const err = await finetune(m, { ...base(), optimizer: 'sgd', lr: 1e30, steps: 5, maxGradNorm: null }).then(
      () => undefined,
      (e) => e,
    );
    expect(err).toBeInstanceOf(TrainingDivergedError);
    const e = err as TrainingDivergedError;
    expect(e.message).toMatch(/step \d+/);
    expect(e.step).toBeGreaterThanOrEqual(2);
    const out = await e.result.model.outputs({ inputs: P.train, labelWordIds: A.label_word_ids });
    expect(flat(out).every(Number.isFinite)).toBe(true);
    expect(e.result.trainLoss.every(Number.isFinite)).toBe(true);
  });

  it('abort mid-training returns the partial state marked aborted', async () => {
    const m = await model64();
    const ac = new AbortController();
    const res = await finetune(m, {
      ...base(),
      optimizer: 'sgd',
      lr: 1e-3,
      steps: 200,
      linearize: true,
      signal: ac.signal,
      onProgress: (phase, done) => {
        if (phase === 'train' && done >= 2) ac.abort();
      },
    });
    expect(res.aborted).toBe(true);
    expect(res.steps).toBeGreaterThanOrEqual(2);
    expect(res.steps).toBeLessThan(200);
    expect(res.linearizedTestLogits).toBeUndefined();
    expect(res.bestStep).toBe(res.steps);
  });

  it('CLI: missing flags and bad input files are errors; nothing is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmk-ft-bad-'));
    const inPath = join(dir, 'in.json');
    const outPath = join(dir, 'out.json');
    writeFileSync(inPath, JSON.stringify({ train: P.train, label_word_ids: A.label_word_ids }));
    const common = ['--model', fixtureModelDir('roberta'), '--input', inPath, '--out', outPath];
    await expect(run([...common, '--optimizer', 'sgd', '--lr', '0.01'])).rejects.toThrow(/--steps/);
    await expect(run([...common, '--optimizer', 'sgd', '--lr', '0.01', '--steps', '1'])).rejects.toThrow(/train_labels/);
    writeFileSync(inPath, JSON.stringify({ train: P.train, label_word_ids: A.label_word_ids, train_labels: P.train_labels }));
    await expect(run([...common, '--optimizer', 'sgd', '--lr', '-1', '--steps', '1'])).rejects.toThrow(/'lr'/);
    await expect(run([...common, '--optimizer', 'momentum', '--lr', '1', '--steps', '1'])).rejects.toThrow(/optimizer/);
    await expect(run([...common, '--optimizer', 'sgd', '--lr', '1e-3', '--steps', '1', '--linearize'])).rejects.toThrow(/test/);
    expect(existsSync(outPath)).toBe(false);
  });
});
