// lib/experiments/linearProbe.ts (docs/mutation.md): the cross-validation path (each C's score is the mean
// test-fold accuracy of a fit on the other folds, recomputed here fold by fold), the C grid (numpy's
// logspace(-4, 4, 10) written out), the binary head, the optimiser's stopping rules and its speed (L-BFGS,
// not steepest descent, on an ill-conditioned problem), and every refusal.
import { describe, expect, it } from 'vitest';
import { DEFAULT_LP_CS, linearProbe, stratifiedFolds } from '../lib/experiments/linearProbe.js';
import { InputError, OptionError } from '../lib/errors.js';
import { thrownMessage } from './helpers/thrown.js';

// 3 overlapping classes in 2-D (not separable: the CV accuracies differ between C's)
const X3: number[][] = [];
const y3: number[] = [];
for (let i = 0; i < 45; i++) {
  const c = i % 3;
  const centers = [
    [1, 0],
    [-0.5, 0.9],
    [-0.5, -0.9],
  ];
  X3.push([centers[c][0] + 1.1 * Math.sin(i * 1.7 + 0.3), centers[c][1] + 1.1 * Math.cos(i * 2.3)]);
  y3.push(c);
}

/** The gradient of sum CE + ||W||² / (2C) at a head (intercepts not penalised), computed here. */
function gradient(X: number[][], y: number[], W: number[][], b: number[], C: number): number[] {
  const g = W.map((row) => row.map((v) => v / C));
  const gb = b.map(() => 0);
  X.forEach((x, i) => {
    const z = W.map((w, k) => w.reduce((s, v, j) => s + v * x[j], b[k]));
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, v) => a + v, 0);
    e.forEach((v, k) => {
      const d = v / s - (k === y[i] ? 1 : 0);
      x.forEach((xj, j) => (g[k][j] += d * xj));
      gb[k] += d;
    });
  });
  return [...g.flat(), ...gb];
}
const argmax = (z: number[]) => z.indexOf(Math.max(...z));
const predict = (W: number[][], b: number[], x: number[]) => argmax(W.map((w, k) => w.reduce((s, v, j) => s + v * x[j], b[k])));

