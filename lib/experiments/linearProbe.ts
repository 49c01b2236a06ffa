// Linear probing for the standard setting (REFERENCE.md §3.5): an L2-regularised multinomial logistic
// regression on the features entering the output layer (the raw <s> state), with C chosen by stratified
// k-fold cross-validation over a log grid, as sklearn 0.24's
// `LogisticRegressionCV(max_iter=5000, multi_class="multinomial", random_state=0)`:
//   objective  sum_i -log softmax(W x_i + b)[y_i] + ||W||^2 / (2C)   (intercept not penalised),
//   Cs = logspace(-4, 4, 10), StratifiedKFold(5) without shuffling (sklearn's fold allocation),
//   accuracy scoring, mean over folds, first best C, refit on all data warm-started from the mean of the
//   fold solutions at that C. The optimiser is L-BFGS (memory 10) with a backtracking Armijo line search,
//   stopped when max|grad| <= tol or the relative decrease of the objective is <= 2.2e-9 (scipy's
//   L-BFGS-B defaults as sklearn calls them); results match sklearn to the optimiser's tolerance, not bit
//   for bit.
// Head written as the reference does: for 2 classes sklearn's coef_ is the class-1 row w of the symmetric
// 2-class softmax, and the head becomes W = [-w/2, +w/2], b = [-b/2, +b/2]; for C > 2 the rows are used
// as they are.
import { OptionError, InputError } from '../errors.js';

export interface LinearProbeOptions {
  /** Fixed inverse regularisation strength: skips cross-validation. */
  C?: number;
  /** The C grid for cross-validation (default logspace(-4, 4, 10)). */
  Cs?: number[];
  /** Number of stratified folds (default 5). */
  folds?: number;
  /** L-BFGS iteration cap per fit (default 5000). */
  maxIter?: number;
  /** Gradient tolerance, max |grad| of the summed loss (default 1e-4). */
  tol?: number;
}

export interface LinearProbeResult {
  /** Head weight [numClasses][dim] and bias [numClasses], ready for `LmModel.setClassifier`. */
  weight: number[][];
  bias: number[];
  /** The chosen C. */
  C: number;
  /** Mean CV accuracy per C of the grid (empty with a fixed C). */
  cvScores: number[];
  Cs: number[];
  /** Accuracy of the written head on the training features. */
  trainAccuracy: number;
  iterations: number;
  converged: boolean;
}

export const DEFAULT_LP_CS: readonly number[] = Array.from({ length: 10 }, (_, i) => 10 ** (-4 + (8 * i) / 9));

interface Data {
  X: Float64Array; // n x d row-major
  y: Int32Array;
  n: number;
  d: number;
  K: number;
}

/** Loss and gradient of the multinomial objective; w is K x (d + 1) (last column = intercept). */
function lossGrad(data: Data, idx: Int32Array, w: Float64Array, C: number, grad: Float64Array): number {
  const { X, y, d, K } = data;
  const D = d + 1;
  grad.fill(0);
  let loss = 0;
  const z = new Float64Array(K);
  for (const i of idx) {
    const off = i * d;
    let zmax = -Infinity;
    for (let k = 0; k < K; k++) {
      let s = w[k * D + d];
      const wo = k * D;
      for (let j = 0; j < d; j++) s += w[wo + j] * X[off + j];
      z[k] = s;
      if (s > zmax) zmax = s;
    }
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(z[k] - zmax);
    const lse = zmax + Math.log(sum);
    loss += lse - z[y[i]];
    for (let k = 0; k < K; k++) {
      const r = Math.exp(z[k] - lse) - (k === y[i] ? 1 : 0);
      if (r === 0) continue;
      const go = k * D;
      for (let j = 0; j < d; j++) grad[go + j] += r * X[off + j];
      grad[go + d] += r;
    }
  }
  const alpha = 1 / C;
  for (let k = 0; k < K; k++)
    for (let j = 0; j < d; j++) {
      const v = w[k * D + j];
      loss += 0.5 * alpha * v * v;
      grad[k * D + j] += alpha * v;
    }
  return loss;
}

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const maxAbs = (a: Float64Array): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

