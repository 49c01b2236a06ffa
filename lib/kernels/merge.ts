// Assembling the shard files of `lmkernel kernel --shard i/n` (one tile set each) into the kernel file a
// single run would have written, with checks: same model/options (grad_dim, num_logits, parameter
// names, shapes, tiling), every tile exactly once, and identical test outputs f0.
import { InputError } from '../errors.js';

export interface KernelFile {
  grad_dim: number;
  num_logits: number;
  param_names?: string[];
  f0_train: number[][];
  f0_test: number[][];
  kernels: Record<string, Record<string, number[][][][]>>;
  tiling?: { tile_size: number; num_tiles: number; tiles: number[]; shard: { index: number; count: number }; n_train: number; n_test: number };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function mergeKernelShards(parts: { name: string; file: KernelFile }[]): KernelFile {
  if (parts.length === 0) throw new InputError('merge', 'no shard files given');
  const first = parts[0];
  const t0 = first.file.tiling;
  if (!t0) throw new InputError(first.name, 'has no "tiling" section: not written by `lmkernel kernel` (a shard file)');
  const seen = new Map<number, string>();
  for (const { name, file } of parts) {
    const t = file.tiling;
    if (!t) throw new InputError(name, 'has no "tiling" section: not written by `lmkernel kernel` (a shard file)');
    for (const [key, a, b] of [
      ['grad_dim', file.grad_dim, first.file.grad_dim],
      ['num_logits', file.num_logits, first.file.num_logits],
      ['param_names', file.param_names, first.file.param_names],
      ['tiling.tile_size', t.tile_size, t0.tile_size],
      ['tiling.num_tiles', t.num_tiles, t0.num_tiles],
      ['tiling.shard.count', t.shard.count, t0.shard.count],
      ['tiling.n_train', t.n_train, t0.n_train],
      ['tiling.n_test', t.n_test, t0.n_test],
      ['formulas', Object.keys(file.kernels).sort(), Object.keys(first.file.kernels).sort()],
    ] as const) {
      if (!same(a, b)) throw new InputError(name, `${key} is ${JSON.stringify(a)} but ${first.name} has ${JSON.stringify(b)}: shards of different runs`);
    }
    for (const tile of t.tiles) {
      const prev = seen.get(tile);
      if (prev !== undefined) throw new InputError(name, `tile ${tile} is also in ${prev}`);
      seen.set(tile, name);
    }
    // f0 on the test set is computed by every shard: it must agree
    const a = file.f0_test.flat();
    const b = first.file.f0_test.flat();
    const scale = Math.max(1e-30, ...b.map(Math.abs));
    const err = Math.max(0, ...a.map((v, i) => Math.abs(v - b[i])));
    if (a.length !== b.length || err / scale > 1e-6)
      throw new InputError(name, `f0_test differs from ${first.name} (max relative difference ${(err / scale).toExponential(2)}): shards of different models or inputs`);
  }
  const missing: number[] = [];
  for (let t = 0; t < t0.num_tiles; t++) if (!seen.has(t)) missing.push(t);
  if (missing.length > 0) throw new InputError('merge', `tiles ${missing.join(', ')} of ${t0.num_tiles} are in no shard file (expected ${t0.shard.count} shards)`);

  const out: KernelFile = JSON.parse(JSON.stringify(first.file));
  for (const { file } of parts) {
    const t = file.tiling!;
    for (const tile of t.tiles) {
      const r0 = tile * t.tile_size;
      const r1 = Math.min(t.n_train, r0 + t.tile_size);
      for (let r = r0; r < r1; r++) {
        out.f0_train[r] = file.f0_train[r];
        for (const [f, ks] of Object.entries(file.kernels)) for (const k of Object.keys(ks)) out.kernels[f][k][r] = ks[k][r];
      }
    }
  }
  out.tiling = { ...t0, tiles: Array.from({ length: t0.num_tiles }, (_, i) => i), shard: { index: 0, count: 1 } };
  return out;
}
