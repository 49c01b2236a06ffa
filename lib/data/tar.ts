// A small tar reader (ustar, GNU and pax), enough for LM-BFF's datasets.tar: regular files, directories,
// GNU long names ('L') and pax headers ('x', 'g'). Anything else (links, devices, ...) is refused, and so
// are absolute paths and '..' components, so an archive cannot write outside the folder it is extracted to.
// The archive is read in chunks from disk (never whole in memory); files are streamed to disk.
import { closeSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../errors.js';

const BLOCK = 512;
const CHUNK = 1 << 20;

export interface TarEntry {
  /** Path inside the archive, without a leading './'; directories without the trailing '/'. */
  path: string;
  type: 'file' | 'directory';
  size: number;
}

export interface ExtractOptions {
  /** Which entries to write (default all); the others are read past. */
  filter?: (entry: TarEntry) => boolean;
  /** Called as the archive is read: bytes read so far, archive size. */
  onProgress?: (done: number, total: number) => void;
}

export interface ExtractResult {
  files: number;
  directories: number;
  bytes: number;
}

/** Reads the archive sequentially, block-aligned, failing with `truncated` at an early end of file. */
class BlockReader {
  private readonly fd: number;
  readonly size: number;
  offset = 0;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'r');
    } catch (e) {
      throw new InputError(path, `cannot open the archive (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    this.size = fstatSync(this.fd).size;
  }

  /** Reads exactly `n` bytes, or returns fewer only at the end of the file. */
  read(n: number): Buffer {
    const buf = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const r = readSync(this.fd, buf, got, n - got, this.offset + got);
      if (r === 0) break;
      got += r;
    }
    this.offset += got;
    return got === n ? buf : buf.subarray(0, got);
  }

  close(): void {
    closeSync(this.fd);
  }
}

function truncated(archive: string, what: string): InputError {
  return new InputError(archive, `the archive is truncated: it ends inside ${what} (download it again)`);
}

/** A NUL-terminated field as text. */
function field(h: Buffer, start: number, len: number): string {
  const raw = h.subarray(start, start + len);
  const end = raw.indexOf(0);
  return (end < 0 ? raw : raw.subarray(0, end)).toString('utf8');
}

/** A numeric field: octal text, or GNU base-256 (high bit of the first byte set). */
function numField(h: Buffer, start: number, len: number): number {
  if (h[start] & 0x80) {
    let v = h[start] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + h[start + i];
    return v;
  }
  const s = field(h, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return NaN;
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  const want = numField(h, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  return sum === want;
}

/** The records of a pax extended header ("<len> <key>=<value>\n"...). */
function parsePax(data: Buffer, archive: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    const len = sp < 0 ? NaN : Number(data.subarray(i, sp).toString('ascii'));
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length)
      throw new InputError(archive, `a pax header at byte ${i} is malformed (not a tar archive lmkernel can read)`);
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

/** The path as a safe relative path ('./' and trailing '/' dropped); refuses absolute paths and '..'. */
export function safeTarPath(name: string, archive: string): string {
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.includes('\\'))
    throw new InputError(archive, `refusing the entry '${name}': an absolute path (or a backslash) in the archive`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new InputError(archive, `refusing the entry '${name}': a '..' component in its path`);
  if (parts.length === 0) return '';
  return parts.join('/');
}

const TYPE_NAMES: Record<string, string> = {
  '1': 'a hard link',
  '2': 'a symbolic link',
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a FIFO',
  K: 'a GNU long link name',
  S: 'a GNU sparse file',
  V: 'a volume header',
  M: 'a multi-volume continuation',
};

function writeStream(rd: BlockReader, target: string | undefined, size: number, what: string, onChunk: () => void): void {
  const fd = target === undefined ? undefined : openSync(target, 'w');
  try {
    let left = size;
    while (left > 0) {
      const n = Math.min(CHUNK, left);
      const buf = rd.read(n);
      if (buf.length < n) throw truncated(rd.path, what);
      if (fd !== undefined) {
        let off = 0;
        while (off < n) off += writeSync(fd, buf, off, n - off);
      }
      left -= n;
      onChunk();
    }
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad > 0 && rd.read(pad).length < pad) throw truncated(rd.path, what);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Reads a whole (small) entry body: a long name or a pax header. */
function readBody(rd: BlockReader, size: number, what: string): Buffer {
  if (size > 1 << 20)
    throw new InputError(rd.path, `${what} of ${size} bytes is implausibly large (not an archive lmkernel can read)`);
  const padded = Math.ceil(size / BLOCK) * BLOCK;
  const buf = rd.read(padded);
  if (buf.length < padded) throw truncated(rd.path, what);
  return buf.subarray(0, size);
}

/**
 * Extracts `archive` into `dest` (which must exist). Errors (InputError naming the archive) for a file that
 * is not a tar archive, a truncated archive (including a missing end-of-archive marker), an unsupported
 * entry type, an absolute path or a '..' component.
 */
export function extractTar(archive: string, dest: string, opts: ExtractOptions = {}): ExtractResult {
  const rd = new BlockReader(archive);
  const result: ExtractResult = { files: 0, directories: 0, bytes: 0 };
  const progress = (): void => opts.onProgress?.(rd.offset, rd.size);
  try {
    let longName: string | undefined;
    let pax = new Map<string, string>();
    let globalPax = new Map<string, string>();
    let entries = 0;
    for (;;) {
      const at = rd.offset;
      const h = rd.read(BLOCK);
      if (h.length < BLOCK) {
        if (at === 0)
          throw new InputError(
            archive,
            h.length === 0
              ? 'not a tar archive (the file is empty)'
              : `not a tar archive (the file has ${h.length} bytes, less than one 512-byte tar header)`,
          );
        throw new InputError(
          archive,
          `the archive is truncated: no end-of-archive marker after ${entries} entries (download it again)`,
        );
      }
      if (h.every((b) => b === 0)) break;
      if (!checksumOk(h))
        throw new InputError(
          archive,
          entries === 0
            ? 'not a tar archive (its first header has a bad checksum)'
            : `a tar header at byte ${at} has a bad checksum (a damaged archive)`,
        );
      entries++;
      const type = String.fromCharCode(h[156] || 0x30);
      const size = numField(h, 124, 12);
      if (!Number.isSafeInteger(size) || size < 0)
        throw new InputError(archive, `a tar header at byte ${at} has a bad size field`);
      const prefix = h.subarray(257, 262).toString('latin1') === 'ustar' ? field(h, 345, 155) : '';
      const rawName = field(h, 0, 100);
      const headerName = prefix ? `${prefix}/${rawName}` : rawName;
      if (type === 'L') {
        longName = field(readBody(rd, size, `the GNU long name at byte ${at}`), 0, size);
        continue;
      }
      if (type === 'x' || type === 'g') {
        const recs = parsePax(readBody(rd, size, `the pax header at byte ${at}`), archive);
        if (type === 'x') pax = recs;
        else globalPax = new Map([...globalPax, ...recs]);
        continue;
      }
      const name = pax.get('path') ?? longName ?? globalPax.get('path') ?? headerName;
      const paxSize = pax.get('size') ?? globalPax.get('size');
      const bodySize = paxSize !== undefined ? Number(paxSize) : size;
      longName = undefined;
      pax = new Map();
      if (type !== '0' && type !== '7' && type !== '5')
        throw new InputError(
          archive,
          `refusing the entry '${name}': ${TYPE_NAMES[type] ?? `an entry of tar type '${type}'`} (only files and folders are extracted)`,
        );
      const path = safeTarPath(name, archive);
      const entry: TarEntry = { path, type: type === '5' ? 'directory' : 'file', size: type === '5' ? 0 : bodySize };
      const keep = path !== '' && (opts.filter?.(entry) ?? true);
      if (entry.type === 'directory') {
        if (keep) mkdirSync(join(dest, path), { recursive: true });
        if (keep) result.directories++;
        writeStream(rd, undefined, bodySize, `the entry '${name}'`, progress);
        continue;
      }
      if (keep) mkdirSync(dirname(join(dest, path)), { recursive: true });
      writeStream(rd, keep ? join(dest, path) : undefined, bodySize, `the file '${name}'`, progress);
      if (keep) {
        result.files++;
        result.bytes += bodySize;
      }
      progress();
    }
    progress();
    return result;
  } finally {
    rd.close();
  }
}
