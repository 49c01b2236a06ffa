#!/usr/bin/env node
// Re-checks Stryker's *static* mutants outside Stryker (docs/mutation.md). A static mutant changes code that
// runs once, when a module is loaded (a constant list, a regular expression); Stryker's vitest runner keeps
// modules loaded between mutants, so such a mutant is never active and is always reported "Survived".
// This script applies each static Survived / NoCoverage / Ignored (`--ignoreStatic`) mutant of a Stryker
// JSON report to a copy of the repository under $LMK_MUTATE_DIR/static (default /tmp/lmk-mutate/static),
// runs the unit test files there (`vitest run --bail 1`), and records killed / survived. The checkout is
// only read.
//
//   node scripts/mutate-static.mjs [--alive] [REPORT (reports/mutation/mutation.json)] [OUT (reports/mutation/static.json)]
//
// --alive: every Survived / NoCoverage mutant of the report, static or not (a re-check after new tests:
// each was type-checked by Stryker already, so this is faster than a Stryker re-run). A test run past
// $LMK_MUTATE_TIMEOUT_S seconds (default 120) counts as killed (a timeout, as in Stryker).
//
// Test files: those of the default unit list of stryker.config.mjs that import the mutated module. Exit
// status 0 when no static mutant survived.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const alive = argv[0] === '--alive';
if (alive) argv.shift();
const reportPath = resolve(argv[0] ?? join(root, 'reports/mutation/mutation.json'));
const outPath = resolve(argv[1] ?? join(root, 'reports/mutation/static.json'));
const timeoutMs = 1000 * Number(process.env.LMK_MUTATE_TIMEOUT_S ?? 120);
const work = join(process.env.LMK_MUTATE_DIR ?? '/tmp/lmk-mutate', 'static');
if (work === root || work.startsWith(root + '/')) throw new Error('mutate-static: LMK_MUTATE_DIR must be outside the checkout');

const config = (await import(join(root, 'stryker.config.mjs'))).default;
const testFiles = config.testFiles.length > 0 ? config.testFiles : ['test'];
const report = JSON.parse(readFileSync(reportPath, 'utf8'));

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
for (const p of ['lib', 'test', 'bin', 'models', 'package.json', 'tsconfig.json', 'vitest.config.ts'])
  if (existsSync(join(root, p))) cpSync(join(root, p), join(work, p), { recursive: true });
symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'));

// The test files that import the module directly (all of them when none does): a static mutant one of them
// kills is killed; one they all miss is counted as surviving even if an indirect import might kill it.
const testsOf = (file) => {
  const spec = file.replace(/^lib\//, '').replace(/\.ts$/, '.js');
  const direct = testFiles.filter(
    (t) => existsSync(join(root, t)) && readFileSync(join(root, t), 'utf8').includes(`lib/${spec}'`),
  );
  return direct.length > 0 ? direct : testFiles;
};

const results = [];
let killed = 0;
let survived = 0;
for (const [file, entry] of Object.entries(report.files)) {
  const target = join(work, file);
  const original = readFileSync(target, 'utf8');
  const lines = original.split('\n');
  // line and column are 1-based, the end column exclusive
  const offset = (l, c) => lines.slice(0, l - 1).reduce((n, s) => n + s.length + 1, 0) + c - 1;
  for (const m of entry.mutants) {
    if (
      alive
        ? !['Survived', 'NoCoverage'].includes(m.status)
        : !m.static || !['Survived', 'NoCoverage', 'Ignored'].includes(m.status)
    )
      continue;
    const a = offset(m.location.start.line, m.location.start.column);
    const b = offset(m.location.end.line, m.location.end.column);
    writeFileSync(target, original.slice(0, a) + m.replacement + original.slice(b));
    const r = spawnSync(join(work, 'node_modules', '.bin', 'vitest'), ['run', '--bail', '1', ...testsOf(file)], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
      timeout: timeoutMs,
      killSignal: 'SIGTERM',
    });
    const status = r.status === 0 ? 'Survived' : r.error || r.signal ? 'Timeout' : 'Killed';
    if (status !== 'Survived') killed++;
    else survived++;
    results.push({ file, id: m.id, location: m.location, mutatorName: m.mutatorName, replacement: m.replacement, status });
    console.log(`${file}:${m.location.start.line}:${m.location.start.column} ${m.mutatorName} ${status}`);
  }
  writeFileSync(target, original);
}
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(
  outPath,
  JSON.stringify({ date: new Date().toISOString(), report: reportPath, testFiles, results }, null, 1) + '\n',
);
console.log(
  `mutate-static: ${killed + survived} ${alive ? 'alive' : 'static'} mutants: ${killed} killed, ${survived} survived (${outPath})`,
);
process.exit(survived === 0 ? 0 : 1);
