// Assembling the shard files of `lmkernel kernel --shard i/n` (one tile set each) into the kernel file a
// single run would have written, with checks: same model/options (grad_dim, num_outputs, parameter
// names, shapes, tiling), every tile exactly once, and identical test outputs f0.
import { InputError } from '../errors.js';
import { numOutputsOf, type KernelFile, type KernelFileTiling } from './file.js';
import { tileRows } from './layout.js';

export type { KernelFile } from './file.js';

export interface KernelShard {
  name: string;
  file: KernelFile;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function tilingOf({ name, file }: KernelShard): KernelFileTiling {
  if (!file.tiling) throw new InputError(name, 'has no "tiling" section: not written by `lmkernel kernel` (a shard file)');
  return file.tiling;
}

/** Throws unless `part` comes from the same run as `first` (model, options, shapes, tiling, f0 on test). */
function checkSameRun(part: KernelShard, first: KernelShard): void {
  const { name, file } = part;
  const t = tilingOf(part);
  const t0 = tilingOf(first);
  for (const [key, a, b] of [
    ['grad_dim', file.grad_dim, first.file.grad_dim],
    ['num_outputs', numOutputsOf(file, name).numOutputs, numOutputsOf(first.file, first.name).numOutputs],
    ['param_names', file.param_names, first.file.param_names],
    ['tiling.tile_size', t.tile_size, t0.tile_size],
    ['tiling.num_tiles', t.num_tiles, t0.num_tiles],
    ['tiling.shard.count', t.shard.count, t0.shard.count],
    ['tiling.n_train', t.n_train, t0.n_train],
    ['tiling.n_test', t.n_test, t0.n_test],
    ['formulas', Object.keys(file.kernels).sort(), Object.keys(first.file.kernels).sort()],
  ] as const) {
    if (!same(a, b))
      throw new InputError(
        name,
        `${key} is ${JSON.stringify(a)} but ${first.name} has ${JSON.stringify(b)}: shards of different runs`,
      );
  }
  // f0 on the test set is computed by every shard: it must agree
  const a = file.f0_test.flat();
  const b = first.file.f0_test.flat();
  const scale = Math.max(1e-30, ...b.map(Math.abs));
  const err = Math.max(0, ...a.map((v, i) => Math.abs(v - b[i])));
  if (a.length !== b.length || err / scale > 1e-6)
    throw new InputError(
      name,
      `f0_test differs from ${first.name} (max relative difference ${(err / scale).toExponential(2)}): shards of different models or inputs`,
    );
}

/** Which shard holds each tile; throws when a tile is in two shards or in none. */
function tileOwners(parts: readonly KernelShard[], numTiles: number, count: number): Map<number, string> {
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

export function mergeKernelShards(parts: KernelShard[]): KernelFile {
  if (parts.length === 0) throw new InputError('merge', 'no shard files given');
  const first = parts[0];
  const t0 = tilingOf(first);
  for (const part of parts) checkSameRun(part, first);
  tileOwners(parts, t0.num_tiles, t0.shard.count);

  const { num_logits: _old, ...base } = JSON.parse(JSON.stringify(first.file)) as KernelFile;
  void _old;
  const out: KernelFile = { ...base, num_outputs: numOutputsOf(first.file, first.name).numOutputs };
  for (const { file } of parts) {
    const t = file.tiling!;
    for (const tile of t.tiles) {
      const [r0, r1] = tileRows(tile, t.tile_size, t.n_train);
      for (let r = r0; r < r1; r++) {
        out.f0_train[r] = file.f0_train[r];
        for (const [f, ks] of Object.entries(file.kernels)) for (const k of Object.keys(ks)) out.kernels[f][k][r] = ks[k][r];
      }
    }
  }
  out.tiling = { ...t0, tiles: Array.from({ length: t0.num_tiles }, (_, i) => i), shard: { index: 0, count: 1 } };
  return out;
}
