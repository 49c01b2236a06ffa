// lib/data/lmbff-check.ts and lmbff-fixups.ts on small synthetic folders (docs/mutation.md): the checksum list
// parser, the comparison (verified, absent, every kind of mismatch and the message), the SST-2 swap and the
// CR rebalancing paths that need no real archive.
import { describe, it, expect, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  readLmBffChecksums,
  verifyLmBffSplits,
  ChecksumMismatchError,
  LMBFF_CHECK_K,
  LMBFF_CHECK_SEEDS,
  LMBFF_CHECKSUMS_NAME,
  lmBffChecksumsPath,
  type LmBffChecksums,
} from '../lib/data/lmbff-check.js';
import { swapInGlueSst2, sedThousandTo250, rebalanceCr, agNewsNote } from '../lib/data/lmbff-fixups.js';
import { generateForSeed, loadKShotSource } from '../lib/data/kshot.js';
import type { LmkError } from '../lib/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'lmk-lmbff-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const folder = () => {
  const d = join(tmp, `d${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};
const write = (p: string, text: string) => {
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
};
const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const A = 'a'.repeat(32);

describe('the checksum list', () => {
  it("LM-BFF's k = 16 and default seeds; the shipped list's name and place", () => {
    expect(LMBFF_CHECK_K).toBe(16);
    expect(LMBFF_CHECK_SEEDS).toEqual([100, 13, 21, 42, 87]);
    expect(LMBFF_CHECKSUMS_NAME).toBe('LM-BFF-16-SHOT-MD5SUMS');
    expect(lmBffChecksumsPath().endsWith(join('lib', 'data', 'LM-BFF-16-SHOT-MD5SUMS'))).toBe(true);
  });

  it('md5sum lines (text and binary markers), blank lines skipped, tasks in file order', () => {
    const p = join(folder(), 'sums');
    write(
      p,
      `${A}  mr/16-13/train.csv\n \t \n${'b'.repeat(32)} *SST-2/16-42/dev.tsv\n  ${'c'.repeat(32)}  mr/16-42/test.csv  \n${'d'.repeat(32)} mr/16-87/dev.csv\n`,
    );
    const s = readLmBffChecksums(p);
    expect([...s.keys()]).toEqual(['mr', 'SST-2']);
    expect([...s.get('mr')!]).toEqual([
      ['mr/16-13/train.csv', A],
      ['mr/16-42/test.csv', 'c'.repeat(32)],
      ['mr/16-87/dev.csv', 'd'.repeat(32)],
    ]);
    expect([...s.get('SST-2')!]).toEqual([['SST-2/16-42/dev.tsv', 'b'.repeat(32)]]);
  });

  it('a bad line names the file and line; an unreadable list names the file', () => {
    for (const bad of [
      `x${A}  mr/x`,
      `${'a'.repeat(31)}  mr/x`,
      `${'A'.repeat(32)}  mr/x`,
      `${A}  mr`,
      `${A}  /x`,
      `${A}  mr/a b`,
    ]) {
      const p = join(folder(), 'sums');
      write(p, `${A}  mr/ok\n${bad}\n`);
      expect(() => readLmBffChecksums(p), bad).toThrow(`${p}:2: not an md5sum line: ${JSON.stringify(bad)}`);
    }
    const missing = join(tmp, 'nope', 'sums');
    expect(() => readLmBffChecksums(missing)).toThrow(`${missing}: cannot read LM-BFF's checksum list (ENOENT)`);
  });
});