/** The limited-memory curvature pairs (s, y, 1/sᵀy), newest last. */
interface Memory {
  S: Float64Array[];
  Yv: Float64Array[];
  rho: number[];
}

/** Two-loop recursion: dir = −H g with the memory's inverse-Hessian estimate; steepest descent when it is not a descent direction. */
function searchDirection(g: Float64Array, mem: Memory, dir: Float64Array): number {
  const { S, Yv, rho } = mem;
  const P = g.length;
  const alpha = new Array<number>(S.length);
  for (let i = 0; i < P; i++) dir[i] = -g[i];
  for (let j = S.length - 1; j >= 0; j--) {
    alpha[j] = rho[j] * dot(S[j], dir);
    for (let i = 0; i < P; i++) dir[i] -= alpha[j] * Yv[j][i];
  }
  if (S.length > 0) {
    const last = S.length - 1;
    const gamma = dot(S[last], Yv[last]) / dot(Yv[last], Yv[last]);
    for (let i = 0; i < P; i++) dir[i] *= gamma;
  } else {
    const gn = Math.sqrt(dot(g, g));
    if (gn > 0) for (let i = 0; i < P; i++) dir[i] /= Math.max(1, gn);
  }
  for (let j = 0; j < S.length; j++) {
    const b = rho[j] * dot(Yv[j], dir);
    for (let i = 0; i < P; i++) dir[i] += (alpha[j] - b) * S[j][i];
  }
  const slope = dot(g, dir);
  if (slope < 0) return slope;
  // not a descent direction: reset memory, steepest descent
  S.length = 0;
  Yv.length = 0;
  rho.length = 0;
  for (let i = 0; i < P; i++) dir[i] = -g[i];
  return -dot(g, g);
}

/** Keeps the pair (wNew − w, gNew − g) when its curvature is positive; at most `m` pairs. */
function remember(mem: Memory, w: Float64Array, wNew: Float64Array, g: Float64Array, gNew: Float64Array, m: number): void {
  const P = w.length;
  const s = new Float64Array(P);
  const yv = new Float64Array(P);
  for (let i = 0; i < P; i++) {
    s[i] = wNew[i] - w[i];
    yv[i] = gNew[i] - g[i];
  }
  const sy = dot(s, yv);
  if (!(sy > 1e-12 * Math.sqrt(dot(yv, yv) * dot(s, s)))) return;
  mem.S.push(s);
  mem.Yv.push(yv);
  mem.rho.push(1 / sy);
  if (mem.S.length > m) {
    mem.S.shift();
    mem.Yv.shift();
    mem.rho.shift();
  }
}

/** L-BFGS from w0 (modified in place), backtracking (Armijo) line search. */
function lbfgs(
  data: Data,
  idx: Int32Array,
  w: Float64Array,
  C: number,
  maxIter: number,
  tol: number,
): { iterations: number; converged: boolean } {
  const P = w.length;
  const g = new Float64Array(P);
  let f = lossGrad(data, idx, w, C, g);
  const mem: Memory = { S: [], Yv: [], rho: [] };
  const dir = new Float64Array(P);
  const wNew = new Float64Array(P);
  const gNew = new Float64Array(P);
  for (let it = 0; it < maxIter; it++) {
    if (maxAbs(g) <= tol) return { iterations: it, converged: true };
    const slope = searchDirection(g, mem, dir);
    let step = 1;
    let fNew = Infinity;
    let accepted = false;
    for (let ls = 0; ls < 60 && !accepted; ls++) {
      for (let i = 0; i < P; i++) wNew[i] = w[i] + step * dir[i];
      fNew = lossGrad(data, idx, wNew, C, gNew);
      accepted = Number.isFinite(fNew) && fNew <= f + 1e-4 * step * slope;
      if (!accepted) step *= 0.5;
    }
    if (!accepted) return { iterations: it, converged: false };
    remember(mem, w, wNew, g, gNew, 10);
    const fOld = f;
    w.set(wNew);
    g.set(gNew);
    f = fNew;
    if ((fOld - f) / Math.max(Math.abs(fOld), Math.abs(f), 1) <= 2.220446049250313e-9)
      return { iterations: it + 1, converged: true }; // scipy's ftol stop counts as converged
  }
  return { iterations: maxIter, converged: maxAbs(g) <= tol };
}

