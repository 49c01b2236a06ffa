// eNTK kernels through the TypeScript API against fixtures-a.json (independent float64 implementations).
import { describe, expect, it } from 'vitest';
import { loadModel } from '../lib/model.js';
import type { Formula } from '../lib/types.js';
import { fixtures, fixtureModelDir, maxRelErr, flat } from './helpers/fixtures.js';
import { GHOST_CASES, ghostIsCheaper, kernelRows } from './helpers/ghost.js';
import { caseKernels, caseModel, fixtureCaseKernels, KERNEL_KEYS } from './helpers/fixture-cases.js';

const FORMULAS: Formula[] = ['sgd', 'signgd', 'asymmetric_signgd'];
for (const arch of ['roberta', 'bert'] as const) {
  const A = fixtures()[arch];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  A.cases.forEach((cs: any, idx: number) => {
    for (const dtype of ['float64', 'float32'] as const) {
      const tied = !!cs.tied_word_embeddings;
      const name = `${arch} #${idx} ${cs.model_mode}/${cs.subset}${cs.binary ? '/binary' : ''}${tied ? '/tied' : ''} ${dtype}`;
      it(name, async () => {
        const res = await caseKernels(arch, await caseModel(arch, cs, dtype), cs, FORMULAS);
        // float64: within 1e-13 (measured at most 1.6e-15 on these tiny models; float32 accumulation: 1e-8 and more)
        const tol = dtype === 'float64' ? 1e-13 : 1e-4;
        expect(res.gradDim).toBe(cs.grad_dim);
        expect(res.numLogits).toBe(cs.num_logits);
        expect(maxRelErr(flat(res.f0Train), flat(cs.f0_train))).toBeLessThanOrEqual(tol);
        expect(maxRelErr(flat(res.f0Test), flat(cs.f0_test))).toBeLessThanOrEqual(tol);
        for (const f of Object.keys(cs.kernels) as Formula[]) {
          for (const [k, want] of Object.entries(cs.kernels[f])) {
            const got = res.kernels[f]![KERNEL_KEYS[k]]!;
            const err = maxRelErr(got.data, flat(want));
            // sign kernels are sums of ±1: exact in float64
            expect(err, `${f}/${k}`).toBeLessThanOrEqual(dtype === 'float64' && f === 'signgd' ? 0 : tol);
          }
        }
      });
    }
  });
}

describe('asymmetric_signgd without its flip (the default) matches the fixtures and has no flipped kernel', () => {
  for (const arch of ['roberta', 'bert'] as const) {
    const A = fixtures()[arch];
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    A.cases.forEach((cs: any, idx: number) => {
      it(`${arch} #${idx} ${cs.model_mode}/${cs.subset}${cs.binary ? '/binary' : ''} float64`, async () => {
        const model = await caseModel(arch, cs);
        const res = await fixtureCaseKernels(A, model, cs, ['asymmetric_signgd'], { asymmetricFlipped: false });
        const k = res.kernels.asymmetric_signgd!;
        expect(Object.keys(k).sort()).toEqual(['trainTest', 'trainTrain']);
        const want = cs.kernels.asymmetric_signgd;
        expect(maxRelErr(k.trainTrain.data, flat(want.train_train))).toBeLessThanOrEqual(1e-13);
        expect(maxRelErr(k.trainTest.data, flat(want.train_test))).toBeLessThanOrEqual(1e-13);
        // asked for: the fixture's flipped kernel
        const withFlip = await fixtureCaseKernels(A, model, cs, ['asymmetric_signgd'], { asymmetricFlipped: true });
        const flipped = withFlip.kernels.asymmetric_signgd!.trainTestFlipped!;
        expect(maxRelErr(flipped.data, flat(want.train_test_flipped))).toBeLessThanOrEqual(1e-13);
      });
    });
  }
  it('asymmetricFlipped needs the formula asymmetric_signgd and a boolean', async () => {
    const A = fixtures().roberta;
    const model = await caseModel('roberta', A.cases[0]);
    await expect(fixtureCaseKernels(A, model, A.cases[0], ['sgd', 'signgd'], { asymmetricFlipped: true })).rejects.toThrow(
      /asymmetricFlipped.*asymmetric_signgd/,
    );
    await expect(
      // @ts-expect-error not a boolean
      fixtureCaseKernels(A, model, A.cases[0], ['asymmetric_signgd'], { asymmetricFlipped: 'yes' }),
    ).rejects.toThrow(/asymmetricFlipped.*a boolean/);
  });
});

