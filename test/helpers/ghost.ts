// Inputs for which the engine computes the SGD kernel alone by the ghost contraction (not the joint pass),
// chosen automatically by a multiply-add count (sgdByGhost in native/core/memory.cc): the API and the CLI
// have no switch for it, so the tests pick short training examples and check the count here.
import { fixtures, flat } from './fixtures.js';

interface Example {
  input_ids: number[];
}

/**
 * The engine's choice for the SGD kernel alone with every linear weight of the layers in the kernel:
 * ghost Σ_sites (din + C²·dout) · T_train · (T_train + T_test) against joint Σ_sites din·dout ·
 * (C·(T_train + T_test) + C²·N_train·(N_train + N_test)), T = tokens, sites q, k, v, o, intermediate, output.
 */
export function ghostIsCheaper(arch: 'roberta' | 'bert', C: number, train: Example[], test: Example[]): boolean {
  const cfg = fixtures()[arch].config;
  const H: number = cfg.hidden_size;
  const I: number = cfg.intermediate_size;
  const L: number = cfg.num_hidden_layers;
  const sites: [number, number][] = [
    [H, H],
    [H, H],
    [H, H],
    [H, H],
    [H, I],
    [I, H],
  ];
  let perToken = 0;
  let perRow = 0;
  for (const [din, dout] of sites) {
    perToken += L * (din + C * C * dout);
    perRow += L * din * dout;
  }
  const tokens = (xs: Example[]) => xs.reduce((s, x) => s + x.input_ids.length, 0);
  const ttr = tokens(train);
  const tte = tokens(test);
  const ghost = perToken * ttr * (ttr + tte);
  const joint = perRow * (C * (ttr + tte) + C * C * train.length * (train.length + test.length));
  return ghost <= joint;
}

/** A fixture kernel [N_train][C][N_b][C] restricted to the training examples `rows` (and, for train × train, columns). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function kernelRows(k: any[], rows: number[], trainTrain: boolean): number[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const sub = rows.map((i) => k[i].map((perC: any[]) => (trainTrain ? rows.map((j) => perC[j]) : perC)));
  return flat(sub);
}

/** The cases the ghost path is tested on: training examples short enough for the ghost contraction. */
export const GHOST_CASES: { arch: 'roberta' | 'bert'; caseIndex: number; trainRows: number[] }[] = [
  { arch: 'roberta', caseIndex: 0, trainRows: [3] }, // prompt/all: 11 tokens against 8 test examples
  { arch: 'roberta', caseIndex: 2, trainRows: [3] }, // prompt/exclude_embeddings
  { arch: 'roberta', caseIndex: 5, trainRows: [2, 3] }, // standard/all: 8 + 7 tokens
  { arch: 'roberta', caseIndex: 7, trainRows: [3] }, // prompt/all/tied
  { arch: 'bert', caseIndex: 0, trainRows: [2] }, // prompt/all: 10 tokens against 6 test examples
  { arch: 'bert', caseIndex: 1, trainRows: [3, 4] }, // standard/all: 6 + 7 tokens
];
