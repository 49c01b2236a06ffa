// lib/index.ts, the public entry the README imports (`from 'lmkernel'`): the documented exports are there
// and work through it: the README's encode-and-kernels example against the fixtures, a solver on a
// problem solved by hand, the error classes, the metrics and the k-shot reader.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as lmk from '../lib/index.js';
import { fixtureModelDir, fixtures, flat, kshotDataDir, maxRelErr, needsData, tokenizerDirs } from './helpers/fixtures.js';

describe('lmkernel public entry (lib/index.ts)', () => {
  it('exports the documented functions and classes', () => {
    const functions = [
      'loadModel',
      'loadTokenizer',
      'taskEncoder',
      'parseTemplate',
      'encodePrompt',
      'encodeStandard',
      'readSplit',
      'readTaskFile',
      'generateKShot',
      'solve',
      'selectOnDev',
      'gridOf',
      'accuracy',
      'finetune',
      'finetuneGrid',
      'runKernelExperiment',
      'reportTable',
      'mergeKernelShards',
    ];
    for (const f of functions) expect(typeof (lmk as Record<string, unknown>)[f], f).toBe('function');
    for (const c of ['LmkError', 'OptionError', 'InputError', 'NativeError', 'ResourceError', 'TrainingDivergedError'])
      expect((lmk as Record<string, unknown>)[c], c).toBeTypeOf('function');
    expect(lmk.SOLVERS).toEqual(['lstsq', 'logistic', 'logistic-rows', 'svr', 'svc', 'asym']);
  });

  it("the README's example: taskEncoder encodes as the reference routine, kernels match the fixture", async () => {
    // the encoder on a fixture tokenization case (SST-2, RoBERTa)
    const cs = fixtures().tokenization.find(
      (c: { tokenizer: string; task: string }) => c.tokenizer === 'roberta' && c.task === 'SST-2',
    );
    const tok = lmk.loadTokenizer(tokenizerDirs.roberta);
    const enc = lmk.taskEncoder(tok, 'SST-2', {});
    const e = enc.encode(cs.texts);
    expect([e.inputIds, e.maskPos]).toEqual([cs.prompt.input_ids, cs.prompt.mask_pos]);
    expect(enc.labelWordIds).toEqual(cs.label_word_ids);
    // kernels of the fixture's RoBERTa prompt case through the public loadModel
    const A = fixtures().roberta;
    const model = await lmk.loadModel(fixtureModelDir('roberta'), { dtype: 'float64' });
    const res = await model.kernels({
      train: A.inputs.prompt.train,
      test: A.inputs.prompt.test,
      labelWordIds: A.label_word_ids,
      formulas: ['sgd', 'signgd'],
    });
    expect(res.gradDim).toBe(A.cases[0].grad_dim);
    expect(maxRelErr(res.kernels.sgd!.trainTest.data, flat(A.cases[0].kernels.sgd.train_test))).toBeLessThan(1e-9);
    expect(maxRelErr(res.kernels.signgd!.trainTrain.data, flat(A.cases[0].kernels.signgd.train_train))).toBe(0);
  });

  it('solve: binary least squares on a 2-example problem solved by hand', async () => {
    // K = diag(2, 1), labels [1, 0] -> targets [+1, -1], alpha = K^-1 y = [0.5, -1];
    // a test example with k(train, test) = [3, 4] scores 3 * 0.5 + 4 * (-1) = -2.5: label 0
    const r = await lmk.solve({
      kernelTrainTrain: { shape: [2, 1, 2, 1], data: Float64Array.from([2, 0, 0, 1]) },
      kernelTrainTest: { shape: [2, 1, 1, 1], data: Float64Array.from([3, 4]) },
      trainLabels: [1, 0],
      testLabels: [0],
      numClasses: 2,
      binary: true,
      solver: 'lstsq',
      params: { kernelRegularization: 0, f0Scaling: 0 },
    });
    expect(r.predictions).toHaveLength(1);
    expect(r.predictions[0]).toBeCloseTo(-2.5, 12);
    expect(r.predictedLabels).toEqual([0]);
    expect(r.metrics!.accuracy).toBe(1);
  });

  it('errors name the option and the values; metrics by hand', () => {
    const e = new lmk.OptionError('batchSize', 'a positive integer', 0);
    expect(e).toBeInstanceOf(lmk.LmkError);
    expect([e.name, e.code, e.message]).toEqual([
      'OptionError',
      'LMK_BAD_OPTION',
      "option 'batchSize': expected a positive integer, received 0",
    ]);
    expect(new lmk.InputError('f.csv:3', 'bad row').message).toBe('f.csv:3: bad row');
    expect(lmk.accuracy([0, 1, 1, 0], [0, 1, 0, 0])).toBe(3 / 4);
    expect(() => lmk.accuracy([0], [0, 1])).toThrow(lmk.LmkError);
  });

  needsData.it('readSplit reads the 16-shot SST-2 split: 16 examples per label in train and dev', () => {
    const dir = join(kshotDataDir, 'SST-2', '16-42');
    for (const split of ['train', 'dev'] as const) {
      const xs = lmk.readSplit(dir, 'SST-2', split);
      expect(xs.filter((x) => x.label === '0')).toHaveLength(16);
      expect(xs.filter((x) => x.label === '1')).toHaveLength(16);
    }
  });
});
