// The solvers as the paper's A.3 uses them (docs/solvers.md), each against a value computed here
// independently of lmkernel: kernel logistic regression with f0 (a hand-solved one-example case and the
// optimality conditions on the fixture kernels), the asymmetric LS-SVM with f0 (a dense KKT system with
// explicit feature maps, and the 4n-unknown system on the fixture kernels), multi-class asym (a hand case
// and the fixtures' two-output kernels) and the default lambda = 1.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { run as solveCli } from '../lib/cli/solve.js';
import { DEFAULT_GRIDS, resolveGrid } from '../lib/experiments/index.js';
import { solve, type SolveInput } from '../lib/solvers/index.js';
import { fixtures, flat, maxRelErr } from './helpers/fixtures.js';

const rob = fixtures().roberta;
const trainLabels: number[] = rob.inputs.prompt.train_labels;
const testLabels: number[] = rob.inputs.prompt.test_labels;
const [multi, bin] = [rob.cases[0], rob.cases[1]];

/** Solves A x = b (A row-major n x n) by Gaussian elimination with partial pivoting. */
function gaussSolve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

const zeros = (r: number, c: number) => Array.from({ length: r }, () => new Array<number>(c).fill(0));
/** A [rows x cols] row-major matrix from a flat array. */
const mat = (a: number[], rows: number, cols: number) =>
  Array.from({ length: rows }, (_, i) => a.slice(i * cols, (i + 1) * cols));
/** Largest eigenvalue of a symmetric PSD matrix (= ||K||_op) by power iteration. */
function opNorm(K: number[][]): number {
  let v = K.map((_, i) => 1 + i / K.length);
  let lambda = 0;
  for (let it = 0; it < 5000; it++) {
    const w = K.map((row) => row.reduce((s, x, j) => s + x * v[j], 0));
    const norm = Math.hypot(...w);
    lambda = norm / Math.hypot(...v);
    v = w.map((x) => x / norm);
  }
  return lambda;
}

