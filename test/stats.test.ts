// lib/stats.ts's paired tests and bootstrap against textbook values and independent computations.
import { describe, expect, it } from 'vitest';
import {
  bootstrapMean,
  bootstrapSeedMeanAccuracy,
  erfc,
  normalTwoSidedP,
  sampleStd,
  signTest,
  wilcoxonSignedRank,
} from '../lib/stats.js';

describe('erfc', () => {
  it('matches reference values (Python math.erfc) to ~1e-14', () => {
    const want: [number, number][] = [
      [0, 1],
      [0.5, 0.4795001221869535],
      [1, 0.15729920705028513],
      [3, 2.2090496998585438e-5],
      [-1, 1.842700792949715],
      [6, 2.1519736712498916e-17],
    ];
    for (const [x, v] of want) expect(Math.abs(erfc(x) - v) / v, `erfc(${x})`).toBeLessThan(1e-13);
  });
  it('gives the textbook two-sided 5 % point of the normal: P(|Z| >= 1.959963984540054) = 0.05', () => {
    expect(normalTwoSidedP(1.959963984540054)).toBeCloseTo(0.05, 14);
  });
});

describe('signTest', () => {
  it('9 of 10 positive: p = 2·(C(10,0) + C(10,1))/2^10 = 22/1024; zeros are left out', () => {
    const t = signTest([1, 2, 3, 4, 5, 6, 7, 8, 9, -1, 0, 0]);
    expect(t).toEqual({ n: 10, positive: 9, negative: 1, zeros: 2, p: 22 / 1024 });
  });
  it('balanced signs give p = 1, no differences give p = 1', () => {
    expect(signTest([1, -1]).p).toBe(1);
    expect(signTest([0, 0]).p).toBe(1);
  });
  it('large n: the binomial tail in log space equals a direct BigInt sum', () => {
    const n = 200;
    const k = 80;
    const diffs = [...Array(k).fill(-1), ...Array(n - k).fill(1)];
    // independent: exact rational Σ_{i<=k} C(n, i) / 2^n with BigInt
    let c = 1n;
    let s = 0n;
    for (let i = 0; i <= k; i++) {
      s += c;
      c = (c * BigInt(n - i)) / BigInt(i + 1);
    }
    const want = (2 * Number((s * 10n ** 30n) / 2n ** BigInt(n))) / 1e30;
    expect(Math.abs(signTest(diffs).p - want) / want).toBeLessThan(1e-9);
  });
  it('rejects NaN differences naming the index', () => {
    expect(() => signTest([1, NaN])).toThrow(/diffs\[1\]/);
  });
});

describe('wilcoxonSignedRank', () => {
  // Darwin's Zea mays differences (scipy.stats.wilcoxon's documentation): W- = 24, exact p = 0.041259765625.
  const darwin = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75];
  it("Darwin's data: W+ = 96, W- = 24, exact p = 0.041259765625 (scipy's documented value)", () => {
    const t = wilcoxonSignedRank(darwin);
    expect(t.method).toBe('exact');
    expect(t.wPlus).toBe(96);
    expect(t.wMinus).toBe(24);
    expect(t.p).toBe(0.041259765625);
  });
  it('the exact p equals a brute-force enumeration of all 2^15 sign patterns', () => {
    const n = darwin.length; // ranks 1..15 (no ties); W- = 24
    let atMost = 0;
    for (let mask = 0; mask < 1 << n; mask++) {
      let w = 0;
      for (let r = 1; r <= n; r++) if (mask & (1 << (r - 1))) w += r;
      if (w <= 24) atMost++;
    }
    expect(wilcoxonSignedRank(darwin).p).toBe((2 * atMost) / 2 ** n);
  });
  it('ties: average ranks and the normal approximation with the tie correction (derived by hand)', () => {
    // |d| sorted 1,1,2,2,3,3,3,4 -> ranks 1.5,1.5,3.5,3.5,6,6,6,8; W+ = 24.5, W- = 11.5; n = 8,
    // mean 18, variance 8·9·17/24 − (6 + 6 + 24)/48 = 50.25, z = 6.5/√50.25, p = erfc(z/√2) = 0.3591692079538287
    const t = wilcoxonSignedRank([1, 1, 2, -2, 3, 3, 3, -4, 0]);
    expect(t.method).toBe('normal');
    expect(t.n).toBe(8);
    expect(t.wPlus).toBe(24.5);
    expect(t.wMinus).toBe(11.5);
    expect(Math.abs(t.p - 0.3591692079538287) / 0.3591692079538287).toBeLessThan(1e-12);
  });
});

