#!/usr/bin/env node
// Benchmark (not a test): one kernel logistic regression fit with f0 (solver `logistic`, docs/solvers.md)
// on a random PSD kernel over N examples x C outputs, the sizes of the paper's multi-class problems
// (SST-5 16-shot: N 80, C 5; 64-shot: N 320). Each fit is timed after a warm-up call (the first call
// loads the addon). Usage: node scripts/bench-kernel-logistic.mjs [--sizes 32x2,80x5,320x5] [--lambda 1e-4]
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = createRequire(import.meta.url)('node-gyp-build')(root);
const flag = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};
const sizes = flag('sizes', '32x2,80x5,320x5')
  .split(',')
  .map((s) => s.split('x').map(Number));
const lambda = Number(flag('lambda', '1e-4'));

function problem(N, C, d = 64) {
  let s = (N * 7919 + C) >>> 0;
  const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const n = N * C;
  const G = Array.from({ length: n }, () => Float64Array.from({ length: d }, rnd));
  const K = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let v = 0;
      for (let k = 0; k < d; k++) v += G[i][k] * G[j][k];
      K[i * n + j] = v / d;
    }
  const targets = new Float64Array(n);
  for (let i = 0; i < N; i++) targets[i * C + (i % C)] = 1;
  const f0 = Float64Array.from({ length: n }, rnd);
  return { n, m: n, kernel: K, kernelTest: K, targets, f0, f0Test: f0, numOutputs: C, scale: 1, regularization: lambda };
}

await addon.solveKernelLogistic(problem(2, 2));
for (const [N, C] of sizes) {
  const p = problem(N, C);
  const t0 = performance.now();
  const r = await addon.solveKernelLogistic(p);
  const s = (performance.now() - t0) / 1000;
  console.log(`N ${N} x C ${C} (n ${p.n}): ${s.toFixed(2)} s, ${r.iterations} Newton steps, converged ${r.converged}`);
}
