// lib/io.ts: atomic writes, stale temporary files and locks of dead processes, the append lock.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendLineAtomic, removeStaleTemps, withFileLock, writeFileAtomic } from '../lib/io.js';

const dead = 999_999_999; // no such process
describe('io', () => {
  it('writeFileAtomic leaves no temporary file and replaces the target whole', () => {
    const d = mkdtempSync(join(tmpdir(), 'lmk-io-'));
    const p = join(d, 'a', 'f.json');
    writeFileAtomic(p, 'x'.repeat(1 << 20));
    writeFileAtomic(p, '{"ok":1}');
    expect(readFileSync(p, 'utf8')).toBe('{"ok":1}');
    expect(readdirSync(join(d, 'a'))).toEqual(['f.json']);
  });
  it('removeStaleTemps removes temporary files and locks of dead processes only, recursively', () => {
    const d = mkdtempSync(join(tmpdir(), 'lmk-io-'));
    mkdirSync(join(d, 'kernels'));
    const staleTmp = join(d, `.results.jsonl.${dead}.1700000000000-3.tmp`);
    const staleSub = join(d, 'kernels', `.abc.lmkc.${dead}.1700000000000.tmp`);
    const liveTmp = join(d, `.results.jsonl.${process.pid}.1700000000000-4.tmp`);
    const staleLock = join(d, 'results.jsonl.lock');
    const liveLock = join(d, 'other.jsonl.lock');
    for (const p of [staleTmp, staleSub, liveTmp]) writeFileSync(p, 'partial');
    writeFileSync(staleLock, `${dead}\n`);
    writeFileSync(liveLock, `${process.pid}\n`);
    const removed = removeStaleTemps(d, true).sort();
    expect(removed).toEqual([staleSub, staleTmp, staleLock].sort());
    expect(existsSync(liveTmp) && existsSync(liveLock)).toBe(true);
  });
  it('appendLineAtomic keeps every line and releases its lock; a held lock times out naming itself', () => {
    const d = mkdtempSync(join(tmpdir(), 'lmk-io-'));
    const p = join(d, 'r.jsonl');
    writeFileSync(p, '{"a":0}'); // no final newline: one is added
    for (let i = 1; i <= 20; i++) appendLineAtomic(p, `{"a":${i}}`);
    expect(
      readFileSync(p, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).a),
    ).toEqual(Array.from({ length: 21 }, (_, i) => i));
    expect(existsSync(`${p}.lock`)).toBe(false);
    expect(() => withFileLock(p, () => withFileLock(p, () => 0, 50))).toThrow(
      `${p}.lock: still locked by process ${process.pid} after 50 ms`,
    );
    expect(existsSync(`${p}.lock`)).toBe(false);
  });
});
