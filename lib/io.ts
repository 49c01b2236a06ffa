// File IO that never leaves a half-written file: write to a temporary name beside the target, fsync, rename.
import { openSync, writeSync, fsyncSync, closeSync, renameSync, mkdirSync, unlinkSync, readFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { InputError } from './errors.js';

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* ignore */ }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/** Appends one line atomically with respect to readers: the whole file is rewritten then renamed. */
export function appendLineAtomic(path: string, line: string): void {
  let prev = '';
  try {
    prev = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (prev.length > 0 && !prev.endsWith('\n')) prev += '\n';
  writeFileAtomic(path, prev + line.replace(/\n/g, ' ') + '\n');
}

export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(path, `cannot read ${what}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(path, `${what} is not valid JSON: ${(e as Error).message}`);
  }
}