describe('asymmetric LS-SVM with f0 (He et al. 2022 with a known offset)', () => {
  it('equals the primal KKT system with explicit feature maps (binary)', async () => {
    // phi_s (sign side) and phi_t of 4 train and 3 test points in R^3; K(x, x') = phi_s(x) . phi_t(x')
    const S = [[1, -1, 1], [1, 1, -1], [-1, 1, 1], [1, 1, 1]]; // prettier-ignore
    const G = [[0.3, -0.8, 0.5], [0.9, 0.2, -0.4], [-0.6, 0.7, 0.1], [0.2, 0.5, 0.8]]; // prettier-ignore
    const St = [[1, 1, -1], [-1, -1, 1], [1, -1, -1]]; // prettier-ignore
    const Gt = [[0.5, 0.1, -0.3], [-0.2, 0.9, 0.4], [0.7, -0.5, 0.6]]; // prettier-ignore
    const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
    const labels = [1, 0, 0, 1];
    const y = labels.map((l) => 2 * l - 1);
    const f0 = [0.4, -1.2, 0.3, 0.8];
    const f0x = [-0.5, 0.2, 1.1];
    const [gamma, s, n, d] = [2, 3, 4, 3];
    // Unknowns [omega (d), nu (d), e (n), r (n), alpha (n), beta (n)] of
    // L = omega.nu + gamma/2 |e|^2 + gamma/2 |r|^2 - sum alpha_i (y_i (omega.phi_s(x_i) + f0_i/s) - 1 + e_i)
    //                                            - sum beta_i (y_i (nu.phi_t(x_i) + f0_i/s) - 1 + r_i)
    const N = 2 * d + 4 * n;
    const A = zeros(N, N);
    const b = new Array<number>(N).fill(0);
    const [om, nu, e, r, al, be] = [0, d, 2 * d, 2 * d + n, 2 * d + 2 * n, 2 * d + 3 * n];
    for (let k = 0; k < d; k++) {
      A[om + k][nu + k] = 1; // dL/domega = nu - sum alpha_i y_i phi_s(x_i)
      A[nu + k][om + k] = 1; // dL/dnu = omega - sum beta_i y_i phi_t(x_i)
      for (let i = 0; i < n; i++) {
        A[om + k][al + i] = -y[i] * S[i][k];
        A[nu + k][be + i] = -y[i] * G[i][k];
      }
    }
    for (let i = 0; i < n; i++) {
      A[e + i][e + i] = gamma; // dL/de = gamma e - alpha
      A[e + i][al + i] = -1;
      A[r + i][r + i] = gamma;
      A[r + i][be + i] = -1;
      for (let k = 0; k < d; k++) {
        A[al + i][om + k] = y[i] * S[i][k]; // the constraints
        A[be + i][nu + k] = y[i] * G[i][k];
      }
      A[al + i][e + i] = 1;
      A[be + i][r + i] = 1;
      b[al + i] = b[be + i] = 1 - (y[i] * f0[i]) / s;
    }
    const u = gaussSolve(A, b);
    const omega = u.slice(om, om + d);
    const nuV = u.slice(nu, nu + d);
    // nu.phi_t(x): the test input enters unsigned (the sign is on the training side: the paper's predictor)
    const unsignedTest = Gt.map((g) => dot(nuV, g));
    const signedTest = St.map((st) => dot(omega, st));
    const K = S.map((si) => G.map((gj) => dot(si, gj)));
    const kernel = (rows: number[][], cols: number[][]) => rows.map((a) => [cols.map((c) => [dot(a, c)])]);
    const input: SolveInput = {
      kernelTrainTrain: K.map((row) => [row.map((v) => [v])]),
      kernelTrainTest: kernel(S, Gt), // <sign g(train), g(test)>
      kernelTrainTestFlipped: kernel(G, St), // <g(train), sign g(test)>
      f0Train: f0.map((v) => [v]),
      f0Test: f0x.map((v) => [v]),
      trainLabels: labels,
      testLabels: [1, 0, 1],
      numClasses: 2,
      binary: true,
      solver: 'asym',
    };
    for (const lambda of [1, 0, 0.25]) {
      const want = unsignedTest.map((v, j) => lambda * v + (1 - lambda) * signedTest[j] + f0x[j] / s);
      const got = await solve({ ...input, params: { gamma, lambda, f0Scaling: s } });
      expect(maxRelErr(got.predictions, want)).toBeLessThan(1e-12);
    }
    // the default lambda is 1: omega only
    const dflt = await solve({ ...input, params: { gamma, f0Scaling: s } });
    expect(
      maxRelErr(
        dflt.predictions,
        unsignedTest.map((v, j) => v + f0x[j] / s),
      ),
    ).toBeLessThan(1e-12);
  });

  /** The 4n-unknown system [alpha, beta, e, r] on flattened kernels: +-1 targets per coordinate. */
  function asymBySystem(c: typeof bin, s: number, gamma: number, lambda: number): number[] {
    const C = c.num_logits;
    const k = c.kernels.asymmetric_signgd;
    const [n, m] = [trainLabels.length * C, testLabels.length * C];
    const K = mat(flat(k.train_train), n, n);
    const Kx = mat(flat(k.train_test), n, m);
    const Kf = mat(flat(k.train_test_flipped), n, m);
    const y = trainLabels.flatMap((l) => (C === 1 ? [2 * l - 1] : [...Array(C).keys()].map((cc) => (cc === l ? 1 : -1))));
    const f0 = flat(c.f0_train);
    const f0x = flat(c.f0_test);
    const A = zeros(4 * n, 4 * n);
    const b = new Array<number>(4 * n).fill(0);
    for (let i = 0; i < n; i++) {
      // alpha_i = gamma e_i, beta_i = gamma r_i
      A[2 * n + i][i] = 1;
      A[2 * n + i][2 * n + i] = -gamma;
      A[3 * n + i][n + i] = 1;
      A[3 * n + i][3 * n + i] = -gamma;
      // y_i (sum_j K_ij y_j beta_j + f0_i/s) = 1 - e_i ;  y_i (sum_j K_ji y_j alpha_j + f0_i/s) = 1 - r_i
      for (let j = 0; j < n; j++) {
        A[i][n + j] = y[i] * K[i][j] * y[j];
        A[n + i][j] = y[i] * K[j][i] * y[j];
      }
      A[i][2 * n + i] = 1;
      A[n + i][3 * n + i] = 1;
      b[i] = b[n + i] = 1 - (s > 0 ? (y[i] * f0[i]) / s : 0);
    }
    const u = gaussSolve(A, b);
    return [...Array(m).keys()].map((t) => {
      let omega = 0;
      let nu = 0;
      for (let j = 0; j < n; j++) {
        omega += Kx[j][t] * u[j] * y[j];
        nu += Kf[j][t] * u[n + j] * y[j];
      }
      return lambda * omega + (1 - lambda) * nu + (s > 0 ? f0x[t] / s : 0);
    });
  }

  const fixtureInput = (c: typeof bin): SolveInput => ({
    kernelTrainTrain: c.kernels.asymmetric_signgd.train_train,
    kernelTrainTest: c.kernels.asymmetric_signgd.train_test,
    kernelTrainTestFlipped: c.kernels.asymmetric_signgd.train_test_flipped,
    f0Train: c.f0_train,
    f0Test: c.f0_test,
    trainLabels,
    testLabels,
    numClasses: 2,
    binary: c.binary,
    solver: 'asym',
  });

  it('equals the 4n-unknown system on the fixture kernels: binary and two outputs per example', async () => {
    expect([bin.num_logits, multi.num_logits]).toEqual([1, 2]);
    for (const c of [bin, multi])
      for (const [s, gamma, lambda] of [
        [10, 1, 1],
        [1, 0.1, 0.5],
        [0, 1, 0],
      ]) {
        const got = await solve({ ...fixtureInput(c), params: { f0Scaling: s, gamma, lambda } });
        expect(maxRelErr(got.predictions, asymBySystem(c, s, gamma, lambda))).toBeLessThan(1e-9);
      }
  });

  it('multi-class by hand: one example, two outputs, no cross-output kernel', async () => {
    // alpha_c = beta_c = (1 - y_c f0_c / s) / (1/gamma + K_cc); prediction_c = alpha_c y_c Kx_cc + f0x_c / s
    // label 0: y = (+1, -1); gamma 1, s 2, K = diag(2, 3), Kx = diag(1, 4), f0 = (0.5, -0.2), f0x = (0.1, 0.3)
    // c = 0: (1 - 0.25) / 3 = 0.25 -> 0.25 + 0.05 = 0.3;  c = 1: (1 - 0.1) / 4 = 0.225 -> -0.9 + 0.15 = -0.75
    const diag = (a: number, b: number) => [[[[a, 0]], [[0, b]]]];
    const r = await solve({
      kernelTrainTrain: diag(2, 3),
      kernelTrainTest: diag(1, 4),
      kernelTrainTestFlipped: diag(7, -5),
      f0Train: [[0.5, -0.2]],
      f0Test: [[0.1, 0.3]],
      trainLabels: [0],
      testLabels: [0],
      numClasses: 2,
      binary: false,
      solver: 'asym',
      params: { gamma: 1, f0Scaling: 2 },
    });
    expect(r.predictions[0]).toBeCloseTo(0.3, 14);
    expect(r.predictions[1]).toBeCloseTo(-0.75, 14);
    expect(r.predictedLabels).toEqual([0]);
  });

  it('lmkernel solve: multi-class asym with f0 from a kernel file equals the 4n-unknown system', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmk-solve-a3-'));
    try {
      const input = join(dir, 'multi.json');
      const doc = { num_logits: 2, f0_train: multi.f0_train, f0_test: multi.f0_test, kernels: multi.kernels };
      writeFileSync(input, JSON.stringify({ ...doc, train_labels: trainLabels, test_labels: testLabels }));
      const out = join(dir, 'out.json');
      const flags = ['--solver', 'asym', '--f0-scaling', '10', '--gamma', '0.1'];
      expect(await solveCli(['--input', input, '--out', out, ...flags])).toBe(0);
      const res = JSON.parse(readFileSync(out, 'utf8'));
      expect(maxRelErr(res.predictions, asymBySystem(multi, 10, 0.1, 1))).toBeLessThan(1e-9);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the default grid predicts with omega only (lambda = 1)', () => {
    expect(DEFAULT_GRIDS.asym.lambda).toEqual([1]);
  });
});