describe('linearProbe', () => {
  it("the default C grid is numpy's logspace(-4, 4, 10): 10^(-4 + 8i/9)", () => {
    // the powers to 40 digits (Python's decimal), rounded to float64
    const exact = [
      1e-4, 0.0007742636826811271, 0.0059948425031894105, 0.04641588833612779, 0.35938136638046275, 2.7825594022071245,
      21.544346900318835, 166.81005372000587, 1291.5496650148839, 1e4,
    ];
    expect(DEFAULT_LP_CS).toHaveLength(10);
    DEFAULT_LP_CS.forEach((c, i) => expect(Math.abs(c - exact[i]) / exact[i], String(i)).toBeLessThan(1e-14));
  });

  it('cross-validation: each score is the mean test-fold accuracy of a fit on the other folds; the first best C wins', () => {
    const Cs = [100, 1]; // the best is not the first (0.6 and 29/45)
    const r = linearProbe(X3, y3, 3, { Cs, folds: 3 });
    const folds = stratifiedFolds(y3, 3);
    const want = Cs.map((C) => {
      let sum = 0;
      for (let f = 0; f < 3; f++) {
        const tr = X3.map((_, i) => i).filter((i) => folds[i] !== f);
        const te = X3.map((_, i) => i).filter((i) => folds[i] === f);
        const fit = linearProbe(
          tr.map((i) => X3[i]),
          tr.map((i) => y3[i]),
          3,
          { C, tol: 1e-8 },
        );
        sum += te.filter((i) => predict(fit.weight, fit.bias, X3[i]) === y3[i]).length / te.length;
      }
      return sum / 3;
    });
    expect(r.cvScores).toEqual(want);
    want.forEach((v, i) => expect(v * 45, String(i)).toBeCloseTo([27, 29][i], 9));
    expect(new Set(want).size).toBeGreaterThan(1);
    const best = want.indexOf(Math.max(...want));
    expect(best).toBeGreaterThan(0);
    expect([r.C, r.Cs]).toEqual([Cs[best], Cs]);
    // the final fit on all data at that C is stationary, and its train accuracy is the head's
    for (const v of gradient(X3, y3, r.weight, r.bias, r.C)) expect(Math.abs(v)).toBeLessThan(1e-3);
    expect(r.converged).toBe(true);
    expect(r.trainAccuracy).toBe(X3.filter((x, i) => predict(r.weight, r.bias, x) === y3[i]).length / X3.length);
    // ties: the first C
    const sep = linearProbe([[-2], [-1.5], [-1], [1], [1.5], [2]], [0, 0, 0, 1, 1, 1], 2, { Cs: [1, 10, 100], folds: 3 });
    expect([sep.cvScores, sep.C]).toEqual([[1, 1, 1], 1]);
  });

  it('default grid and folds: 10 scores of 5 folds (multiples of 1/5 · 1/9 averaged)', () => {
    const r = linearProbe(X3, y3, 3);
    expect(r.Cs).toEqual([...DEFAULT_LP_CS]);
    expect(r.cvScores).toHaveLength(10);
    // each fold of 45 stratified examples holds 9: a fold accuracy is a multiple of 1/9
    for (const s of r.cvScores) expect(Math.abs(s * 45 - Math.round(s * 45))).toBeLessThan(1e-9);
  });

  it('binary: the head is [-w/2, +w/2] of the symmetric two-class fit (twice the head is stationary)', () => {
    const X = X3.filter((_, i) => y3[i] < 2);
    const y = y3.filter((v) => v < 2);
    const r = linearProbe(X, y, 2, { C: 0.7 });
    expect(r.weight[0].map((v) => -v)).toEqual(r.weight[1]);
    expect(r.bias[0]).toBe(-r.bias[1]);
    expect(Math.abs(r.weight[1][0])).toBeGreaterThan(0.1);
    const W = r.weight.map((row) => row.map((v) => 2 * v));
    const b = r.bias.map((v) => 2 * v);
    for (const v of gradient(X, y, W, b, 0.7)) expect(Math.abs(v)).toBeLessThan(1e-3);
    expect(r.cvScores).toEqual([]);
  });

  it('stratified folds use the sorted classes, whatever order they first appear in', () => {
    // by hand, as sklearn 0.24: classes [0, 1], sorted codes [0, 1, 1, 1]; fold 0 takes codes 0 and 2 (one
    // of each class), fold 1 codes 1 and 3 (two of class 1): class 0 -> fold 0; class 1 -> folds 0, 1, 1
    expect(Array.from(stratifiedFolds([1, 1, 1, 0], 2))).toEqual([0, 1, 1, 0]);
  });

  it('L-BFGS speed on an ill-conditioned problem (feature scales 1 and 30): few iterations, stationary', () => {
    const X = X3.map(([a, b]) => [a, 30 * b]);
    const r = linearProbe(X, y3, 3, { C: 10, tol: 1e-6 });
    expect(r.converged).toBe(true);
    // measured: 35 iterations; steepest descent (every L-BFGS direction mutant) needs far more
    expect(r.iterations).toBeLessThanOrEqual(60);
    // (stopped by the relative decrease: the feature scaled by 30 has a gradient 30 times larger)
    for (const v of gradient(X, y3, r.weight, r.bias, 10)) expect(Math.abs(v)).toBeLessThan(1e-2);
  });

  it('stopping: maxIter caps the iterations (not converged); a huge tol stops at once at zero', () => {
    const one = linearProbe(X3, y3, 3, { C: 1, maxIter: 1 });
    expect([one.iterations, one.converged]).toEqual([1, false]);
    const none = linearProbe(X3, y3, 3, { C: 1, maxIter: 0 });
    expect([none.iterations, none.converged, none.weight.flat().every((v) => v === 0)]).toEqual([0, false, true]);
    const done = linearProbe(X3, y3, 3, { C: 1, tol: 1e6 });
    expect([done.iterations, done.converged, done.bias]).toEqual([0, true, [0, 0, 0]]);
    // all logits 0: ties go to the first class (2 of the 3 examples here)
    expect(linearProbe([[1], [2], [3]], [0, 0, 1], 2, { C: 1, tol: 1e6 }).trainAccuracy).toBe(2 / 3);
    // the default tolerance: max |gradient| <= 1e-4 or a relative decrease <= 2.2e-9
    const def = linearProbe(X3, y3, 3, { C: 1 });
    expect(def.converged).toBe(true);
    for (const v of gradient(X3, y3, def.weight, def.bias, 1)) expect(Math.abs(v)).toBeLessThan(1e-3);
  });

  it('refuses bad features, labels, class counts, C values and fold counts, naming them', () => {
    const msg = thrownMessage;
    expect(msg(() => linearProbe([], [], 2), InputError)).toBe('linear probe: no training features');
    expect(msg(() => linearProbe([[1], [2]], [0], 2), InputError)).toBe('linear probe: 2 feature rows but 1 labels');
    expect(msg(() => linearProbe([[1], [2]], [0, 1], 1), OptionError)).toBe(
      "option 'numClasses': expected an integer >= 2, received 1",
    );
    expect(msg(() => linearProbe([[1], [2]], [0, 1], 2.5), OptionError)).toBe(
      "option 'numClasses': expected an integer >= 2, received 2.5",
    );
    expect(msg(() => linearProbe([[1, 2], [3]], [0, 1], 2), InputError)).toBe(
      'linear probe: feature row 1 has 1 values, expected 2',
    );
    expect(msg(() => linearProbe([[1], [2]], [0, 2], 2), OptionError)).toBe(
      "option 'labels[1]': expected a label index in [0, 1], received 2",
    );
    expect(msg(() => linearProbe([[1], [2]], [-1, 0], 2), OptionError)).toBe(
      "option 'labels[0]': expected a label index in [0, 1], received -1",
    );
    expect(msg(() => linearProbe([[1], [2]], [0.5, 0], 2), OptionError)).toBe(
      "option 'labels[0]': expected a label index in [0, 1], received 0.5",
    );
    for (const C of [0, -1, Infinity, NaN])
      expect(
        msg(() => linearProbe([[1], [2]], [0, 1], 2, { C }), OptionError),
        String(C),
      ).toMatch(/^option 'linearProbe\.C': expected a number > 0, received /);
    expect(msg(() => linearProbe([[1], [2]], [0, 1], 2, { Cs: [1, 0] }), OptionError)).toBe(
      "option 'linearProbe.C': expected a number > 0, received 0",
    );
    expect(msg(() => linearProbe([[1], [2]], [0, 1], 2, { Cs: ['1' as unknown as number] }), OptionError)).toBe(
      `option 'linearProbe.C': expected a number > 0, received "1"`,
    );
    expect(msg(() => linearProbe([[1], [2]], [0, 1], 2, { folds: 1 }), OptionError)).toBe(
      "option 'linearProbe.folds': expected an integer >= 2, received 1",
    );
    expect(msg(() => linearProbe([[1], [2]], [0, 1], 2, { folds: 2.5 }), OptionError)).toBe(
      "option 'linearProbe.folds': expected an integer >= 2, received 2.5",
    );
    expect(msg(() => linearProbe([[1], [2], [3]], [0, 1, 0], 2, { folds: 4 }), InputError)).toBe(
      'linear probe: 4-fold cross-validation needs at least 4 training examples, got 3',
    );
    // exactly as many examples as folds is allowed
    expect(linearProbe([[1], [2], [3], [4]], [0, 1, 0, 1], 2, { folds: 4, Cs: [1] }).cvScores).toHaveLength(1);
  });
});
