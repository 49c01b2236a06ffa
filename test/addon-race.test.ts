// Model handles under concurrent calls (native/addon): every job that reads a model (outputs, features,
// kernels, finetune) holds it from the call until its work has returned, so setClassifier / applyLora,
// which replace the model's tensors, are refused while it runs; the job's result is the one an
// undisturbed run gives; a job that fails to start gives the model back. Each job is queued
// synchronously by the call, so the interfering calls below always land while it is pending.
import { describe, expect, it } from 'vitest';
import { finetune } from '../lib/finetune.js';
import { loadModel, type LmModel } from '../lib/model.js';
import { native } from '../lib/addon/load.js';
import type { AddonCancelToken } from '../lib/addon/types.js';
import type { Formula } from '../lib/types.js';
import { fixtures, fixtureModelDir } from './helpers/fixtures.js';

const A = fixtures().roberta;
const P = A.inputs.prompt;
const H: number = A.config.hidden_size;
const labelWordIds: number[] = A.label_word_ids;
const IN_USE = /the model is in use by a running job/;

// a two-label classifier head and a LoRA spec: the two changes a running job must not see
const head = (): [number[][], number[]] => [
  [new Array(H).fill(0.01), new Array(H).fill(-0.01)],
  [0.5, -0.5],
];
const lora = { r: 2, alpha: 4, seed: 1 };
// not a CancelToken: Job::Start rejects it after the job's options were read
const notAToken = { cancel() {}, cancelled: () => false } as AddonCancelToken;

const model = (): Promise<LmModel> => loadModel(fixtureModelDir('roberta'), { dtype: 'float64' });

/** Both model changes are refused with the clear error while a job runs. */
function expectRefused(m: LmModel): void {
  expect(() => m.setClassifier(...head())).toThrow(IN_USE);
  expect(() => m.applyLora(lora)).toThrow(IN_USE);
}

/** Once no job runs, the model can be changed again (the hold was given back). */
function expectFree(m: LmModel): void {
  m.setClassifier(...head());
  expect(m.info.numLabels).toBe(2);
  m.applyLora(lora);
  expect(m.info.hasLora).toBe(true);
}

describe('a running job holds its model: setClassifier / applyLora are refused', () => {
  it('outputs()', async () => {
    const m = await model();
    const opts = { inputs: P.test, labelWordIds };
    const want = await m.outputs(opts);
    const running = m.outputs(opts);
    expectRefused(m);
    expect(await running).toEqual(want);
    expectFree(m);
  });

  it('features()', async () => {
    const m = await model();
    const want = await m.features({ inputs: P.test });
    const running = m.features({ inputs: P.test });
    expectRefused(m);
    expect(await running).toEqual(want);
    expectFree(m);
  });

  it('kernels()', async () => {
    const m = await model();
    const formulas: Formula[] = ['sgd', 'signgd', 'asymmetric_signgd'];
    const opts = { train: P.train, test: P.test, labelWordIds, formulas };
    const want = await m.kernels(opts);
    const running = m.kernels(opts);
    expectRefused(m);
    expect(await running).toEqual(want);
    expectFree(m);
  });

  it('finetune(), linearized and with the kernel distance', async () => {
    const m = await model();
    const opts = {
      train: P.train,
      trainLabels: P.train_labels,
      test: P.test,
      output: 'prompt' as const,
      labelWordIds,
      optimizer: 'sgd' as const,
      lr: 1e-2,
      steps: 2,
      linearize: true,
      kernelDistance: true,
    };
    const want = await finetune(m, opts);
    const running = finetune(m, opts);
    expectRefused(m);
    const got = await running;
    expect(got.trainLoss).toEqual(want.trainLoss);
    expect(got.testLogits).toEqual(want.testLogits);
    expect(got.linearizedTestLogits).toEqual(want.linearizedTestLogits);
    expect(got.trainKernelRelativeDistance).toBe(want.trainKernelRelativeDistance);
    expectFree(m);
  });

  it('several jobs at once: refused until the last one is done', async () => {
    const m = await model();
    // a short job and a long one (all three kernels of 8x the inputs): the long one is still running when
    // the short one has returned, so the model must still be held then
    const eight = <T>(xs: T[]): T[] => Array.from({ length: 8 }, () => xs).flat();
    const shortJob = m.outputs({ inputs: P.test.slice(0, 1), labelWordIds });
    let longDone = false;
    const longJob = m
      .kernels({ train: eight(P.train), test: eight(P.test), labelWordIds, formulas: ['sgd', 'signgd', 'asymmetric_signgd'] })
      .finally(() => (longDone = true));
    expectRefused(m);
    await shortJob;
    expect(longDone, 'the long job outlasts the short one').toBe(false);
    expectRefused(m);
    await longJob;
    expectFree(m);
  });
});

describe('a job that fails to start gives its model back', () => {
  it('kernels, outputs, features and finetune rejected by Job::Start (bad cancel token)', async () => {
    const m = await model();
    const bad = /cancel token: expected a CancelToken/;
    expect(() => m.handle.kernels({ train: P.train, labelWordIds }, undefined, notAToken)).toThrow(bad);
    expect(() => m.handle.outputs({ inputs: P.test, labelWordIds }, undefined, notAToken)).toThrow(bad);
    expect(() => m.handle.features({ inputs: P.test }, undefined, notAToken)).toThrow(bad);
    const ft = { train: P.train, trainLabels: P.train_labels, labelWordIds, optimizer: 'sgd' as const, lr: 1e-2, steps: 1 };
    expect(() => native().finetune(m.handle, ft, undefined, notAToken)).toThrow(bad);
    expectFree(m);
    // and it still computes
    expect((await m.outputs({ inputs: P.test, labelWordIds })).length).toBe(P.test.length);
  });
});
