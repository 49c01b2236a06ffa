// Assembling the shard files of `lmkernel kernel --shard i/n` (one tile set each) into the kernel file a
// single run would have written, with checks: same model/options (grad_dim, num_outputs, parameter
// names, model hash, shapes, tiling), every tile exactly once, and identical test outputs f0. Works on
// kernel sets (lib/kernels/kernelSet.ts), so shards in JSON and safetensors merge alike.
import { InputError } from '../errors.js';
import type { KernelFileTiling } from './file.js';
import { kernelSetFromJson, kernelSetToJson, type KernelSet } from './kernelSet.js';
import { tileRows } from './layout.js';

export type { KernelFile } from './file.js';
import type { KernelFile } from './file.js';

export interface KernelShard {
  name: string;
  file: KernelFile;
}

export interface KernelSetShard {
  name: string;
  set: KernelSet;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function tilingOf({ name, set }: KernelSetShard): KernelFileTiling {
  if (!set.tiling) throw new InputError(name, 'has no "tiling" section: not written by `lmkernel kernel` (a shard file)');
  if (!set.f0Train || !set.f0Test) throw new InputError(name, 'has no f0_train / f0_test: not written by `lmkernel kernel`');
  return set.tiling;
}

/** Throws unless `part` comes from the same run as `first` (model, options, shapes, tiling, f0 on test). */
function checkSameRun(part: KernelSetShard, first: KernelSetShard): void {
  const { name, set } = part;
  const t = tilingOf(part);
  const t0 = tilingOf(first);
  const shapes = (s: KernelSet) => Object.entries(s.kernels).map(([f, ps]) => [f, Object.keys(ps).sort()]);
  for (const [key, a, b] of [
    ['grad_dim', set.gradDim, first.set.gradDim],
    ['num_outputs', set.numOutputs, first.set.numOutputs],
    ['param_names', set.paramNames, first.set.paramNames],
    ['model_id', set.info.model_id, first.set.info.model_id],
    ['tiling.tile_size', t.tile_size, t0.tile_size],
    ['tiling.num_tiles', t.num_tiles, t0.num_tiles],
    ['tiling.shard.count', t.shard.count, t0.shard.count],
    ['tiling.n_train', t.n_train, t0.n_train],
    ['tiling.n_test', t.n_test, t0.n_test],
    ['formulas', Object.keys(set.kernels).sort(), Object.keys(first.set.kernels).sort()],
    ['kernels', shapes(set), shapes(first.set)],
  ] as const) {
    if (!same(a, b))
      throw new InputError(
        name,
        `${key} is ${JSON.stringify(a)} but ${first.name} has ${JSON.stringify(b)}: shards of different runs`,
      );
  }
  // f0 on the test set is computed by every shard: it must agree
  const a = set.f0Test!;
  const b = first.set.f0Test!;
  let scale = 1e-30;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    err = Math.max(err, Math.abs(a[i] - b[i]));
  }
  if (a.length !== b.length || err / scale > 1e-6)
    throw new InputError(
      name,
      `f0_test differs from ${first.name} (max relative difference ${(err / scale).toExponential(2)}): shards of different models or inputs`,
    );
}

/** Which shard holds each tile; throws when a tile is in two shards or in none. */
function tileOwners(parts: readonly KernelSetShard[], numTiles: number, count: number): Map<number, string> {
  const seen = new Map<number, string>();
  for (const part of parts) {
    for (const tile of tilingOf(part).tiles) {
      const prev = seen.get(tile);
      if (prev !== undefined) throw new InputError(part.name, `tile ${tile} is also in ${prev}`);
      seen.set(tile, part.name);
    }
  }
  const missing: number[] = [];
  for (let t = 0; t < numTiles; t++) if (!seen.has(t)) missing.push(t);
  if (missing.length > 0)
    throw new InputError('merge', `tiles ${missing.join(', ')} of ${numTiles} are in no shard file (expected ${count} shards)`);
  return seen;
}

/** Merges shard kernel sets (either format) into the kernel set of the unsharded run. */
export function mergeKernelSets(parts: KernelSetShard[]): KernelSet {
  if (parts.length === 0) throw new InputError('merge', 'no shard files given');
  const first = parts[0];
  const t0 = tilingOf(first);
  for (const part of parts) checkSameRun(part, first);
  tileOwners(parts, t0.num_tiles, t0.shard.count);

  const C = first.set.numOutputs;
  const f0Train = new Float64Array(first.set.f0Train!.length);
  const kernels: KernelSet['kernels'] = {};
  for (const [f, ps] of Object.entries(first.set.kernels)) {
    kernels[f] = {};
    for (const [p, k] of Object.entries(ps))
      kernels[f][p as keyof typeof ps] = { shape: k.shape, data: new Float64Array(k.data.length) };
  }
  for (const { set } of parts) {
    const t = set.tiling!;
    for (const tile of t.tiles) {
      const [r0, r1] = tileRows(tile, t.tile_size, t.n_train);
      f0Train.set(set.f0Train!.subarray(r0 * C, r1 * C), r0 * C);
      for (const [f, ps] of Object.entries(set.kernels))
        for (const [p, k] of Object.entries(ps)) {
          const row = C * k.shape[2] * k.shape[3]; // values per training example
          kernels[f][p as keyof typeof ps]!.data.set(k.data.subarray(r0 * row, r1 * row), r0 * row);
        }
    }
  }
  const tiling = { ...t0, tiles: Array.from({ length: t0.num_tiles }, (_, i) => i), shard: { index: 0, count: 1 } };
  return { ...first.set, f0Train, f0Test: Float64Array.from(first.set.f0Test!), kernels, tiling };
}

/** Merges JSON shard files (the library form of `lmkernel merge`). */
export function mergeKernelShards(parts: KernelShard[]): KernelFile {
  const sets = parts.map(({ name, file }) => ({ name, set: kernelSetFromJson(file, name) }));
  return kernelSetToJson(mergeKernelSets(sets));
}
