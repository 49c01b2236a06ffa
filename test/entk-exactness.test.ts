// Exactness and boundaries through the API: every formula alone and in combination against the fixtures
// (the SignGD kernel exactly) on the cases whose per-example gradients have exact zeros, and the length
// limit of every architecture (the longest accepted input runs, one more token is refused).
import { describe, expect, it } from 'vitest';
import { loadModel, type LmModel } from '../lib/model.js';
import type { EncodedExample, Formula } from '../lib/types.js';
import { fixtures, fixtureModelDir, maxRelErr, flat } from './helpers/fixtures.js';
import { caseKernels, caseModel, KERNEL_KEYS, type Arch, type FixtureCase } from './helpers/fixture-cases.js';

const ALL: Formula[] = ['sgd', 'signgd', 'asymmetric_signgd'];
/** The 7 non-empty subsets of the formulas. */
const COMBINATIONS: Formula[][] = [1, 2, 3, 4, 5, 6, 7].map((m) => ALL.filter((_, i) => m & (1 << i)));

async function checkFormulas(arch: Arch, model: LmModel, cs: FixtureCase, formulas: Formula[]): Promise<void> {
  const res = await caseKernels(arch, model, cs, formulas);
  expect(Object.keys(res.kernels).sort()).toEqual([...formulas].sort());
  for (const f of formulas)
    for (const [k, want] of Object.entries(cs.kernels[f])) {
      const err = maxRelErr(res.kernels[f]![KERNEL_KEYS[k]]!.data, flat(want));
      // SignGD: sums of ±1/0 products, exact in float64 (sign(0) = 0)
      expect(err, `${formulas.join('+')}: ${f}/${k}`).toBeLessThanOrEqual(f === 'signgd' ? 0 : 1e-13);
    }
}

const caseName = (arch: string, cs: { model_mode: string; subset: string; binary: boolean; tied_word_embeddings?: boolean }) =>
  `${arch} ${cs.model_mode}/${cs.subset}${cs.binary ? '/binary' : ''}${cs.tied_word_embeddings ? '/tied' : ''}`;

describe('formulas alone and together match the fixtures (float64, SignGD exactly)', () => {
  // SignGD alone signs the per-example gradients in place (no values kept): every case, LoRA (B = 0: the
  // gradients of A are exactly 0), subsets, the tied decoder and BERT included
  for (const arch of ['roberta', 'bert'] as const)
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    fixtures()[arch].cases.forEach((cs: any) => {
      it(`${caseName(arch, cs)}: signgd alone`, async () => {
        await checkFormulas(arch, await caseModel(arch, cs), cs, ['signgd']);
      });
    });
  // every combination on the cases with exact zeros in their gradients
  const zeros = (cs: { subset: string; tied_word_embeddings?: boolean }) =>
    ['lora', 'only_biases', 'exclude_embeddings'].includes(cs.subset) || !!cs.tied_word_embeddings;
  for (const arch of ['roberta', 'bert'] as const) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const cases: any[] = fixtures()[arch].cases.filter(zeros);
    cases.forEach((cs) => {
      it(`${caseName(arch, cs)}: all 7 combinations`, async () => {
        const model = await caseModel(arch, cs);
        for (const formulas of COMBINATIONS) await checkFormulas(arch, model, cs, formulas);
      });
    });
  }
});

describe('the length limit of every architecture', () => {
  // RoBERTa: max_position_embeddings − padding_idx − 1 (positions start after the padding index);
  // BERT: max_position_embeddings
  const limits = {
    roberta: (c: { max_position_embeddings: number; pad_token_id: number }) => c.max_position_embeddings - c.pad_token_id - 1,
    bert: (c: { max_position_embeddings: number }) => c.max_position_embeddings,
  };
  /** A fixture prompt example stretched to n tokens (filler before the last token, mask position kept). */
  const stretched = (arch: 'roberta' | 'bert', n: number): EncodedExample => {
    const x = fixtures()[arch].inputs.prompt.train[2];
    const ids: number[] = x.input_ids;
    const filler = ids[1];
    return { input_ids: [...ids.slice(0, -1), ...Array(n - ids.length).fill(filler), ids[ids.length - 1]], mask_pos: x.mask_pos };
  };
  for (const arch of ['roberta', 'bert'] as const) {
    const A = fixtures()[arch];
    const max = limits[arch](A.config);
    it(`${arch}: ${max} tokens run (outputs and kernels), ${max + 1} are refused`, async () => {
      // the tiny checkpoints: RoBERTa 130 positions, padding index 1 (128 tokens); BERT 128 positions
      expect(max).toBe(128);
      const model = await loadModel(fixtureModelDir(arch), { dtype: 'float64' });
      expect(model.info.maxPositions).toBe(A.config.max_position_embeddings);
      const longest = stretched(arch, max);
      const tooLong = stretched(arch, max + 1);
      expect(longest.input_ids).toHaveLength(max);
      const base = { output: 'prompt' as const, labelWordIds: A.label_word_ids };
      const f = await model.outputs({ ...base, inputs: [longest] });
      expect(f).toHaveLength(1);
      expect(f[0].every(Number.isFinite)).toBe(true);
      const k = await model.kernels({ ...base, train: [longest], test: [A.inputs.prompt.test[0]], formulas: ['sgd'] });
      expect(k.kernels.sgd!.trainTrain.data.every(Number.isFinite)).toBe(true);
      expect(k.kernels.sgd!.trainTrain.data[0]).toBeGreaterThan(0);
      const refused = new RegExp(`${max + 1} tokens, the model's positions allow at most ${max}`);
      await expect(model.outputs({ ...base, inputs: [tooLong] })).rejects.toThrow(refused);
      await expect(model.kernels({ ...base, train: [longest], test: [tooLong], formulas: ['sgd'] })).rejects.toThrow(refused);
      await expect(model.kernels({ ...base, train: [tooLong], formulas: ['signgd'] })).rejects.toThrow(refused);
    });
  }
});