describe('kernel logistic regression with f0 (A.3)', () => {
  it('one example by hand: sigma(b + k a) - 1 + mu a = 0, solved by bisection', async () => {
    // K = [k], label 1, offset b = f0/s; mu = lambda * ||K||_op = lambda * k. J(a) = log(1 + e^-(b + k a)) + mu k a^2 / 2.
    const [k, f0, s, lambda, kx, f0x] = [2.5, -1.5, 0.5, 0.1, -0.7, 0.4];
    const [b, mu] = [f0 / s, lambda * k];
    const g = (a: number) => 1 / (1 + Math.exp(-(b + k * a))) - 1 + mu * a;
    let [lo, hi] = [0, 10];
    for (let i = 0; i < 200; i++) [lo, hi] = g((lo + hi) / 2) > 0 ? [lo, (lo + hi) / 2] : [(lo + hi) / 2, hi];
    const a = (lo + hi) / 2;
    const r = await solve({
      kernelTrainTrain: [[[[k]]]],
      kernelTrainTest: [[[[kx]]]],
      f0Train: [[f0]],
      f0Test: [[f0x]],
      trainLabels: [1],
      numClasses: 2,
      binary: true,
      solver: 'logistic',
      params: { kernelRegularization: lambda, f0Scaling: s },
    });
    expect(r.predictions[0]).toBeCloseTo(kx * a + f0x / s, 12);
    expect(r.info.converged).toBe(true);
    expect(r.info.sigmaMax).toBeCloseTo(k, 12);
  });

  /**
   * The optimum of sum CE(softmax(f0/s + K a)) + mu/2 a'Ka satisfies K (p - Y + mu a) = 0, so (K invertible)
   * a = (Y - p) / mu: from the fitted train outputs f alone, f - f0/s = K (Y - p(f)) / mu, and the test
   * outputs are Kx' a + f0x/s.
   */
  async function checkOptimality(c: typeof bin, s: number, lambda: number) {
    const C = c.num_logits;
    const k = c.kernels.sgd;
    const [n, m] = [trainLabels.length * C, testLabels.length * C];
    const K = mat(flat(k.train_train), n, n);
    const Kx = mat(flat(k.train_test), n, m);
    const f0 = flat(c.f0_train);
    const f0x = flat(c.f0_test);
    const mu = lambda * opNorm(K);
    const base: SolveInput = {
      kernelTrainTrain: k.train_train,
      kernelTrainTest: k.train_train,
      f0Train: c.f0_train,
      f0Test: c.f0_train,
      trainLabels,
      numClasses: 2,
      binary: c.binary,
      solver: 'logistic',
      params: { kernelRegularization: lambda, f0Scaling: s },
    };
    const fit = await solve(base);
    expect(fit.info.converged).toBe(true);
    expect(Number(fit.info.sigmaMax)).toBeCloseTo(mu / lambda, 9);
    const f = fit.predictions;
    // p per coordinate: sigmoid of the one output, or softmax over the C outputs of each example
    const p = f.map((_, i) => {
      if (C === 1) return 1 / (1 + Math.exp(-f[i]));
      const ex = i - (i % C);
      const z = f.slice(ex, ex + C);
      return Math.exp(f[i]) / z.reduce((acc, v) => acc + Math.exp(v), 0);
    });
    const Y = trainLabels.flatMap((l) => (C === 1 ? [l] : [...Array(C).keys()].map((cc) => (cc === l ? 1 : 0))));
    const a = Y.map((yv, i) => (yv - p[i]) / mu);
    const off = (v: number) => (s > 0 ? v / s : 0);
    const fitted = K.map((row, i) => row.reduce((acc, v, j) => acc + v * a[j], 0) + off(f0[i]));
    expect(maxRelErr(f, fitted)).toBeLessThan(1e-8);
    const test = await solve({ ...base, kernelTrainTest: k.train_test, f0Test: c.f0_test, testLabels });
    const want = [...Array(m).keys()].map((t) => a.reduce((acc, av, j) => acc + Kx[j][t] * av, 0) + off(f0x[t]));
    expect(maxRelErr(test.predictions, want)).toBeLessThan(1e-8);
    return fit;
  }

  it('binary (one output, f0 offset): the fitted outputs satisfy the optimality conditions', async () => {
    await checkOptimality(bin, 10, 1e-3);
    await checkOptimality(bin, 0, 1e-2);
  });

  it('two outputs per example (softmax over the outputs, f0 offset): the optimality conditions', async () => {
    await checkOptimality(multi, 1, 1e-3);
    await checkOptimality(multi, 100, 1e-1);
  });

  it('refuses lambda = 0 and an asymmetric kernel with a clear message', async () => {
    const base: SolveInput = {
      kernelTrainTrain: bin.kernels.sgd.train_train,
      kernelTrainTest: bin.kernels.sgd.train_test,
      trainLabels,
      numClasses: 2,
      binary: true,
      solver: 'logistic',
    };
    await expect(solve({ ...base, params: { kernelRegularization: 0 } })).rejects.toThrow(
      /kernelRegularization.*> 0 for solver 'logistic'/,
    );
    await expect(
      solve({
        ...base,
        kernelTrainTrain: bin.kernels.asymmetric_signgd.train_train,
        kernelTrainTest: bin.kernels.asymmetric_signgd.train_test,
      }),
    ).rejects.toThrow(/not symmetric.*'asym'/);
    // a run's grid is checked before any kernel is computed
    expect(() => resolveGrid('logistic', { kernelRegularization: [0, 1e-3] })).toThrow(
      /grid.kernelRegularization.*> 0 for solver 'logistic'/,
    );
    expect(resolveGrid('logistic')).toEqual({
      kernelRegularization: [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1],
      f0Scaling: [0, 1, 10, 100, 1000],
    });
  });
});
