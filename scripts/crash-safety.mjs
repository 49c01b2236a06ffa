#!/usr/bin/env node
// Crash safety of `lmkernel run`: SIGKILL at random points, then resume.
//
// 1. A reference run, uninterrupted: SST-2 16-shot, seeds 13 and 42, tiny RoBERTa fixture, --max-test 16.
// 2. Each trial starts from an empty folder, launches the same command and kills it with SIGKILL after a
//    random delay (0 .. the reference duration), up to KILLS times, then lets it finish. After every kill
//    every file under the folder must be whole: each results.jsonl line parses, each kernel cache entry
//    (.safetensors; former .lmkc) has its header and exact size, each .json parses. Temporary files of the killed
//    writer may remain (they are never a target); after the final run none may (nor a lock file).
// 3. The final results.jsonl must equal the reference line for line, except the timing fields (time,
//    timings) and the cache fields (kernel_cache: a resumed seed finds its kernels cached).
// 4. Concurrent appenders: APPENDERS processes append LINES lines each to one file through
//    appendLineAtomic; every line must be there once.
//
// Needs dist/ (npm run build:ts), the native addon and the task data (LMK_DATA or ../shared/data). Usage:
//   node scripts/crash-safety.mjs [--trials 8] [--kills 2] [--seed 1] [--json]
// Prints one line per trial and a summary; exit status 1 on any violation.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureModel, kshotDataDir, numberOption, repoRoot as root, tokenizerDirs } from './lib/fixture-setup.mjs';

const argv = process.argv.slice(2);
const opt = (name, def) => numberOption(argv, name, def);
const TRIALS = opt('trials', 8);
const KILLS = opt('kills', 2);
const APPENDERS = opt('appenders', 4);
const LINES = opt('lines', 40);
let rng = opt('seed', Date.now() % 100000);
const seedUsed = rng;
const random = () => (rng = (rng * 1103515245 + 12345) % 2147483648) / 2147483648;
const asJson = argv.includes('--json');

if (!existsSync(join(root, 'dist', 'cli.js'))) {
  console.error('crash-safety: dist/cli.js is missing: run `npm run build:ts` first');
  process.exit(2);
}

const dataDir = kshotDataDir('crash-safety');
const work = mkdtempSync(join(tmpdir(), 'lmk-crash-'));
const modelDir = fixtureModel('roberta', join(work, 'model')).dir;

const args = (out) => [
  join(root, 'bin', 'lmkernel'),
  'run',
  '--task',
  'SST-2',
  '--k',
  '16',
  '--seeds',
  '13,42',
  '--data-dir',
  dataDir,
  '--model',
  modelDir,
  '--tokenizer',
  tokenizerDirs.roberta,
  '--max-test',
  '16',
  '--dtype',
  'float64',
  '--kernel-regularization',
  '0,1e-3',
  '--f0-scaling',
  '0,10',
  '--out',
  out,
  '--quiet',
];
const env = { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '1' };

function runToEnd(out) {
  const r = spawnSync(process.execPath, args(out), { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`lmkernel run failed (${r.status}): ${r.stderr}`);
}

function runAndKill(out, delayMs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args(out), { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL', code, stderr });
    });
  });
}

const TEMP_RE = /\.tmp$/;
/** Every file under `dir`: whole or a violation. Returns {violations, temps, files}. */
function inspect(dir) {
  const violations = [];
  const temps = [];
  let files = 0;
  const walk = (d) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) {
        walk(p);
        continue;
      }
      files++;
      if (TEMP_RE.test(n) || n.endsWith('.lock')) {
        temps.push(p);
        continue;
      }
      const buf = readFileSync(p);
      if (n.endsWith('.jsonl')) {
        const text = buf.toString('utf8');
        if (text.length > 0 && !text.endsWith('\n')) violations.push(`${p}: last line not terminated`);
        text.split('\n').forEach((l, i) => {
          if (l.trim() === '') return;
          try {
            JSON.parse(l);
          } catch {
            violations.push(`${p}:${i + 1}: truncated or invalid JSON line`);
          }
        });
      } else if (n.endsWith('.safetensors')) {
        // u64 LE header length, JSON header, then exactly the bytes its tensors' data_offsets cover
        try {
          const hlen = Number(buf.readBigUInt64LE(0));
          const h = JSON.parse(buf.toString('utf8', 8, 8 + hlen));
          const end = Math.max(0, ...Object.entries(h).map(([k, t]) => (k === '__metadata__' ? 0 : t.data_offsets[1])));
          if (8 + hlen + end !== buf.length) violations.push(`${p}: ${buf.length} bytes, header says ${8 + hlen + end}`);
        } catch {
          violations.push(`${p}: truncated header`);
        }
      } else if (n.endsWith('.lmkc')) {
        if (buf.length < 16 || buf.toString('latin1', 0, 8) !== 'LMKC0001') {
          violations.push(`${p}: bad magic or shorter than 16 bytes`);
          continue;
        }
        const hlen = buf.readUInt32LE(8);
        try {
          const h = JSON.parse(buf.toString('utf8', 16, 16 + hlen));
          const need = 16 + hlen + h.arrays.reduce((s, a) => s + a.length * 8, 0);
          if (need !== buf.length) violations.push(`${p}: ${buf.length} bytes, header says ${need}`);
        } catch {
          violations.push(`${p}: truncated header`);
        }
      } else if (n.endsWith('.json')) {
        try {
          JSON.parse(buf.toString('utf8'));
        } catch {
          violations.push(`${p}: truncated or invalid JSON`);
        }
      }
    }
  };
  walk(dir);
  return { violations, temps, files };
}

