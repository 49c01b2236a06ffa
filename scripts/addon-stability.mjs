#!/usr/bin/env node
// Addon stability in one process on the tiny RoBERTa fixture:
//   1. N (default 100) consecutive kernel calls (sgd + signgd, 8 train x 8 test): the resident set size
//      (process.memoryUsage().rss, after a GC when --expose-gc) must stay within TOL (default 5%) of its
//      value after WARMUP calls (default 5). Prints the RSS series.
//   2. A call cancelled mid-way rejects with AbortError and the next call gives the same kernels.
//   3. Two calls in flight at once give the same kernels as one at a time.
// Needs dist/ (npm run build:ts) and the native addon. Exit status 1 on any failure.
//   node --expose-gc scripts/addon-stability.mjs [--calls 100] [--warmup 5] [--tol 0.05] [--json]
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fixtureModel, numberOption, repoRoot as root } from './lib/fixture-setup.mjs';

const argv = process.argv.slice(2);
const CALLS = numberOption(argv, 'calls', 100);
const WARMUP = numberOption(argv, 'warmup', 5);
const TOL = numberOption(argv, 'tol', 0.05);
const asJson = argv.includes('--json');
const { loadModel } = await import(pathToFileURL(join(root, 'dist', 'index.js')).href);

const { dir, fx } = fixtureModel('roberta');
const P = fx.inputs.prompt;
const opts = { train: P.train, test: P.test, labelWordIds: fx.label_word_ids, formulas: ['sgd', 'signgd'], batchSize: 4 };
const failures = [];
const gc = globalThis.gc ?? (() => {});

const m = await loadModel(dir, { dtype: 'float64' });
const first = await m.kernels(opts);
const same = (a, b) => {
  const x = a.kernels.sgd.trainTest.data,
    y = b.kernels.sgd.trainTest.data;
  const s = a.kernels.signgd.trainTrain.data,
    t = b.kernels.signgd.trainTrain.data;
  return x.length === y.length && x.every((v, i) => v === y[i]) && s.every((v, i) => v === t[i]);
};

// 1. RSS over consecutive calls
const rss = [];
for (let i = 0; i < CALLS; i++) {
  const r = await m.kernels(opts);
  if (i === CALLS - 1 && !same(r, first)) failures.push('the last call gave different kernels than the first');
  gc();
  rss.push(process.memoryUsage().rss);
}
const ref = rss[Math.min(WARMUP, rss.length) - 1];
const maxDev = Math.max(...rss.slice(WARMUP).map((v) => Math.abs(v - ref) / ref), 0);
const mb = (v) => Math.round((v / 1048576) * 10) / 10;
if (maxDev > TOL)
  failures.push(`RSS moved ${(maxDev * 100).toFixed(1)}% from ${mb(ref)} MB after call ${WARMUP} (tolerance ${TOL * 100}%)`);

// 2. cancellation mid-way, then the addon is usable
const ac = new AbortController();
let progressCalls = 0;
let cancelled = false;
try {
  await m.kernels({
    ...opts,
    batchSize: 1,
    signal: ac.signal,
    onProgress: () => {
      if (++progressCalls === 2) ac.abort();
    },
  });
} catch (e) {
  cancelled = e?.name === 'AbortError';
  if (!cancelled) failures.push(`the cancelled call rejected with ${e?.name}: ${e?.message}`);
}
if (!cancelled) failures.push('the cancelled call did not reject with AbortError');
if (!same(await m.kernels(opts), first)) failures.push('the call after a cancellation gave different kernels');

// 3. two calls in flight at once
const [a, b] = await Promise.all([m.kernels(opts), m.kernels({ ...opts, batchSize: 3 })]);
if (!same(a, first)) failures.push('concurrent call A differs from the sequential result');
for (let i = 0; i < b.kernels.sgd.trainTest.data.length; i++)
  if (
    Math.abs(b.kernels.sgd.trainTest.data[i] - first.kernels.sgd.trainTest.data[i]) >
    1e-9 * Math.max(1, Math.abs(first.kernels.sgd.trainTest.data[i]))
  ) {
    failures.push('concurrent call B (batch 3) differs from the sequential result');
    break;
  }

const result = { calls: CALLS, warmup: WARMUP, rssMB: rss.map(mb), refMB: mb(ref), maxDeviation: maxDev, cancelled, failures };
if (asJson) console.log(JSON.stringify(result));
else {
  console.log(`RSS (MB) after each of ${CALLS} kernel calls: ${rss.map(mb).join(' ')}`);
  console.log(
    `RSS after call ${WARMUP}: ${mb(ref)} MB; after call ${CALLS}: ${mb(rss[rss.length - 1])} MB; max deviation after warm-up ${(maxDev * 100).toFixed(2)}%`,
  );
  console.log(
    `cancel mid-way: ${cancelled ? 'AbortError, addon usable after' : 'FAILED'}; two calls in flight: ${failures.some((f) => f.startsWith('concurrent')) ? 'FAILED' : 'correct'}`,
  );
  for (const f of failures) console.log(`FAIL ${f}`);
}
process.exit(failures.length ? 1 : 0);
