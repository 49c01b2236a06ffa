#!/usr/bin/env node
// Benchmark (not a test): the whole lstsq lambda x s grid on a random PSD kernel the size of a 512-shot
// SST-2 problem (1024 train examples x 2 logits = 2048 x 2048 flattened; 872 test examples x 2 logits),
// with the fast path (one eigendecomposition shared by the grid), one gelsy solve per lambda, and the
// reference's one gelsy solve per grid point (the baseline; timed on a few points and extrapolated unless
// --full-baseline). Usage: node scripts/bench-solvers.mjs [--n 2048] [--m 1744] [--full-baseline]
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

process.env.OPENBLAS_NUM_THREADS ??= '1'; // one BLAS thread unless set (lib/addon/load.ts defaults to the core count)
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = createRequire(import.meta.url)('node-gyp-build')(root);

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const n = arg('n', 2048);
const m = arg('m', 1744);
const rankD = arg('d', 256);
const fullBaseline = process.argv.includes('--full-baseline');
const lambdas = [0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1];
const scales = [0, 1, 10, 100, 1000];

// Deterministic random features -> K = A A^T / d + 1e-6 I (PSD, ill-conditioned), Kx = A B^T / d.
let seed = 12345;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648 - 0.5;
};
const A = Float64Array.from({ length: n * rankD }, rand);
const B = Float64Array.from({ length: m * rankD }, rand);
const K = new Float64Array(n * n);
for (let i = 0; i < n; i++)
  for (let j = 0; j <= i; j++) {
    let s = 0;
    for (let k = 0; k < rankD; k++) s += A[i * rankD + k] * A[j * rankD + k];
    K[i * n + j] = K[j * n + i] = s / rankD + (i === j ? 1e-6 : 0);
  }
const Kx = new Float64Array(n * m);
for (let i = 0; i < n; i++)
  for (let j = 0; j < m; j++) {
    let s = 0;
    for (let k = 0; k < rankD; k++) s += A[i * rankD + k] * B[j * rankD + k];
    Kx[i * m + j] = s / rankD;
  }
const targets = Float64Array.from({ length: n }, (_, i) => (i % 2 === Math.floor(i / 2) % 2 ? 1 : 0));
const f0 = Float64Array.from({ length: n }, rand);
const f0Test = Float64Array.from({ length: m }, rand);

async function time(method, ls, ss) {
  const t0 = performance.now();
  const r = await addon.solveLstsqGrid({ n, m, kernel: K, kernelTest: Kx, targets, f0, f0Test, lambdas: ls, scales: ss, method });
  return { seconds: (performance.now() - t0) / 1000, r };
}

console.log(
  `lstsq grid: K ${n}x${n}, Kx ${n}x${m}, ${lambdas.length} lambdas x ${scales.length} scales = ${lambdas.length * scales.length} points`,
);
console.log(
  `machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, libtorch ${addon.torchVersion}, OPENBLAS_NUM_THREADS=${process.env.OPENBLAS_NUM_THREADS}`,
);
const fast = await time('auto', lambdas, scales);
console.log(`fast path (${fast.r.method}, whole grid, one call): ${fast.seconds.toFixed(2)} s`);
const perLambda = await time('per-lambda', lambdas, scales);
console.log(`per-lambda gelsy (${lambdas.length} solves, 2 rhs): ${perLambda.seconds.toFixed(2)} s`);
let maxDiff = 0;
let scale = 0;
for (let i = 0; i < fast.r.predictions.length; i++) {
  maxDiff = Math.max(maxDiff, Math.abs(fast.r.predictions[i] - perLambda.r.predictions[i]));
  scale = Math.max(scale, Math.abs(perLambda.r.predictions[i]));
}
console.log(
  `  fast vs per-lambda: max relative difference ${(maxDiff / scale).toExponential(2)} (ranks ${fast.r.ranks.filter((_, i) => i % scales.length === 0).join(',')} vs ${perLambda.r.ranks.filter((_, i) => i % scales.length === 0).join(',')})`,
);
if (fullBaseline) {
  const base = await time('per-point', lambdas, scales);
  console.log(`baseline per-point gelsy (${lambdas.length * scales.length} solves): ${base.seconds.toFixed(2)} s`);
} else {
  const sub = await time('per-point', [lambdas[3]], scales.slice(0, 2));
  const est = (sub.seconds / 2) * lambdas.length * scales.length;
  console.log(
    `baseline per-point gelsy: ${(sub.seconds / 2).toFixed(2)} s per point -> ~${est.toFixed(1)} s for the grid (extrapolated from 2 points; --full-baseline to time all)`,
  );
}