function predict(data: Data, idx: Int32Array, w: Float64Array): number[] {
  const { X, d, K } = data;
  const D = d + 1;
  return Array.from(idx, (i) => {
    let best = 0;
    let bestZ = -Infinity;
    for (let k = 0; k < K; k++) {
      let s = w[k * D + d];
      for (let j = 0; j < d; j++) s += w[k * D + j] * X[i * d + j];
      if (s > bestZ) {
        bestZ = s;
        best = k;
      }
    }
    return best;
  });
}

/** sklearn 0.24 StratifiedKFold(n_splits, shuffle=False) test-fold index per sample. */
export function stratifiedFolds(y: readonly number[], nSplits: number): Int32Array {
  const classes = [...new Set(y)].sort((a, b) => a - b);
  const enc = y.map((v) => classes.indexOf(v));
  const sorted = [...enc].sort((a, b) => a - b);
  const nC = classes.length;
  // allocation[i][k] = count of class k in sorted[i::nSplits]
  const alloc: number[][] = Array.from({ length: nSplits }, (_, i) => {
    const row = new Array<number>(nC).fill(0);
    for (let j = i; j < sorted.length; j += nSplits) row[sorted[j]]++;
    return row;
  });
  const folds = new Int32Array(y.length);
  for (let k = 0; k < nC; k++) {
    const assign: number[] = [];
    for (let i = 0; i < nSplits; i++) for (let c = 0; c < alloc[i][k]; c++) assign.push(i);
    let p = 0;
    enc.forEach((e, j) => {
      if (e === k) folds[j] = assign[p++];
    });
  }
  return folds;
}

/** The features as one row-major matrix, checked against the labels. */
function probeData(features: readonly (readonly number[])[], labels: readonly number[], numClasses: number): Data {
  if (!Array.isArray(features) || features.length === 0) throw new InputError('linear probe', 'no training features');
  if (features.length !== labels.length)
    throw new InputError('linear probe', `${features.length} feature rows but ${labels.length} labels`);
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new OptionError('numClasses', 'an integer >= 2', numClasses);
  const d = features[0].length;
  const n = features.length;
  const X = new Float64Array(n * d);
  features.forEach((r, i) => {
    if (r.length !== d) throw new InputError('linear probe', `feature row ${i} has ${r.length} values, expected ${d}`);
    for (let j = 0; j < d; j++) X[i * d + j] = r[j];
  });
  labels.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || l >= numClasses)
      throw new OptionError(`labels[${i}]`, `a label index in [0, ${numClasses - 1}]`, l);
  });
  return { X, y: Int32Array.from(labels), n, d, K: numClasses };
}

const accuracyOn = (data: Data, idx: Int32Array, w: Float64Array): number => {
  const pred = predict(data, idx, w);
  let ok = 0;
  pred.forEach((p, j) => (ok += p === data.y[idx[j]] ? 1 : 0));
  return idx.length > 0 ? ok / idx.length : 0;
};

/**
 * Stratified k-fold CV over the C path (warm starts along it, as sklearn's LogisticRegressionCV): the best
 * mean fold accuracy's C, and the mean of its fold coefficients as the final fit's start.
 */
