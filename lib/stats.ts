// The few reductions the project needs (means and spreads over seeds, norms, relative differences),
// on plain arrays and typed arrays alike. Plain TypeScript rather than mathjs: see ARCHITECTURE.md.
import { OptionError } from './errors.js';

type Values = ArrayLike<number>;

export function mean(xs: Values): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

function sumSquaredDeviations(xs: Values): number {
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i] - m) ** 2;
  return s;
}

/** Standard deviation with ddof 0 (numpy's default; the paper's tables report it over seeds). */
export function populationStd(xs: Values): number {
  return xs.length === 0 ? NaN : Math.sqrt(sumSquaredDeviations(xs) / xs.length);
}

/** Standard deviation with ddof 1 (NaN for fewer than 2 values). */
export function sampleStd(xs: Values): number {
  return xs.length < 2 ? NaN : Math.sqrt(sumSquaredDeviations(xs) / (xs.length - 1));
}

/** Mean and population standard deviation. */
export function meanStd(xs: Values): { mean: number; std: number } {
  return { mean: mean(xs), std: populationStd(xs) };
}

/** Euclidean (Frobenius, for a flattened matrix) norm. */
export function l2Norm(xs: Values): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i] * xs[i];
  return Math.sqrt(s);
}

/** ‖s·a − b‖₂ / ‖b‖₂ (the paper's relative kernel distance). */
export function relativeDifference(a: Values, b: Values, s = 1): number {
  if (a.length !== b.length) throw new OptionError('kernels', `two kernels of the same size (${b.length})`, a.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (s * a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.sqrt(den);
}

/** Index of the largest value of every row (ties to the first). */
export function argmaxRows(rows: readonly Values[]): number[] {
  return rows.map((row) => {
    let k = 0;
    for (let c = 1; c < row.length; c++) if (row[c] > row[k]) k = c;
    return k;
  });
}
