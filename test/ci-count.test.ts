// scripts/ci-count.mjs, the counter behind .ci/run's last line: every way a run can fail is counted.
// The reports below have the shape vitest 4's JSON reporter and ctest 3.25 write (taken from real runs:
// a file whose import fails, a describe whose beforeAll throws, skipped/todo tests, ctest with a failed,
// a missing, a timed-out and an aborted test).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countCtest, countRun, countVitest } from '../scripts/ci-count.mjs';
import { repoRoot } from './helpers/fixtures.js';

const test = (title: string, status: string) => ({ ancestorTitles: [], fullName: title, title, status, failureMessages: [] });
const file = (name: string, status: string, tests: object[], message = '') => ({
  name,
  status,
  message,
  assertionResults: tests,
});
const report = (files: object[], success: boolean) => ({ numTotalTests: 9, numFailedTestSuites: 0, success, testResults: files });

const allPassed = report([file('/r/test/a.test.ts', 'passed', [test('one', 'passed'), test('two', 'passed')])], true);
const ctestPassed = [
  'Test project /r/build',
  '    Start 1: test_a',
  '1/2 Test #1: test_a ...........................   Passed    0.51 sec',
  '    Start 2: test_b',
  '2/2 Test #2: test_b ...........................   Passed   12.03 sec',
  '',
  '100% tests passed, 0 tests failed out of 2',
].join('\n');
const ctestFailed = [
  'Test project /r/build',
  '1/5 Test #1: ok ...............................   Passed    0.00 sec',
  '2/5 Test #2: bad ..............................***Failed    0.00 sec',
  'Unable to find executable: /nonexistent',
  '3/5 Test #3: missing ..........................***Not Run   0.00 sec',
  '4/5 Test #4: slow .............................***Timeout   2.00 sec',
  '5/5 Test #5: abrt .............................Subprocess aborted***Exception:   0.00 sec',
  '',
  '20% tests passed, 4 tests failed out of 5',
].join('\n');

describe('countVitest', () => {
  it('a clean report counts its tests', () => {
    expect(countVitest(allPassed, 0)).toEqual({ passed: 2, failed: 0, problems: [] });
  });

  it('a test file that fails to load is one failure, named with its error', () => {
    const r = countVitest(
      report([...allPassed.testResults, file('/r/test/b.test.ts', 'failed', [], "Cannot find module './x.js'")], false),
      1,
    );
    expect([r.passed, r.failed]).toEqual([2, 1]);
    expect(r.problems).toEqual([
      "vitest: test file failed to load or has no tests: /r/test/b.test.ts: Cannot find module './x.js'",
    ]);
  });

  it('a beforeAll that throws fails the file; its skipped tests count as failed, once each', () => {
    const r = countVitest(
      report([file('/r/test/c.test.ts', 'failed', [test('d x', 'skipped'), test('d y', 'skipped')])], false),
      1,
    );
    expect([r.passed, r.failed]).toEqual([0, 2]);
    expect(r.problems.at(-1)).toBe('vitest: test file failed outside its tests (a hook threw): /r/test/c.test.ts');
  });

  it('skipped and todo tests in a passing file are failures (CI must run every test)', () => {
    const r = countVitest(
      report(
        [
          file('/r/test/a.test.ts', 'passed', [
            test('one', 'passed'),
            test('s', 'skipped'),
            test('t', 'todo'),
            test('p', 'pending'),
          ]),
        ],
        true,
      ),
      0,
    );
    expect([r.passed, r.failed]).toEqual([1, 3]);
    expect(r.problems).toEqual([
      'vitest: skipped (not run): /r/test/a.test.ts > s',
      'vitest: todo (not run): /r/test/a.test.ts > t',
      'vitest: pending (not run): /r/test/a.test.ts > p',
    ]);
  });

  it('failed tests count once each; the file is not counted again', () => {
    const r = countVitest(
      report([file('/r/test/d.test.ts', 'failed', [test('f', 'failed'), test('g', 'failed'), test('h', 'passed')])], false),
      1,
    );
    expect([r.passed, r.failed]).toEqual([1, 2]);
  });

  it('a missing report, no tests, and a failed exit with nothing failed are each one failure', () => {
    expect(countVitest(null, 1)).toMatchObject({ passed: 0, failed: 1 });
    expect(countVitest(report([], true), 0)).toMatchObject({ passed: 0, failed: 1, problems: ['vitest: no tests ran'] });
    expect(countVitest(allPassed, 1)).toMatchObject({ passed: 2, failed: 1 });
    expect(countVitest({ ...allPassed, success: false }, 0)).toMatchObject({ passed: 2, failed: 1 });
  });
});