function crossValidate(data: Data, labels: readonly number[], Cs: number[], nFolds: number, maxIter: number, tol: number) {
  if (!Number.isInteger(nFolds) || nFolds < 2) throw new OptionError('linearProbe.folds', 'an integer >= 2', nFolds);
  if (nFolds > data.n)
    throw new InputError(
      'linear probe',
      `${nFolds}-fold cross-validation needs at least ${nFolds} training examples, got ${data.n}`,
    );
  const P = data.K * (data.d + 1);
  const all = Int32Array.from({ length: data.n }, (_, i) => i);
  const folds = stratifiedFolds(labels, nFolds);
  const sums = new Array<number>(Cs.length).fill(0);
  const foldCoefs: Float64Array[][] = [];
  for (let f = 0; f < nFolds; f++) {
    const trainIdx = Int32Array.from(all.filter((i) => folds[i] !== f));
    const testIdx = Int32Array.from(all.filter((i) => folds[i] === f));
    const wf = new Float64Array(P); // warm start along the C path
    foldCoefs.push(
      Cs.map((c, ci) => {
        lbfgs(data, trainIdx, wf, c, maxIter, tol);
        sums[ci] += accuracyOn(data, testIdx, wf);
        return wf.slice();
      }),
    );
  }
  const cvScores = sums.map((s) => s / nFolds);
  let best = 0;
  for (let i = 1; i < Cs.length; i++) if (cvScores[i] > cvScores[best]) best = i;
  const w = new Float64Array(P);
  for (const coefs of foldCoefs) for (let i = 0; i < P; i++) w[i] += coefs[best][i] / nFolds;
  return { C: Cs[best], cvScores, w };
}

/** The head [K][d] and bias [K] of the fitted coefficients (binary: the reference's [−w/2, +w/2]). */
function headOf(w: Float64Array, d: number, K: number): { weight: number[][]; bias: number[] } {
  const D = d + 1;
  const row = (k: number) => Array.from(w.subarray(k * D, k * D + d));
  if (K === 2) {
    // sklearn: coef_ = row of class 1, intercept_ = its bias; the reference writes [-w/2, +w/2].
    const w1 = row(1);
    const b1 = w[1 * D + d];
    return { weight: [w1.map((v) => -v / 2), w1.map((v) => v / 2)], bias: [-b1 / 2, b1 / 2] };
  }
  return { weight: Array.from({ length: K }, (_, k) => row(k)), bias: Array.from({ length: K }, (_, k) => w[k * D + d]) };
}

/**
 * Fits the linear probe on features [N][dim] with label indices in [0, numClasses) and returns the head.
 */
export function linearProbe(
  features: readonly (readonly number[])[],
  labels: readonly number[],
  numClasses: number,
  opts: LinearProbeOptions = {},
): LinearProbeResult {
  const data = probeData(features, labels, numClasses);
  const maxIter = opts.maxIter ?? 5000;
  const tol = opts.tol ?? 1e-4;
  const Cs = opts.C !== undefined ? [opts.C] : [...(opts.Cs ?? DEFAULT_LP_CS)];
  for (const c of Cs)
    if (typeof c !== 'number' || !(c > 0) || !Number.isFinite(c)) throw new OptionError('linearProbe.C', 'a number > 0', c);
  const cv =
    opts.C !== undefined
      ? { C: opts.C, cvScores: [] as number[], w: new Float64Array(data.K * (data.d + 1)) }
      : crossValidate(data, labels, Cs, opts.folds ?? 5, maxIter, tol);
  const all = Int32Array.from({ length: data.n }, (_, i) => i);
  const r = lbfgs(data, all, cv.w, cv.C, maxIter, tol);
  return {
    ...headOf(cv.w, data.d, data.K),
    C: cv.C,
    cvScores: cv.cvScores,
    Cs,
    trainAccuracy: accuracyOn(data, all, cv.w),
    iterations: r.iterations,
    converged: r.converged,
  };
}
