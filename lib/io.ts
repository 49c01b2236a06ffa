// File IO that never leaves a half-written file: write to a temporary name beside the target, fsync, rename
// (then fsync the folder, so the rename itself survives a power cut). A process killed mid-write leaves
// at most a `.<name>.<pid>.<time>.tmp` file, never a truncated target; removeStaleTemps() clears those.
import {
  closeSync,
  constants,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from './errors.js';

let tmpCounter = 0;

/** Creates the folder of `path`, naming the folder in the error when it cannot be made or written. */
function ensureDir(dir: string, path: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new InputError(dir, `cannot create the output folder for ${path} (${err.code ?? err.message})`);
  }
}

/**
 * Checks up front (before a long computation) that files can be written in `dir` (created if needed):
 * an InputError naming the folder and the file meant for it otherwise.
 */
export function assertWritableDir(dir: string, forPath: string): void {
  ensureDir(dir, forPath);
  const probe = join(dir, `.lmkernel-probe.${process.pid}.${Date.now()}-${tmpCounter++}.tmp`);
  try {
    closeSync(openSync(probe, 'wx'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS' ? 'the folder is not writable' : err.message;
    throw new InputError(dir, `cannot write ${basename(forPath)} here: ${why} (${err.code ?? 'error'})`);
  }
  try {
    unlinkSync(probe);
  } catch {
    /* ignore */
  }
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    /* some file systems refuse fsync on folders: the rename is still atomic */
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  ensureDir(dir, path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}-${tmpCounter++}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS' ? 'the folder is not writable' : err.message;
    throw new InputError(dir, `cannot write ${basename(path)} here: ${why} (${err.code ?? 'error'})`);
  }
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* ignore */
    }
    const err = e as NodeJS.ErrnoException;
    throw new InputError(path, `cannot write the file: ${err.message}`);
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* ignore */
    }
    throw new InputError(path, `cannot replace the file: ${(e as Error).message}`);
  }
  fsyncDir(dir);
}

const TEMP_RE = /^\..+\.(\d+)\.\d+(?:-\d+)?\.tmp$/;

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temporary files of writeFileAtomic left in `dir` (and, with `recursive`, its sub-folders) by
 * processes that no longer run (killed mid-write). Returns the paths removed.
 */
export function removeStaleTemps(dir: string, recursive = false): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const n of names) {
    const p = join(dir, n);
    const m = TEMP_RE.exec(n);
    if ((m && !pidAlive(Number(m[1]))) || (n.endsWith('.lock') && staleLock(p))) {
      try {
        unlinkSync(p);
        removed.push(p);
      } catch {
        /* raced with another cleaner */
      }
    } else if (recursive && !m) {
      try {
        if (statSync(p).isDirectory()) removed.push(...removeStaleTemps(p, true));
      } catch {
        /* gone */
      }
    }
  }
  return removed;
}

/** A lock file whose holder is gone, or that never got its pid written and is older than 5 s. */
function staleLock(lock: string): boolean {
  let text: string;
  try {
    text = readFileSync(lock, 'utf8');
  } catch {
    return false;
  }
  const holder = Number.parseInt(text, 10);
  if (Number.isInteger(holder)) return !pidAlive(holder);
  try {
    return Date.now() - statSync(lock).mtimeMs > 5000;
  } catch {
    return false;
  }
}

const sleepBuf = new Int32Array(new SharedArrayBuffer(4));
const sleepMs = (ms: number) => Atomics.wait(sleepBuf, 0, 0, ms);

/**
 * Runs `fn` holding `<path>.lock` (created with O_EXCL: one holder across processes). A lock whose
 * holder process is gone is taken over; waiting more than `timeoutMs` is an error naming the lock.
 */
export function withFileLock<T>(path: string, fn: () => T, timeoutMs = 30_000): T {
  const lock = `${path}.lock`;
  ensureDir(dirname(lock), path);
  const t0 = Date.now();
  for (;;) {
    let fd: number | undefined;
    try {
      fd = openSync(lock, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if (fd !== undefined) closeSync(fd);
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new InputError(lock, `cannot create the lock file: ${(e as Error).message}`);
      let holder = NaN;
      try {
        holder = Number.parseInt(readFileSync(lock, 'utf8'), 10);
      } catch {
        /* released meanwhile */
      }
      if (staleLock(lock)) {
        try {
          unlinkSync(lock);
        } catch {
          /* another process took it over */
        }
        continue;
      }
      if (Date.now() - t0 > timeoutMs)
        throw new InputError(
          lock,
          `still locked by process ${Number.isNaN(holder) ? '?' : holder} after ${timeoutMs} ms (delete the file if that process is gone)`,
        );
      sleepMs(5 + Math.random() * 20);
    }
  }
  try {
    return fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      /* ignore */
    }
  }
}

/**
 * Appends one line atomically with respect to readers (the whole file is rewritten then renamed) and to
 * other appending processes (under `<path>.lock`): no line is ever lost or torn.
 */
export function appendLineAtomic(path: string, line: string): void {
  withFileLock(path, () => {
    let prev = '';
    try {
      prev = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new InputError(path, `cannot read the file: ${(e as Error).message}`);
    }
    if (prev.length > 0 && !prev.endsWith('\n')) prev += '\n';
    writeFileAtomic(path, prev + line.replace(/\n/g, ' ') + '\n');
  });
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
