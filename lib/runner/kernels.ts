// Column-wise splitting and joining of flat kernels [N, C, M, C] (row = train example x logit, columns =
// eval example x logit): one engine call computes train x (dev ∪ test), the solver layer sees dev and
// test separately, and one fit predicts both.
import { InputError } from '../errors.js';
import type { Kernel } from '../model.js';

/** Splits the columns of [N, C, M, C] at example `m1`: ([N, C, m1, C], [N, C, M - m1, C]). */
export function splitColumns(k: Kernel, m1: number): [Kernel, Kernel] {
  const [N, C, M, C2] = k.shape;
  if (!Number.isInteger(m1) || m1 < 0 || m1 > M) throw new InputError('kernel', `cannot split ${M} columns at ${m1}`);
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
    throw new InputError('kernel', `cannot join kernels of shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] along the columns`);
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

/** Flat row-major [N][C] logits. */
export function flatRows(rows: readonly (readonly number[])[]): Float64Array {
  const C = rows.length > 0 ? rows[0].length : 0;
  const out = new Float64Array(rows.length * C);
  rows.forEach((r, i) => out.set(r, i * C));
  return out;
}
