// Kernel and label layout for the solvers: nested [N][C][M][C] kernels (the `kernel` command's JSON and
// the fixtures) or flat Float64Arrays with a shape, flattened to the (example, logit) problem with index
// n*C + c, as the reference's reshape_kernel_and_targets. Only reshaping here, no math.
import { InputError } from '../errors.js';
import { nestedToFlat, type NestedKernel } from '../kernels/layout.js';
import { argmaxRows } from '../stats.js';
import type { Kernel } from '../types.js';

export type { NestedKernel };
/** A kernel as one row-major buffer with its shape [N, C, M, C]. */
export type FlatKernel = Kernel;
export type KernelInput = NestedKernel | FlatKernel;
/** Per-example outputs f0 [N][C] (nested) or flattened (length N*C). */
export type LogitsInput = number[][] | ArrayLike<number>;

export function isFlatKernel(k: unknown): k is FlatKernel {
  return typeof k === 'object' && k !== null && !Array.isArray(k) && (k as FlatKernel).data instanceof Float64Array;
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Flattens a kernel to a row-major (N*C) x (M*C) Float64Array, checking that it is rectangular. */
export function flattenKernel(k: KernelInput, what: string): FlatKernel {
  if (isFlatKernel(k)) {
    const [a, b, c, d] = k.shape;
    if (k.shape.length !== 4 || a * b * c * d !== k.data.length)
      throw new InputError(
        what,
        `a flat kernel of shape ${shapeString(k.shape)} needs ${a * b * c * d} values, received ${k.data.length}`,
      );
    return k;
  }
  return nestedToFlat(k, what);
}

/** Flattens f0 logits to length N*C (index n*C + c). */
export function flattenLogits(f: LogitsInput, N: number, C: number, what: string): Float64Array {
  const out = new Float64Array(N * C);
  if (Array.isArray(f) && (f.length === 0 || Array.isArray(f[0]))) {
    const rows = f as number[][];
    if (rows.length !== N || rows.some((r) => !Array.isArray(r) || r.length !== C))
      throw new InputError(what, `expected shape [${N}][${C}], received ${describeNested(rows)}`);
    rows.forEach((r, i) => r.forEach((v, c) => (out[i * C + c] = v)));
    return out;
  }
  const flat = f as ArrayLike<number>;
  if (flat.length !== N * C)
    throw new InputError(what, `expected ${N * C} values (${N} examples x ${C} logits), received ${flat.length}`);
  for (let i = 0; i < flat.length; i++) out[i] = flat[i];
  return out;
}

function describeNested(rows: number[][]): string {
  return `[${rows.length}][${rows.length > 0 && Array.isArray(rows[0]) ? rows[0].length : '?'}]`;
}

/** Regression targets: +-1 when binary, flattened one-hot (0/1, length N*C) otherwise. */
export function targetsOf(labels: readonly number[], numClasses: number, binary: boolean): Float64Array {
  if (binary) return Float64Array.from(labels, (l) => 2 * l - 1);
  const out = new Float64Array(labels.length * numClasses);
  labels.forEach((l, i) => (out[i * numClasses + l] = 1));
  return out;
}

/** Reshapes flat predictions (per example and logit, or per example when binary) to [M][numClasses]
 * scores and argmax labels; binary scores are [-p, p] as the reference builds them. */
export function decode(
  pred: ArrayLike<number>,
  M: number,
  numClasses: number,
  binary: boolean,
): { scores: number[][]; labels: number[] } {
  const scores = Array.from({ length: M }, (_, j) =>
    binary ? [-pred[j], pred[j]] : Array.from({ length: numClasses }, (_, c) => pred[j * numClasses + c]),
  );
  return { scores, labels: argmaxRows(scores) };
}

export function accuracy(predicted: readonly number[], labels: readonly number[]): number {
  if (labels.length === 0) return NaN;
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) ok++;
  return ok / labels.length;
}