describe('bootstrapMean', () => {
  it('constant data: se 0 and a degenerate interval; deterministic given the seed', () => {
    expect(bootstrapMean([0.5, 0.5, 0.5], 200, 3)).toEqual({ se: 0, low: 0.5, high: 0.5 });
    const xs = Array.from({ length: 50 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    expect(bootstrapMean(xs, 300, 7)).toEqual(bootstrapMean(xs, 300, 7));
  });
  it('the bootstrap se of a mean of 0/1 values is close to the analytic √(p(1−p)/n)', () => {
    const n = 400;
    const xs = Array.from({ length: n }, (_, i) => (i < 300 ? 1 : 0)); // p = 0.75
    const analytic = Math.sqrt((0.75 * 0.25) / n);
    const b = bootstrapMean(xs, 4000, 11);
    // the bootstrap se itself has a relative sampling error of about 1/√(2·4000) ≈ 1.1 %
    expect(Math.abs(b.se - analytic) / analytic).toBeLessThan(0.06);
    expect(b.low).toBeLessThan(0.75);
    expect(b.high).toBeGreaterThan(0.75);
    expect(sampleStd([1, 2, 3, 4])).toBeCloseTo(Math.sqrt(5 / 3), 15);
  });
});

describe('bootstrapSeedMeanAccuracy', () => {
  it('its se is close to the analytic √(Σ_s a_s(1 − a_s)/n)/S of independent binomials', () => {
    const accs = [0.6, 0.8, 0.7];
    const n = 100;
    const analytic = Math.sqrt(accs.reduce((s, a) => s + a * (1 - a), 0) / n) / accs.length;
    const b = bootstrapSeedMeanAccuracy(accs, n, 4000, 5);
    expect(Math.abs(b.se - analytic) / analytic).toBeLessThan(0.06);
    expect(b.low).toBeLessThan(0.7);
    expect(b.high).toBeGreaterThan(0.7);
  });
  it("'shared' coupling: se = √(Var g(U)/n), g(u) = share of seeds with accuracy > u (derived by hand)", () => {
    // accs 0.6, 0.8: g = 1 on [0, 0.6), 1/2 on [0.6, 0.8), 0 above; E g = 0.7, E g² = 0.65, Var = 0.16
    const n = 100;
    const b = bootstrapSeedMeanAccuracy([0.6, 0.8], n, 4000, 9, 'shared');
    expect(Math.abs(b.se - 0.4 / Math.sqrt(n)) / (0.4 / Math.sqrt(n))).toBeLessThan(0.06);
    // identical seeds: the se of one seed, √(a(1 − a)/n), not divided by √S
    const same = bootstrapSeedMeanAccuracy([0.5, 0.5, 0.5, 0.5], n, 4000, 9, 'shared');
    expect(Math.abs(same.se - 0.05) / 0.05).toBeLessThan(0.06);
  });
  it('accuracies 0 and 1 have no spread; no seeds give NaN', () => {
    expect(bootstrapSeedMeanAccuracy([1, 0], 50, 100, 1)).toEqual({ se: 0, low: 0.5, high: 0.5 });
    expect(bootstrapSeedMeanAccuracy([], 50).se).toBeNaN();
  });
});