describe('verifyLmBffSplits', () => {
  // an 'mr' folder of 40 rows (20 per label) and what the generator makes of it for LM-BFF's seeds
  const mrFolder = () => {
    const o = folder();
    write(join(o, 'mr', 'train.csv'), Array.from({ length: 40 }, (_, i) => `${i % 2},review ${i}`).join('\n') + '\n');
    write(join(o, 'mr', 'test.csv'), '0,t0\n1,t1\n');
    const files = new Map<string, string>();
    const src = loadKShotSource(o, 'mr');
    for (const seed of LMBFF_CHECK_SEEDS)
      for (const f of generateForSeed(src, seed, { k: 16 }).files) files.set(f.path.replace('k-shot/', ''), md5(f.content));
    return { o, files };
  };

  it('all files matching: the task verified; tasks of the list not in the folder are absent', () => {
    const { o, files } = mrFolder();
    expect(files.size).toBe(15);
    const sums: LmBffChecksums = new Map([
      ['SST-2', new Map([['SST-2/16-13/train.tsv', A]])],
      ['mr', files],
      ['trec', new Map([['trec/16-13/train.csv', A]])],
    ]);
    const seen: [string, number, number][] = [];
    expect(verifyLmBffSplits(o, sums, (t, i, total) => seen.push([t, i, total]))).toEqual({
      verified: ['mr'],
      absent: ['SST-2', 'trec'],
      files: 15,
    });
    expect(seen).toEqual([['mr', 1, 3]]);
  });

  it('mismatches: a changed md5, a file not produced, a file not listed; three shown per task, then a count', () => {
    const { o, files } = mrFolder();
    const want = new Map(files);
    const paths = [...files.keys()];
    want.set(paths[0], A);
    want.set(paths[1], 'b'.repeat(32));
    want.delete(paths[2]);
    want.set('mr/16-1/train.csv', 'c'.repeat(32));
    want.set(paths[3], 'd'.repeat(32));
    let err: ChecksumMismatchError | undefined;
    try {
      verifyLmBffSplits(o, new Map([['mr', want]]));
    } catch (e) {
      err = e as ChecksumMismatchError;
    }
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(err!.name).toBe('ChecksumMismatchError');
    expect(err!.code).toBe('LMK_BAD_INPUT');
    expect(err!.mismatches).toEqual([
      { task: 'mr', file: paths[0], got: files.get(paths[0]), want: A },
      { task: 'mr', file: paths[1], got: files.get(paths[1]), want: 'b'.repeat(32) },
      { task: 'mr', file: paths[3], got: files.get(paths[3]), want: 'd'.repeat(32) },
      { task: 'mr', file: 'mr/16-1/train.csv', got: undefined, want: 'c'.repeat(32) },
      { task: 'mr', file: paths[2], got: files.get(paths[2]) },
    ]);
    expect(err!.message).toBe(
      "the archive's data does not reproduce LM-BFF's published 16-shot splits for mr (a changed or foreign archive; nothing was installed):\n" +
        `  mr: ${paths[0]}: md5 ${files.get(paths[0])}, LM-BFF published ${A}; ${paths[1]}: md5 ${files.get(paths[1])}, LM-BFF published ${'b'.repeat(32)}; ` +
        `${paths[3]}: md5 ${files.get(paths[3])}, LM-BFF published ${'d'.repeat(32)} (and 2 more files of mr)`,
    );
    // the other two kinds, each shown
    const two = new Map(files);
    two.delete(paths[0]);
    two.set('mr/16-1/dev.csv', A);
    expect(() => verifyLmBffSplits(o, new Map([['mr', two]]))).toThrow(
      `  mr: mr/16-1/dev.csv: not produced (LM-BFF's list has md5 ${A}); ${paths[0]}: produced, but not in LM-BFF's list\n`.trimEnd(),
    );
  });

  it('exactly three mismatches are all shown; two tasks are listed apart, in the list order', () => {
    const { o, files } = mrFolder();
    const paths = [...files.keys()];
    const want = new Map(files);
    for (const p of paths.slice(0, 3)) want.set(p, A);
    const msg = (sums: LmBffChecksums) => {
      try {
        verifyLmBffSplits(o, sums);
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    const three = msg(new Map([['mr', want]]));
    expect(three.endsWith(`${paths[2]}: md5 ${files.get(paths[2])}, LM-BFF published ${A}`)).toBe(true);
    expect(three).not.toContain('more files');
    // a second task folder that gives other files
    write(join(o, 'cr', 'train.csv'), '0,a\n1,b\n');
    write(join(o, 'cr', 'test.csv'), '0,t\n');
    const two = msg(
      new Map([
        ['cr', new Map([['cr/16-13/train.csv', A]])],
        ['mr', want],
      ]),
    );
    expect(two.split('\n')[0]).toMatch(/splits for cr, mr \(a changed or foreign archive; nothing was installed\):$/);
    expect(
      two
        .split('\n')
        .slice(1)
        .map((l) => l.slice(0, 6)),
    ).toEqual(['  cr: ', '  mr: ']);
  });

  it('a present task whose files cannot be read is an InputError naming it', () => {
    const o = folder();
    mkdirSync(join(o, 'mr'));
    expect(() => verifyLmBffSplits(o, new Map([['mr', new Map([['mr/16-13/train.csv', A]])]]))).toThrow(
      /^mr: the archive's mr folder is incomplete or not LM-BFF's \(.*train\.csv: mr train file not found\)$/,
    );
  });
});

describe('fixups', () => {
  it('swapInGlueSst2: GLUE-SST-2 becomes SST-2, the old one SST-2-original (replacing a stale one)', () => {
    const o = folder();
    write(join(o, 'SST-2', 'f'), 'lmbff');
    write(join(o, 'GLUE-SST-2', 'f'), 'glue');
    write(join(o, 'SST-2-original', 'stale'), 'x');
    expect(swapInGlueSst2(o)).toEqual({ swapped: true });
    expect(readFileSync(join(o, 'SST-2', 'f'), 'utf8')).toBe('glue');
    expect(readFileSync(join(o, 'SST-2-original', 'f'), 'utf8')).toBe('lmbff');
    expect(existsSync(join(o, 'SST-2-original', 'stale'))).toBe(false);
    expect(existsSync(join(o, 'GLUE-SST-2'))).toBe(false);
    // only GLUE-SST-2
    const p = folder();
    write(join(p, 'GLUE-SST-2', 'f'), 'glue');
    expect(swapInGlueSst2(p)).toEqual({ swapped: true });
    expect(existsSync(join(p, 'SST-2-original'))).toBe(false);
    expect(readFileSync(join(p, 'SST-2', 'f'), 'utf8')).toBe('glue');
  });

  it('swapInGlueSst2 without GLUE-SST-2: a note, with or without SST-2; a file named GLUE-SST-2 is not a folder', () => {
    const o = folder();
    write(join(o, 'SST-2', 'f'), 'x');
    expect(swapInGlueSst2(o)).toEqual({
      swapped: false,
      note: "the archive has no GLUE-SST-2 folder: original/SST-2 is LM-BFF's SST-2 (6,920 sentences), not the GLUE SST-2 the paper uses",
    });
    const e = folder();
    write(join(e, 'GLUE-SST-2'), 'a file');
    expect(swapInGlueSst2(e)).toEqual({
      swapped: false,
      note: 'the archive has no SST-2 (neither GLUE-SST-2 nor SST-2): SST-2 is not installed',
    });
  });

  it("sed 's/1000/250/': the first 1000 of each line only", () => {
    expect(sedThousandTo250('1000 1000\nx\n10000\n')).toBe('250 1000\nx\n2500\n');
    expect(sedThousandTo250('')).toBe('');
  });

  it('rebalanceCr: absent, no script, no 1000, no interpreter — each left out with its reason', () => {
    expect(rebalanceCr(folder(), 'python3')).toEqual({ status: 'absent' });
    const o = folder();
    mkdirSync(join(o, 'cr'));
    const r1 = rebalanceCr(o, 'python3');
    expect(r1.status).toBe('left-out');
    expect(r1.note).toBe(
      "cr is left out: the archive's cr folder has no process.py to rebalance it with. The other tasks are installed; run the download again once that is fixed to get cr (rebalanced as in the paper: 250 test examples per label)",
    );
    expect(existsSync(join(o, 'cr'))).toBe(false);
    write(join(o, 'cr', 'process.py'), 'print(250)\n');
    expect(rebalanceCr(o, 'python3').note).toMatch(
      /^cr is left out: the archive's cr\/process\.py has no '1000' for the reference's edit/,
    );
    write(join(o, 'cr', 'process.py'), 'n = 1000\n');
    const r3 = rebalanceCr(o, join(tmp, 'no-such-python'));
    expect(r3.note).toMatch(
      new RegExp(
        `^cr is left out: ${join(tmp, 'no-such-python').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} was not found \\(cr/process\\.py needs Python 3; set LMKERNEL_PYTHON`,
      ),
    );
    expect(existsSync(join(o, 'cr'))).toBe(false);
  });

  it('rebalanceCr with an interpreter: the edited script runs in original/cr; a missing module, a failure, no output', () => {
    // a stand-in interpreter: a shell script that runs the edited process.py's shell lines
    const o = folder();
    const py = join(tmp, 'fake-python');
    writeFileSync(py, '#!/bin/sh\nsh "$1"\n', { mode: 0o755 });
    write(join(o, 'cr', 'process.py'), 'echo 1000 > train.csv\necho 1000 > test.csv\n');
    expect(rebalanceCr(o, py)).toEqual({ status: 'rebalanced' });
    expect(readFileSync(join(o, 'cr', 'process.py'), 'utf8')).toBe('echo 250 > train.csv\necho 250 > test.csv\n');
    expect(readFileSync(join(o, 'cr', 'train.csv'), 'utf8')).toBe('250\n');
    write(join(o, 'cr', 'process.py'), 'echo 1000; echo "ModuleNotFoundError: No module named \'pandas\'" >&2; exit 1\n');
    expect(rebalanceCr(o, py).note).toMatch(/^cr is left out: cr\/process\.py needs the Python module 'pandas', which .* lacks/);
    write(join(o, 'cr', 'process.py'), 'echo 1000; for i in 1 2 3 4 5 6 7; do echo line$i >&2; done; exit 3\n');
    expect(() => rebalanceCr(o, py)).toThrow(`cr/process.py failed under ${py} (exit 3):\nline3\nline4\nline5\nline6\nline7`);
    // (the missing module removed cr/ with its csv files)
    expect(existsSync(join(o, 'cr', 'test.csv'))).toBe(false);
    write(join(o, 'cr', 'process.py'), 'echo 1000 > train.csv\n');
    expect(() => rebalanceCr(o, py)).toThrow(
      'cr/process.py ran but wrote no cr/test.csv (not the script download_dataset.sh expects)',
    );
  });

  it('rebalanceCr: the environment, an unquoted module name, error codes, train.csv missing, a spawn error', () => {
    const o = folder();
    const py = join(tmp, 'fake-python-env');
    writeFileSync(py, '#!/bin/sh\nsh "$1"\n', { mode: 0o755 });
    // the script sees the caller's environment and PYTHONDONTWRITEBYTECODE=1
    process.env.LMK_TEST_MARK = 'seen';
    write(join(o, 'cr', 'process.py'), 'echo "$PYTHONDONTWRITEBYTECODE $LMK_TEST_MARK 1000" > train.csv; : > test.csv\n');
    expect(rebalanceCr(o, py)).toEqual({ status: 'rebalanced' });
    delete process.env.LMK_TEST_MARK;
    expect(readFileSync(join(o, 'cr', 'train.csv'), 'utf8')).toBe('1 seen 250\n');
    // Python 2's message has no quotes around the name
    write(join(o, 'cr', 'process.py'), 'echo 1000; echo "ImportError: No module named pandas" >&2; exit 1\n');
    expect(rebalanceCr(o, py).note).toMatch(/^cr is left out: cr\/process\.py needs the Python module 'pandas', which /);
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return [(e as LmkError).code, (e as Error).message];
      }
      return ['no error'];
    };
    write(join(o, 'cr', 'process.py'), 'echo 1000; echo oops >&2; exit 2\n');
    expect(code(() => rebalanceCr(o, py))).toEqual(['LMK_BAD_INPUT', `cr/process.py failed under ${py} (exit 2):\noops`]);
    write(join(o, 'cr', 'process.py'), 'echo 1000 > test.csv\n');
    expect(code(() => rebalanceCr(o, py))).toEqual([
      'LMK_BAD_INPUT',
      'cr/process.py ran but wrote no cr/train.csv (not the script download_dataset.sh expects)',
    ]);
    // an interpreter that cannot be run (not executable): an error, not a note; cr is kept
    const notExec = join(tmp, 'not-executable-python');
    writeFileSync(notExec, '#!/bin/sh\n', { mode: 0o644 });
    write(join(o, 'cr', 'process.py'), 'n = 1000\n');
    expect(code(() => rebalanceCr(o, notExec))).toEqual([
      'LMK_BAD_INPUT',
      `cr/process.py could not be run with ${notExec}: spawnSync ${notExec} EACCES`,
    ]);
    expect(existsSync(join(o, 'cr', 'process.py'))).toBe(true);
  });

  it('agNewsNote names both files', () => {
    expect(agNewsNote('/d/original')).toBe(
      'AG News is not in LM-BFF\'s archive: put the standard AG News CSV (no header; "class","title","description", classes 1-4) at /d/original/ag_news/train.csv and /d/original/ag_news/test.csv',
    );
  });
});
