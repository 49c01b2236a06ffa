// Kernel layout conversions in one place. A kernel [Na, C, Nb, C] (row = example·C + output, columns =
// example·C + output) is held either nested (number[][][][], the JSON layout of the `kernel` command and
// the fixtures) or flat (a row-major Float64Array with its shape: the addon's and the solvers' layout).
// Also: splitting/joining along the columns (one engine call computes train × (dev ∪ test)), training-row
// tiles (the shards of `kernel --shard`), and per-example output rows [N][C] ↔ flat.
import { InputError } from '../errors.js';
import type { Kernel } from '../types.js';
import { isInt } from '../validate.js';

/** A kernel as nested arrays, shape [Na][C][Nb][C]. */
export type NestedKernel = number[][][][];

/** Nested [Na][C][Nb][C] → flat, checking that it is rectangular and finite (`what` names it in errors). */
export function nestedToFlat(k: unknown, what: string): Kernel {
  if (!Array.isArray(k) || k.length === 0 || !Array.isArray(k[0]) || !Array.isArray(k[0][0]) || !Array.isArray(k[0][0][0]))
    throw new InputError(what, 'expected a kernel of shape [N][C][M][C] (nested arrays of numbers)');
  const nested = k as NestedKernel;
  const [N, C, M, C2] = [nested.length, nested[0].length, nested[0][0].length, nested[0][0][0].length];
  const data = new Float64Array(N * C * M * C2);
  const ragged = (at: string, len: unknown, expected: number) =>
    new InputError(what, `ragged kernel: entry ${at} has ${String(len)} entries, expected ${expected}`);
  const lengthOf = (v: unknown) => (Array.isArray(v) ? v.length : 'no');
  let p = 0;
  for (let i = 0; i < N; i++) {
    const a = nested[i];
    if (!Array.isArray(a) || a.length !== C) throw ragged(`[${i}]`, lengthOf(a), C);
    for (let c = 0; c < C; c++) {
      const b = a[c];
      if (!Array.isArray(b) || b.length !== M) throw ragged(`[${i}][${c}]`, lengthOf(b), M);
      for (let j = 0; j < M; j++) {
        const row = b[j];
        if (!Array.isArray(row) || row.length !== C2) throw ragged(`[${i}][${c}][${j}]`, lengthOf(row), C2);
        for (let d = 0; d < C2; d++) {
          const v = row[d];
          if (typeof v !== 'number' || !Number.isFinite(v))
            throw new InputError(what, `entry [${i}][${c}][${j}][${d}] is not a finite number`);
          data[p++] = v;
        }
      }
    }
  }
  return { data, shape: [N, C, M, C2] };
}

/** Flat → nested [Na][C][Nb][C] (the JSON layout of the fixtures and the CLI). */
export function flatToNested(k: Kernel): NestedKernel {
  const [na, c, nb, c2] = k.shape;
  const out: NestedKernel = [];
  let p = 0;
  for (let i = 0; i < na; i++) {
    const a: number[][][] = [];
    for (let l = 0; l < c; l++) {
      const b: number[][] = [];
      for (let j = 0; j < nb; j++) {
        b.push(Array.from(k.data.subarray(p, p + c2)));
        p += c2;
      }
      a.push(b);
    }
    out.push(a);
  }
  return out;
}

/** Splits the columns of [N, C, M, C] at example `m1`: ([N, C, m1, C], [N, C, M - m1, C]). */
export function splitColumns(k: Kernel, m1: number): [Kernel, Kernel] {
  const [N, C, M, C2] = k.shape;
  if (!isInt(m1) || m1 < 0 || m1 > M) throw new InputError('kernel', `cannot split ${M} columns at ${m1}`);
  const rows = N * C;
  const w = M * C2;
  const wa = m1 * C2;
  const wb = w - wa;
  const a = new Float64Array(rows * wa);
  const b = new Float64Array(rows * wb);
  for (let r = 0; r < rows; r++) {
    a.set(k.data.subarray(r * w, r * w + wa), r * wa);
    b.set(k.data.subarray(r * w + wa, (r + 1) * w), r * wb);
  }
  return [
    { shape: [N, C, m1, C2], data: a },
    { shape: [N, C, M - m1, C2], data: b },
  ];
}

/** Joins [N, C, M1, C] and [N, C, M2, C] along the columns. */
export function concatColumns(a: Kernel, b: Kernel): Kernel {
  const [N, C, M1, C2] = a.shape;
  const [Nb, Cb, M2, C2b] = b.shape;
  if (N !== Nb || C !== Cb || C2 !== C2b)
    throw new InputError(
      'kernel',
      `cannot join kernels of shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] along the columns`,
    );
  const rows = N * C;
  const wa = M1 * C2;
  const wb = M2 * C2;
  const out = new Float64Array(rows * (wa + wb));
  for (let r = 0; r < rows; r++) {
    out.set(a.data.subarray(r * wa, (r + 1) * wa), r * (wa + wb));
    out.set(b.data.subarray(r * wb, (r + 1) * wb), r * (wa + wb) + wa);
  }
  return { shape: [N, C, M1 + M2, C2], data: out };
}

/** Per-example rows [N][C] → flat row-major Float64Array (length N·C). */
export function flatRows(rows: readonly (readonly number[])[]): Float64Array {
  const C = rows.length > 0 ? rows[0].length : 0;
  const out = new Float64Array(rows.length * C);
  rows.forEach((r, i) => out.set(r, i * C));
  return out;
}

/** Flat row-major values → `numRows` rows (the inverse of flatRows). */
export function rowsOfFlat(flat: ArrayLike<number>, numRows: number): number[][] {
  const cols = numRows === 0 ? 0 : flat.length / numRows;
  const out: number[][] = [];
  for (let i = 0; i < numRows; i++) out.push(Array.from({ length: cols }, (_, c) => flat[i * cols + c]));
  return out;
}

/** The training rows [start, end) of tile `tile` when rows are computed `tileSize` at a time. */
export function tileRows(tile: number, tileSize: number, numRows: number): [number, number] {
  const start = tile * tileSize;
  return [start, Math.min(numRows, start + tileSize)];
}

/** The tiles t with t % count === index (the tiles a shard computes). */
export function shardTiles(numTiles: number, shard: { index: number; count: number }): number[] {
  const out: number[] = [];
  for (let t = shard.index; t < numTiles; t += shard.count) out.push(t);
  return out;
}