describe('countCtest', () => {
  it('a passing log counts its tests', () => {
    expect(countCtest(ctestPassed, 0)).toEqual({ passed: 2, failed: 0, problems: [] });
  });

  it('Failed, Not Run, Timeout and Exception are failures', () => {
    const r = countCtest(ctestFailed, 8);
    expect([r.passed, r.failed]).toEqual([1, 4]);
    expect(r.problems).toEqual([
      'ctest: bad: Failed',
      'ctest: missing: Not Run',
      'ctest: slow: Timeout',
      'ctest: abrt: Subprocess aborted Exception:',
    ]);
  });

  it('a missing log, no tests found, and a missing build folder are failures, never 0 passed, 0 failed', () => {
    expect(countCtest(null, 0)).toMatchObject({ passed: 0, failed: 1, problems: ['ctest: no log (ctest did not run)'] });
    expect(countCtest('Test project /r/build\nNo tests were found!!!\n', 0)).toMatchObject({
      passed: 0,
      failed: 1,
      problems: ['ctest: no tests were found'],
    });
    const noBuild =
      'Internal ctest changing into directory: /r/build\nFailed to change working directory to "/r/build" : No such file or directory\n';
    expect(countCtest(noBuild, 1)).toMatchObject({ passed: 0, failed: 1 });
  });

  it('tests in the summary but not in the log (a truncated log) and an unexplained exit status are failures', () => {
    const truncated = ctestPassed.replace(/^2\/2 .*$/m, '').replace('out of 2', 'out of 3');
    expect(countCtest(truncated, 0)).toMatchObject({ passed: 1, failed: 2 });
    expect(countCtest(ctestPassed, 8)).toMatchObject({ passed: 2, failed: 1 });
  });
});

describe('countRun and the command line', () => {
  it('adds vitest, ctest and one test per check; the last line is `N passed, N failed`', () => {
    const r = countRun({
      vitestReport: allPassed,
      vitestRc: 0,
      ctestLog: ctestFailed,
      ctestRc: 8,
      checks: [
        { name: 'lint', rc: 0 },
        { name: 'typecheck', rc: 2 },
      ],
    });
    expect([r.passed, r.failed]).toEqual([2 + 1 + 1, 0 + 4 + 1]);
    expect(r.lines.at(-1)).toBe('4 passed, 5 failed');
    expect(r.lines).toContain('typecheck: exit status 2');
  });

  const dir = mkdtempSync(join(tmpdir(), 'lmk-ci-count-'));
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [join(repoRoot, 'scripts', 'ci-count.mjs'), ...args], { encoding: 'utf8' });

  it('exits 0 when everything passed, 1 otherwise, with the count as the last line', () => {
    writeFileSync(join(dir, 'ok.json'), JSON.stringify(allPassed));
    writeFileSync(join(dir, 'ctest.log'), ctestPassed);
    const ok = cli([
      '--vitest',
      join(dir, 'ok.json'),
      '--vitest-rc',
      '0',
      '--ctest-log',
      join(dir, 'ctest.log'),
      '--ctest-rc',
      '0',
      '--check',
      'lint=0',
    ]);
    expect(ok.status).toBe(0);
    expect(ok.stdout.trim().split('\n').at(-1)).toBe('5 passed, 0 failed');
    const missing = cli([
      '--vitest',
      join(dir, 'none.json'),
      '--vitest-rc',
      '1',
      '--ctest-log',
      join(dir, 'none.log'),
      '--ctest-rc',
      '1',
    ]);
    expect(missing.status).toBe(1);
    expect(missing.stdout.trim().split('\n').at(-1)).toBe('0 passed, 2 failed');
    const bad = cli(['--vitest', join(dir, 'ok.json'), '--check', 'lint']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--check: expected NAME=RC, received "lint"/);
    expect(bad.stdout.trim()).toBe('0 passed, 1 failed');
  });
});
