// One fixture case of fixtures-a.json through the API: its model (tie flag, LoRA A matrices) and its
// kernels on the fixture inputs with the case's options, and the fixture's kernel names mapped to the API's.
import { loadModel, type KernelResult, type LmModel } from '../../lib/model.js';
import type { Dtype, EncodedExample, Formula } from '../../lib/types.js';
import { fixtures, fixtureModelDir } from './fixtures.js';

export type Arch = 'roberta' | 'bert';

/** Fixture kernel name → the API's field of a formula's kernels. */
export const KERNEL_KEYS: Record<string, 'trainTrain' | 'trainTest' | 'trainTestFlipped'> = {
  train_train: 'trainTrain',
  train_test: 'trainTest',
  train_test_flipped: 'trainTestFlipped',
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type FixtureCase = any;

export async function caseModel(arch: Arch, cs: FixtureCase, dtype: Dtype = 'float64'): Promise<LmModel> {
  const model = await loadModel(fixtureModelDir(arch), { dtype, tieWordEmbeddings: !!cs.tied_word_embeddings });
  if (cs.lora) model.applyLora({ r: cs.lora.r, alpha: cs.lora.alpha, targets: cs.lora.targets, A: cs.lora.A });
  return model;
}

/** The case's kernels for `formulas` (train: the fixture's training inputs unless given), batch size 3. */
export function caseKernels(
  arch: Arch,
  model: LmModel,
  cs: FixtureCase,
  formulas: Formula[],
  train?: EncodedExample[],
): Promise<KernelResult> {
  return fixtureCaseKernels(fixtures()[arch], model, cs, formulas, train ? { train } : {});
}

/**
 * Case `cs` of the fixture model entry `A` (of fixtures-a.json or decoders/fixtures-c.json): its kernels
 * for `formulas` on the fixture's inputs with the case's options and batch size 3, then `extra`. With
 * asymmetric_signgd its flipped kernel too (the fixtures have it), unless `extra` says otherwise.
 */
export function fixtureCaseKernels(
  A: FixtureCase,
  model: LmModel,
  cs: FixtureCase,
  formulas: Formula[],
  extra: Partial<Parameters<LmModel['kernels']>[0]> = {},
): Promise<KernelResult> {
  const inputs = A.inputs[cs.model_mode];
  return model.kernels({
    train: inputs.train,
    test: inputs.test,
    output: cs.model_mode,
    labelWordIds: cs.model_mode === 'prompt' ? A.label_word_ids : undefined,
    binary: cs.binary,
    formulas,
    asymmetricFlipped: formulas.includes('asymmetric_signgd'),
    subset: cs.subset,
    batchSize: 3,
    ...extra,
  });
}
