// The kernel file: the JSON that `lmkernel kernel` writes, `lmkernel merge` assembles and `lmkernel solve`
// reads (the layout of ../shared/fixtures/fixtures-a.json). Files written before the rename carry
// `num_logits` instead of `num_outputs`; both are read.
import { InputError } from '../errors.js';
import type { KernelResult } from '../model.js';
import { isInt } from '../validate.js';
import type { NestedKernel } from './layout.js';

export interface KernelFileTiling {
  tile_size: number;
  num_tiles: number;
  tiles: number[];
  shard: { index: number; count: number };
  n_train: number;
  n_test: number;
}

export interface KernelFile {
  grad_dim: number;
  /** Outputs per example C (the kernel's second and fourth dimension). */
  num_outputs?: number;
  /** @deprecated The former name of num_outputs, still read from old files. */
  num_logits?: number;
  param_names?: string[];
  f0_train: number[][];
  f0_test: number[][];
  /** formula → train_train / train_test / train_test_flipped → [Na][C][Nb][C]. */
  kernels: Record<string, Record<string, NestedKernel>>;
  tiling?: KernelFileTiling;
}

/** The number of outputs a kernel file declares, and the field it was read from (named in messages). */
export function numOutputsOf(
  doc: { num_outputs?: unknown; num_logits?: unknown },
  where: string,
): { numOutputs: number; field: string } {
  const field = doc.num_outputs !== undefined || doc.num_logits === undefined ? 'num_outputs' : 'num_logits';
  const v = field === 'num_outputs' ? doc.num_outputs : doc.num_logits;
  if (!isInt(v) || v < 1) throw new InputError(where, `"${field}" must be a positive integer, received ${String(v)}`);
  return { numOutputs: v, field };
}

/** The tiling record of a kernel computation, as both file formats store it. */
export function tilingOf(res: KernelResult): KernelFileTiling {
  return {
    tile_size: res.tiling.tileSize,
    num_tiles: res.tiling.numTiles,
    tiles: res.tiling.tiles,
    shard: res.tiling.shard,
    n_train: res.nTrain,
    n_test: res.nTest,
  };
}
