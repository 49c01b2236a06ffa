// Content-addressed cache for kernels, f0 and linear-probe heads.
//
// Keys are sha256 digests of a canonical JSON description of everything that changes the cached value:
// the model's content hash (config.json bytes + weights file bytes), the encoded inputs, and the options
// (see experiment.ts for the exact key material). A changed input gives a new key, so an entry is never
// stale; entries are never overwritten in place.
//
// Entry file (`<dir>/kernels/<key>.lmkc`), written atomically (temporary file, fsync, rename):
//   bytes 0..7    magic "LMKC0001"
//   bytes 8..11   uint32 LE: length H of the JSON header (padded with spaces to a multiple of 8)
//   bytes 12..15  reserved (0)
//   16..16+H      JSON header {key, meta, arrays: [{name, length}]}
//   then the arrays as float64 little-endian, in header order.
// A file that does not parse or whose size does not match its header is reported and treated as a miss.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../io.js';

const MAGIC = 'LMKC0001';
const LE = endianness() === 'LE';

/** Canonical JSON: object keys sorted, so equal values hash equally. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) return JSON.stringify(String(v));
    return JSON.stringify(v) ?? 'null';
  }
  if (ArrayBuffer.isView(v)) return canonicalJson(Array.from(v as unknown as ArrayLike<number>));
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hashJson(v: unknown): string {
  return sha256(canonicalJson(v));
}

/** Hash of float64 values (exact bytes). */
export function hashFloat64(values: ArrayLike<number>): string {
  const a = Float64Array.from(values as ArrayLike<number>);
  return sha256(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

const fileHashMemo = new Map<string, string>();
let fileHashComputations = 0;

/** How many file hashes were actually computed (not memoised) in this process; for tests. */
export function fileHashStats(): { computed: number } {
  return { computed: fileHashComputations };
}

/**
 * sha256 of a file's bytes, memoised in memory and (with `memoPath`) on disk by real path, size and
 * mtime, so a 500 MB checkpoint is read once.
 */
export function fileSha256(path: string, memoPath?: string): string {
  const real = realpathSync(path);
  const st = statSync(real);
  const id = `${real}\0${st.size}\0${st.mtimeMs}`;
  const hit = fileHashMemo.get(id);
  if (hit) return hit;
  let disk: Record<string, { size: number; mtimeMs: number; sha256: string }> = {};
  if (memoPath && existsSync(memoPath)) {
    try {
      disk = JSON.parse(readFileSync(memoPath, 'utf8'));
      const e = disk[real];
      if (e && e.size === st.size && e.mtimeMs === st.mtimeMs && typeof e.sha256 === 'string') {
        fileHashMemo.set(id, e.sha256);
        return e.sha256;
      }
    } catch {
      disk = {};
    }
  }
  const h = createHash('sha256');
  const fd = openSync(real, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  fileHashComputations++;
  const digest = h.digest('hex');
  fileHashMemo.set(id, digest);
  if (memoPath) {
    try {
      disk[real] = { size: st.size, mtimeMs: st.mtimeMs, sha256: digest };
      writeFileAtomic(memoPath, JSON.stringify(disk, null, 1));
    } catch {
      /* the memo is an optimisation only */
    }
  }
  return digest;
}

export interface CacheEntry {
  key: string;
  meta: Record<string, unknown>;
  arrays: Record<string, Float64Array>;
}

export function entryPath(dir: string, kind: string, key: string, ext = 'lmkc'): string {
  return join(dir, kind, `${key}.${ext}`);
}

export function writeEntry(path: string, entry: CacheEntry): void {
  const names = Object.keys(entry.arrays);
  const header = JSON.stringify({
    key: entry.key,
    meta: entry.meta,
    arrays: names.map((name) => ({ name, length: entry.arrays[name].length })),
  });
  let hbytes = Buffer.from(header, 'utf8');
  const pad = (8 - (hbytes.length % 8)) % 8;
  if (pad) hbytes = Buffer.concat([hbytes, Buffer.alloc(pad, 0x20)]);
  const total = 16 + hbytes.length + names.reduce((s, n) => s + entry.arrays[n].length * 8, 0);
  const out = Buffer.alloc(total);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(hbytes.length, 8);
  hbytes.copy(out, 16);
  let off = 16 + hbytes.length;
  for (const n of names) {
    const a = entry.arrays[n];
    if (LE) {
      Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(out, off);
      off += a.byteLength;
    } else for (let i = 0; i < a.length; i++, off += 8) out.writeDoubleLE(a[i], off);
  }
  writeFileAtomic(path, out);
}

/** Reads an entry; undefined when missing; `{error}` when unreadable or not the expected key. */
export function readEntry(path: string, key: string): CacheEntry | undefined | { error: string } {
  if (!existsSync(path)) return undefined;
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    return { error: (e as Error).message };
  }
  if (buf.length < 16 || buf.toString('latin1', 0, 8) !== MAGIC) return { error: 'not an lmkernel cache file' };
  const hlen = buf.readUInt32LE(8);
  if (16 + hlen > buf.length) return { error: 'truncated header' };
  let header: { key: string; meta: Record<string, unknown>; arrays: { name: string; length: number }[] };
  try {
    header = JSON.parse(buf.toString('utf8', 16, 16 + hlen));
  } catch (e) {
    return { error: `bad header: ${(e as Error).message}` };
  }
  if (header.key !== key) return { error: `holds key ${header.key}, expected ${key}` };
  const need = 16 + hlen + header.arrays.reduce((s, a) => s + a.length * 8, 0);
  if (need !== buf.length) return { error: `size ${buf.length} bytes, header says ${need}` };
  const arrays: Record<string, Float64Array> = {};
  let off = 16 + hlen;
  for (const a of header.arrays) {
    let arr: Float64Array;
    if (LE) {
      arr = new Float64Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + a.length * 8));
      off += a.length * 8;
    } else {
      arr = new Float64Array(a.length);
      for (let i = 0; i < a.length; i++, off += 8) arr[i] = buf.readDoubleLE(off);
    }
    arrays[a.name] = arr;
  }
  return { key, meta: header.meta, arrays };
}
