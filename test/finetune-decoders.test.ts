// Fine-tuning, linearization and the kernel distance of decoder LMs (GPT-2, Llama) against the decoder
// fixtures' own kernels: for one full-batch SGD step of lr η on the mean cross-entropy, with residuals
// r_i = softmax(f0(x_i)) − onehot(y_i), the gradient norm is ‖∇L‖² = rᵀ K(train, train) r / N², and the
// linearized model's test outputs move by −η/N Σ_i K(x, x_i) r_i. K and f0 come from the fixture.
import { describe, expect, it } from 'vitest';
import { finetune } from '../lib/finetune.js';
import { loadModel } from '../lib/model.js';
import { decoderFixtures, decoderModelDir, flat, maxRelErr } from './helpers/fixtures.js';

const softmax = (row: number[]) => {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

for (const arch of ['gpt2', 'llama'] as const) {
  describe(`${arch}: one SGD step against the fixture's kernels (float64)`, () => {
    const A = decoderFixtures()[arch];
    const cs = A.cases[0]; // prompt, all parameters
    const P = A.inputs.prompt;
    const N = P.train.length;
    const C = A.label_word_ids.length;
    const K = cs.kernels.sgd;
    const r: number[][] = cs.f0_train.map((row: number[], i: number) =>
      softmax(row).map((p, c) => p - (c === P.train_labels[i] ? 1 : 0)),
    );

    it('loss, gradient norm, linearized test outputs and the kernel distance', async () => {
      const model = await loadModel(decoderModelDir(arch), { dtype: 'float64' });
      const eta = 1e-4;
      const res = await finetune(model, {
        train: P.train,
        trainLabels: P.train_labels,
        test: P.test,
        output: 'prompt',
        labelWordIds: A.label_word_ids,
        optimizer: 'sgd',
        lr: eta,
        steps: 1,
        maxGradNorm: 0,
        linearize: true,
        kernelDistance: true,
      });
      const loss =
        cs.f0_train.reduce((s: number, row: number[], i: number) => s - Math.log(softmax(row)[P.train_labels[i]]), 0) / N;
      expect(Math.abs(res.trainLoss[0] - loss) / loss).toBeLessThan(1e-12);
      let g2 = 0;
      for (let i = 0; i < N; i++)
        for (let c = 0; c < C; c++)
          for (let j = 0; j < N; j++) for (let d = 0; d < C; d++) g2 += r[i][c] * K.train_train[i][c][j][d] * r[j][d];
      expect(Math.abs(res.gradNorm - Math.sqrt(g2) / N) / res.gradNorm).toBeLessThan(1e-10);
      const move: number[] = [];
      const got: number[] = [];
      P.test.forEach((_: unknown, t: number) => {
        for (let d = 0; d < C; d++) {
          let s = 0;
          for (let i = 0; i < N; i++) for (let c = 0; c < C; c++) s += K.train_test[i][c][t][d] * r[i][c];
          move.push((-eta / N) * s);
          got.push(res.linearizedTestLogits![t][d] - cs.f0_test[t][d]);
        }
      });
      expect(maxRelErr(got, move)).toBeLessThan(1e-9);
      // the real step moves the outputs by the same to first order
      const real = flat(res.testLogits).map((v, k) => v - flat(cs.f0_test)[k]);
      expect(maxRelErr(real, move)).toBeLessThan(0.05);
      expect(res.trainKernelRelativeDistance).toBeGreaterThan(0);
      expect(res.trainKernelRelativeDistance).toBeLessThan(0.05);
    });

    it('LoRA on q/v: the LoRA matrices (and the score head) train, and the loss goes down', async () => {
      const model = await loadModel(decoderModelDir(arch), { dtype: 'float64' });
      model.applyLora({ r: 2, alpha: 4, targets: ['query', 'value'], seed: 3 });
      const res = await finetune(model, {
        train: P.train,
        trainLabels: P.train_labels,
        output: 'prompt',
        labelWordIds: A.label_word_ids,
        optimizer: 'adam',
        lr: 1e-2,
        steps: 6,
        trainable: 'lora',
      });
      // 2 layers x (A, B) x (query, value), and the score head (README: LoRA trains the score head too)
      expect(res.trainedParams.filter((n) => n.includes('.lora_'))).toHaveLength(8);
      expect(res.trainedParams.filter((n) => !n.includes('.lora_'))).toEqual(['score.weight']);
      expect(res.trainLoss[5]).toBeLessThan(res.trainLoss[0]);
    });
  });
}
