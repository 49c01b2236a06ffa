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

// ---------------------------------------------------------------------------------------------------
// Paired tests (the per-example χ comparison across widths, Definition 5.3) and resampling.

/** The complementary error function erfc(x), to about 1e-15 relative (series below 2.5, continued fraction above). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) {
    // erf(x) = 2/√π Σ_n (−1)^n x^(2n+1) / (n! (2n+1))
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) (modified Lentz)
  const tiny = 1e-300;
  let f = x;
  let C = x;
  let D = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    D = x + a * D;
    D = Math.abs(D) < tiny ? tiny : D;
    C = x + a / C;
    C = Math.abs(C) < tiny ? tiny : C;
    D = 1 / D;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

/** Two-sided p-value of a standard normal statistic z: P(|Z| >= |z|) = erfc(|z|/√2). */
export function normalTwoSidedP(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

export interface SignTest {
  /** Non-zero differences, and how many of them are positive / negative. */
  n: number;
  positive: number;
  negative: number;
  /** Zero differences (left out of the test, as the classical sign test does). */
  zeros: number;
  /** Exact two-sided binomial p-value: min(1, 2·P(X <= min(pos, neg))), X ~ Bin(n, 1/2); 1 when n = 0. */
  p: number;
}

/** The exact two-sided sign test of paired differences. */
export function signTest(diffs: Values): SignTest {
  let positive = 0;
  let negative = 0;
  let zeros = 0;
  for (let i = 0; i < diffs.length; i++) {
    const d = diffs[i];
    if (Number.isNaN(d)) throw new OptionError(`diffs[${i}]`, 'a number', d);
    if (d > 0) positive++;
    else if (d < 0) negative++;
    else zeros++;
  }
  const n = positive + negative;
  const k = Math.min(positive, negative);
  // Σ_{i<=k} C(n, i) / 2^n: exact integers up to n = 50 (C(50, 25) < 2^53), in log space above
  let tail = 0;
  if (n <= 50) {
    let c = 1;
    let s = 0;
    for (let i = 0; i <= k; i++) {
      s += c;
      c = (c * (n - i)) / (i + 1);
    }
    tail = s / 2 ** n;
  } else {
    let logTerm = -n * Math.LN2; // log(C(n, 0) / 2^n)
    for (let i = 0; i <= k; i++) {
      tail += Math.exp(logTerm);
      logTerm += Math.log((n - i) / (i + 1));
    }
  }
  return { n, positive, negative, zeros, p: n === 0 ? 1 : Math.min(1, 2 * tail) };
}

export interface WilcoxonTest {
  /** Non-zero differences (zeros are dropped: Wilcoxon's method). */
  n: number;
  /** Sums of the ranks of |d| (average ranks for ties) of the positive and the negative differences. */
  wPlus: number;
  wMinus: number;
  /** Two-sided p-value: exact (no ties, n <= 50) or the normal approximation with the tie correction. */
  p: number;
  method: 'exact' | 'normal';
}

/** Wilcoxon's signed-rank test of paired differences (two-sided; scipy.stats.wilcoxon's defaults). */
export function wilcoxonSignedRank(diffs: Values): WilcoxonTest {
  const d: number[] = [];
  for (let i = 0; i < diffs.length; i++) {
    if (Number.isNaN(diffs[i])) throw new OptionError(`diffs[${i}]`, 'a number', diffs[i]);
    if (diffs[i] !== 0) d.push(diffs[i]);
  }
  const n = d.length;
  if (n === 0) return { n, wPlus: 0, wMinus: 0, p: 1, method: 'exact' };
  const order = d.map((_, i) => i).sort((a, b) => Math.abs(d[a]) - Math.abs(d[b]));
  const rank = new Array<number>(n);
  let tieTerm = 0; // Σ (t³ − t) over tie groups
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && Math.abs(d[order[j + 1]]) === Math.abs(d[order[i]])) j++;
    const r = (i + j + 2) / 2;
    for (let q = i; q <= j; q++) rank[order[q]] = r;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  let wPlus = 0;
  for (let i = 0; i < n; i++) if (d[i] > 0) wPlus += rank[i];
  const wMinus = (n * (n + 1)) / 2 - wPlus;
  if (tieTerm === 0 && n <= 50) {
    // exact null distribution of W+ (every sign pattern equally likely): counts of subsets of {1..n} by sum
    const max = (n * (n + 1)) / 2;
    let counts = new Float64Array(max + 1);
    counts[0] = 1;
    for (let r = 1; r <= n; r++) {
      const next = counts.slice();
      for (let s = r; s <= max; s++) next[s] += counts[s - r];
      counts = next;
    }
    const w = Math.min(wPlus, wMinus);
    let tail = 0;
    for (let s = 0; s <= w; s++) tail += counts[s];
    return { n, wPlus, wMinus, p: Math.min(1, (2 * tail) / 2 ** n), method: 'exact' };
  }
  const mu = (n * (n + 1)) / 4;
  const variance = (n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48;
  const p = variance > 0 ? normalTwoSidedP((wPlus - mu) / Math.sqrt(variance)) : 1;
  return { n, wPlus, wMinus, p, method: 'normal' };
}

/** Seeded uniform [0, 1) (mulberry32): the resampling below, LoRA's random A in behaviour/measures. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentiles(means: Float64Array): { se: number; low: number; high: number } {
  const sorted = Float64Array.from(means).sort();
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))))];
  return { se: sampleStd(means), low: q(0.025), high: q(0.975) };
}

/**
 * Bootstrap over test examples of a mean accuracy over seeds when only each seed's accuracy on `n`
 * examples is known (each seed's resampled accuracy is Binomial(n, acc)/n). The seeds' unknown
 * per-example agreement is bounded by two couplings: 'independent' resamples every seed's examples on its
 * own (no correlation: the smallest se), 'shared' draws one uniform per resampled example for all seeds,
 * so that a seed with a higher accuracy is right wherever a lower one is (the largest correlation: the
 * largest se; exact when the seeds predict alike, e.g. zero-shot on a shared test set). The paired
 * bootstrap, `bootstrapMean` of the per-example mean over seeds, needs the per-example results.
 */
export function bootstrapSeedMeanAccuracy(
  accs: Values,
  n: number,
  resamples = 1000,
  seed = 1,
  coupling: 'independent' | 'shared' = 'independent',
): { se: number; low: number; high: number } {
  if (accs.length === 0 || n < 1) return { se: NaN, low: NaN, high: NaN };
  const next = rng(seed);
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    if (coupling === 'shared')
      for (let i = 0; i < n; i++) {
        const u = next();
        for (let k = 0; k < accs.length; k++) if (u < accs[k]) s++;
      }
    else for (let k = 0; k < accs.length; k++) for (let i = 0; i < n; i++) if (next() < accs[k]) s++;
    means[b] = s / n / accs.length;
  }
  return percentiles(means);
}

/**
 * Percentile bootstrap of the mean of `xs` (resampling the values with replacement, seeded): the
 * standard error (sample std of the resampled means) and the 2.5 % / 97.5 % percentiles.
 */
export function bootstrapMean(xs: Values, resamples = 1000, seed = 1): { se: number; low: number; high: number } {
  const n = xs.length;
  if (n === 0) return { se: NaN, low: NaN, high: NaN };
  const next = rng(seed);
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += xs[Math.floor(next() * n)];
    means[b] = s / n;
  }
  return percentiles(means);
}