const strip = (line) => {
  const { time: _t, timings: _ti, kernel_cache: _k, linear_probe: lp, ...rest } = JSON.parse(line);
  return JSON.stringify({ ...rest, linear_probe: lp ? { ...lp, cache: undefined } : lp });
};
const linesOf = (p) =>
  readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');

const summary = { seed: seedUsed, trials: [], violations: [], appenders: null };
const t0 = Date.now();
const refDir = join(work, 'ref');
runToEnd(join(refDir, 'results.jsonl'));
const refMs = Date.now() - t0;
const ref = linesOf(join(refDir, 'results.jsonl')).map(strip);
if (!asJson)
  console.log(`reference run: ${ref.length} lines in ${refMs} ms (kill delays drawn from 0..${refMs} ms, seed ${seedUsed})`);

for (let t = 0; t < TRIALS; t++) {
  const dir = join(work, `trial-${t}`);
  mkdirSync(dir);
  const out = join(dir, 'results.jsonl');
  const kills = [];
  for (let k = 0; k < KILLS; k++) {
    const delay = Math.round(random() * refMs);
    const r = await runAndKill(out, delay);
    const ins = inspect(dir);
    kills.push({
      delay,
      killed: r.killed,
      linesBefore: existsSync(out) ? linesOf(out).length : 0,
      tempsLeft: ins.temps.length,
      files: ins.files,
    });
    for (const v of ins.violations) summary.violations.push(`trial ${t} after kill ${k} (${delay} ms): ${v}`);
    if (!r.killed && r.code !== 0)
      summary.violations.push(`trial ${t}: run exited ${r.code} before the kill: ${r.stderr.slice(0, 300)}`);
  }
  runToEnd(out);
  const ins = inspect(dir);
  for (const v of ins.violations) summary.violations.push(`trial ${t} final: ${v}`);
  for (const p of ins.temps) summary.violations.push(`trial ${t} final: temporary or lock file left: ${p}`);
  const got = linesOf(out).map(strip);
  const same = got.length === ref.length && got.every((l, i) => l === ref[i]);
  if (!same) summary.violations.push(`trial ${t}: results differ from the reference (${got.length} vs ${ref.length} lines)`);
  summary.trials.push({ trial: t, kills, finalLines: got.length, identical: same });
  if (!asJson)
    console.log(
      `trial ${t}: ${kills.map((k) => `kill@${k.delay}ms${k.killed ? '' : '(finished first)'} lines=${k.linesBefore} temps=${k.tempsLeft}`).join(', ')} -> resumed: ${got.length} lines, identical=${same}, temps left=${ins.temps.length}`,
    );
}

// concurrent appenders through the lock
{
  const file = join(work, 'concurrent.jsonl');
  const code = `import { appendLineAtomic } from ${JSON.stringify(join(root, 'dist', 'io.js'))};
for (let i = 0; i < ${LINES}; i++) appendLineAtomic(${JSON.stringify(file)}, JSON.stringify({ w: process.argv[1], i }));`;
  const procs = Array.from(
    { length: APPENDERS },
    (_, w) =>
      new Promise((resolve) =>
        spawn(process.execPath, ['--input-type=module', '-e', code, String(w)], { stdio: 'inherit' }).on('exit', resolve),
      ),
  );
  const codes = await Promise.all(procs);
  const lines = linesOf(file).map((l) => JSON.parse(l));
  const uniq = new Set(lines.map((l) => `${l.w}/${l.i}`));
  summary.appenders = { processes: APPENDERS, linesEach: LINES, lines: lines.length, unique: uniq.size, exitCodes: codes };
  if (uniq.size !== APPENDERS * LINES || lines.length !== APPENDERS * LINES)
    summary.violations.push(`concurrent appenders: ${lines.length} lines, ${uniq.size} unique, expected ${APPENDERS * LINES}`);
  if (!asJson)
    console.log(`concurrent appenders: ${APPENDERS} processes x ${LINES} lines -> ${lines.length} lines, ${uniq.size} unique`);
}

rmSync(work, { recursive: true, force: true });
if (asJson) console.log(JSON.stringify(summary));
else {
  for (const v of summary.violations) console.log(`VIOLATION ${v}`);
  console.log(
    `crash-safety: ${summary.trials.length} trials, ${summary.trials.reduce((s, t) => s + t.kills.filter((k) => k.killed).length, 0)} SIGKILLs, ${summary.violations.length} violations`,
  );
}
process.exit(summary.violations.length ? 1 : 0);