describe('the SGD kernel alone by the ghost contraction (short training examples) matches the fixtures', () => {
  for (const { arch, caseIndex, trainRows } of GHOST_CASES) {
    const A = fixtures()[arch];
    const cs = A.cases[caseIndex];
    it(`${arch} #${caseIndex} ${cs.model_mode}/${cs.subset}${cs.tied_word_embeddings ? '/tied' : ''}, train rows ${trainRows}`, async () => {
      const inputs = A.inputs[cs.model_mode];
      const train = trainRows.map((i) => inputs.train[i]);
      // the engine's own choice (no switch in the API): the ghost contraction costs fewer multiply-adds
      expect(ghostIsCheaper(arch, cs.num_logits, train, inputs.test)).toBe(true);
      const res = await caseKernels(arch, await caseModel(arch, cs), cs, ['sgd'], train);
      expect(res.gradDim).toBe(cs.grad_dim);
      const tt = maxRelErr(res.kernels.sgd!.trainTrain.data, kernelRows(cs.kernels.sgd.train_train, trainRows, true));
      const te = maxRelErr(res.kernels.sgd!.trainTest.data, kernelRows(cs.kernels.sgd.train_test, trainRows, false));
      expect(tt, 'sgd/train_train').toBeLessThanOrEqual(1e-13);
      expect(te, 'sgd/train_test').toBeLessThanOrEqual(1e-13);
      expect(maxRelErr(flat(res.f0Train), flat(trainRows.map((i) => cs.f0_train[i])))).toBeLessThanOrEqual(1e-13);
    });
  }
});

describe('kernel properties (no fixtures needed)', () => {
  const A = fixtures().roberta;
  const P = A.inputs.prompt;
  it('SGD and SignGD train x train kernels are symmetric and positive semi-definite', async () => {
    const model = await loadModel(fixtureModelDir('roberta'), { dtype: 'float64' });
    const res = await model.kernels({
      train: P.train,
      output: 'prompt',
      labelWordIds: A.label_word_ids,
      formulas: ['sgd', 'signgd'],
    });
    for (const f of ['sgd', 'signgd'] as const) {
      const k = res.kernels[f]!.trainTrain;
      const n = k.shape[0] * k.shape[1];
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(k.data[i * n + j]).toBeCloseTo(k.data[j * n + i], 9);
      // PSD: x^T K x >= 0 for many random x
      let seed = 7;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
      for (let t = 0; t < 50; t++) {
        const x = Array.from({ length: n }, rnd);
        let q = 0;
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) q += x[i] * k.data[i * n + j] * x[j];
        expect(q).toBeGreaterThanOrEqual(-1e-9 * Math.abs(k.data[0]));
      }
    }
  });

  it('padding and batch size do not change the kernels', async () => {
    const model = await loadModel(fixtureModelDir('roberta'), { dtype: 'float64' });
    const base = { train: P.train, test: P.test, output: 'prompt' as const, labelWordIds: A.label_word_ids, formulas: FORMULAS };
    const a = await model.kernels({ ...base, batchSize: 1 });
    const b = await model.kernels({ ...base, batchSize: 8 });
    for (const f of FORMULAS) {
      expect(maxRelErr(a.kernels[f]!.trainTest.data, b.kernels[f]!.trainTest.data)).toBeLessThan(1e-12);
      expect(maxRelErr(a.kernels[f]!.trainTrain.data, b.kernels[f]!.trainTrain.data)).toBeLessThan(1e-12);
    }
    expect(maxRelErr(flat(a.f0Test), flat(b.f0Test))).toBeLessThan(1e-13);
  });
});
