#!/usr/bin/env node
// Counts the outcome of a CI run (.ci/run) and prints `N passed, N failed` as its last line.
//
//   node scripts/ci-count.mjs --vitest REPORT.json --vitest-rc RC --ctest-log LOG --ctest-rc RC \
//     [--check NAME=RC ...]
//
// Every way a run can go wrong counts as a failure:
// - vitest: a failed test; a test file that failed without a failed test (it did not load, or a
//   beforeAll/afterAll hook threw); a skipped or todo test (CI has the task data and must run every test);
//   no tests at all; a missing or unreadable JSON report; a non-zero exit or `success: false` that none
//   of the above explains.
// - ctest: a test that did not pass (Failed, Not Run, Timeout, Exception); no summary line (no tests
//   found, no build folder); tests announced in the summary but missing from the log; a missing log; a
//   non-zero exit that none of the above explains.
// - each --check (lint, typecheck, format): one test, passed when its exit status is 0.
// Exit status: 1 when anything failed, else 0.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Counts a vitest JSON report (`--reporter=json`); `report` null = missing. */
export function countVitest(report, rc) {
  const problems = [];
  let passed = 0;
  let failed = 0;
  if (!report || typeof report !== 'object') {
    return { passed, failed: 1, problems: ['vitest: no JSON report (vitest did not run or crashed)'] };
  }
  const files = Array.isArray(report.testResults) ? report.testResults : [];
  for (const f of files) {
    const tests = Array.isArray(f.assertionResults) ? f.assertionResults : [];
    let notPassed = 0;
    for (const t of tests) {
      if (t.status === 'passed') passed++;
      else {
        notPassed++;
        if (t.status !== 'failed') problems.push(`vitest: ${t.status} (not run): ${f.name} > ${t.fullName ?? t.title}`);
      }
    }
    failed += notPassed;
    if (f.status !== 'passed' && !tests.some((t) => t.status === 'failed')) {
      // a file that did not load, or a hook that threw (its tests, if any, are reported as skipped)
      if (notPassed === 0) failed++;
      const why = tests.length === 0 ? 'failed to load or has no tests' : 'failed outside its tests (a hook threw)';
      problems.push(`vitest: test file ${why}: ${f.name}${f.message ? `: ${String(f.message).split('\n')[0]}` : ''}`);
    }
  }
  if (files.length === 0 && Number(report.numFailedTests) > 0) failed += Number(report.numFailedTests);
  if (passed + failed === 0) {
    failed++;
    problems.push('vitest: no tests ran');
  }
  if (failed === 0 && (rc !== 0 || report.success !== true)) {
    failed++;
    problems.push(`vitest: exit status ${rc}, success ${report.success}, but no failed test in the report`);
  }
  return { passed, failed, problems };
}

const CTEST_LINE = /^\s*\d+\/\d+\s+Test\s+#\d+:\s+(\S+)\s+\.*\s*(.*?)\s+[\d.]+\s+sec\s*$/;

/** Counts a ctest log (`ctest --output-on-failure` output); `log` null = missing. */
export function countCtest(log, rc) {
  const problems = [];
  let passed = 0;
  let failed = 0;
  if (log === null || log === undefined) return { passed, failed: 1, problems: ['ctest: no log (ctest did not run)'] };
  for (const line of log.split('\n')) {
    const m = CTEST_LINE.exec(line);
    if (!m) continue;
    if (/^Passed$/.test(m[2])) passed++;
    else {
      failed++;
      problems.push(`ctest: ${m[1]}: ${m[2].replace(/\*+/g, ' ').trim()}`);
    }
  }
  const summary = /tests? failed out of (\d+)/.exec(log);
  if (!summary) {
    failed++;
    problems.push(
      /No tests were found/.test(log)
        ? 'ctest: no tests were found'
        : 'ctest: no summary line (build folder missing or ctest failed to start)',
    );
  } else if (passed + failed < Number(summary[1])) {
    const missing = Number(summary[1]) - passed - failed;
    failed += missing;
    problems.push(`ctest: ${missing} test(s) in the summary but not in the log`);
  }
  if (failed === 0 && rc !== 0) {
    failed++;
    problems.push(`ctest: exit status ${rc} but no failed test in the log`);
  }
  return { passed, failed, problems };
}

/** Adds up vitest, ctest and the checks; `lines` ends with `N passed, N failed`. */
export function countRun({ vitestReport, vitestRc, ctestLog, ctestRc, checks = [] }) {
  const v = countVitest(vitestReport, vitestRc);
  const c = countCtest(ctestLog, ctestRc);
  const failedChecks = checks.filter((k) => k.rc !== 0);
  const passed = v.passed + c.passed + checks.length - failedChecks.length;
  const failed = v.failed + c.failed + failedChecks.length;
  const lines = [
    ...v.problems,
    ...c.problems,
    ...failedChecks.map((k) => `${k.name}: exit status ${k.rc}`),
    `vitest: ${v.passed} passed, ${v.failed} failed; ctest: ${c.passed} passed, ${c.failed} failed; ` +
      `checks: ${checks.map((k) => `${k.name} ${k.rc === 0 ? 'ok' : 'FAILED'}`).join(', ') || 'none'}`,
    `${passed} passed, ${failed} failed`,
  ];
  return { passed, failed, lines };
}

function parseArgs(argv) {
  const o = { checks: [] };
  const rcOf = (s, flag) => {
    if (!/^-?\d+$/.test(s ?? '')) throw new Error(`${flag}: expected an exit status, received ${JSON.stringify(s)}`);
    return Number(s);
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, val] = [argv[i], argv[i + 1]];
    i++;
    if (flag === '--vitest') o.vitest = val;
    else if (flag === '--vitest-rc') o.vitestRc = rcOf(val, flag);
    else if (flag === '--ctest-log') o.ctestLog = val;
    else if (flag === '--ctest-rc') o.ctestRc = rcOf(val, flag);
    else if (flag === '--check') {
      const m = /^([\w-]+)=(-?\d+)$/.exec(val ?? '');
      if (!m) throw new Error(`--check: expected NAME=RC, received ${JSON.stringify(val)}`);
      o.checks.push({ name: m[1], rc: Number(m[2]) });
    } else throw new Error(`unknown option ${JSON.stringify(flag)}`);
  }
  for (const k of ['vitest', 'vitestRc', 'ctestLog', 'ctestRc'])
    if (o[k] === undefined) throw new Error(`missing option for ${k}`);
  return o;
}

function readJson(p) {
  try {
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch {
    return null;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`ci-count: ${e.message}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  const r = countRun({
    vitestReport: readJson(o.vitest),
    vitestRc: o.vitestRc,
    ctestLog: existsSync(o.ctestLog) ? readFileSync(o.ctestLog, 'utf8') : null,
    ctestRc: o.ctestRc,
    checks: o.checks,
  });
  for (const l of r.lines) console.log(l);
  process.exit(r.failed > 0 ? 1 : 0);
}
