// lib/experiments/results.ts on its own (docs/mutation.md): results.jsonl read back, blank lines skipped, a bad
// line named by its line number, finished lines by config id, de-duplication keeping the last line.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readResultLines, readResultFiles, finishedLines, dedupe } from '../lib/experiments/results.js';
import { InputError, LmkError } from '../lib/errors.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'lmk-results-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = path.join(tmp, name);
  writeFileSync(p, text);
  return p;
};

describe('results.jsonl', () => {
  it('reads every JSON line in order, skipping blank ones; a missing file has none', () => {
    const p = file('a.jsonl', '{"config_id":"x","v":1}\n\n   \n{"config_id":"y","v":2}\n');
    expect(readResultLines(p)).toEqual([
      { config_id: 'x', v: 1 },
      { config_id: 'y', v: 2 },
    ]);
    expect(readResultLines(path.join(tmp, 'none.jsonl'))).toEqual([]);
    expect(readResultLines(file('empty.jsonl', ''))).toEqual([]);
  });

  it('a line that is not JSON is an InputError naming the file and line (1-based)', () => {
    const p = file('bad.jsonl', '{"a":1}\n\n{"a":\n');
    expect(() => readResultLines(p)).toThrow(InputError);
    expect(() => readResultLines(p)).toThrow(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: not a JSON line \\(`));
  });

  it('readResultFiles: the lines of every file in order; at least one file, each must exist', () => {
    const a = file('f1.jsonl', '{"v":1}\n');
    const b = file('f2.jsonl', '{"v":2}\n{"v":3}\n');
    expect(readResultFiles([a, b], 'report')).toEqual([{ v: 1 }, { v: 2 }, { v: 3 }]);
    expect(() => readResultFiles([], 'report')).toThrow(new LmkError('report: give at least one results.jsonl file'));
    expect(() => readResultFiles([], 'report')).toThrow('report: give at least one results.jsonl file');
    const missing = path.join(tmp, 'missing.jsonl');
    expect(() => readResultFiles([a, missing], 'report')).toThrow(`${missing}: results file not found`);
  });

  it('finishedLines: by config id, the last line of an id wins, lines without a string id or not finished are left out', () => {
    const p = file(
      'fin.jsonl',
      [
        { config_id: 'a', status: 'done', v: 1 },
        { config_id: 'b', status: 'failed', v: 2 },
        { config_id: 7, status: 'done' },
        { status: 'done' },
        { config_id: 'a', status: 'done', v: 3 },
        null,
      ]
        .map((x) => JSON.stringify(x))
        .join('\n'),
    );
    type L = { config_id?: unknown; status?: string; v?: number };
    const all = finishedLines<L>(p);
    expect([...all.keys()]).toEqual(['a', 'b']);
    expect(all.get('a')!.v).toBe(3);
    const done = finishedLines<L>(p, (l) => l.status === 'done');
    expect([...done.entries()]).toEqual([['a', { config_id: 'a', status: 'done', v: 3 }]]);
  });

  it('dedupe: the last occurrence of an id at the first occurrence position; lines without an id are all kept', () => {
    const lines = [{ config_id: 'a', v: 1 }, { v: 2 }, { config_id: 'b', v: 3 }, { config_id: 'a', v: 4 }, { v: 5 }];
    expect(dedupe(lines)).toEqual([{ config_id: 'a', v: 4 }, { v: 2 }, { config_id: 'b', v: 3 }, { v: 5 }]);
    expect(dedupe([])).toEqual([]);
  });
});
