// Content-addressed cache for kernels, f0 and linear-probe heads.
//
// Keys are sha256 digests of a canonical JSON description of everything that changes the cached value:
// the model's content hash (config.json bytes + weights file bytes), the encoded inputs, and the options
// (see experiment.ts for the exact key material). A changed input gives a new key, so an entry is never
// stale; entries are never overwritten in place. The engine enters the key as ENGINE_VERSION, not as the
// addon binary's hash: a rebuild that computes the same numbers reuses every entry.
//
// Entry file (`<dir>/kernels/<key>.safetensors`), written atomically (temporary file, fsync, rename): a
// safetensors file (lib/kernels/safetensors.ts) with one F64 tensor per array and `__metadata__`
// {format: "lmkernel.cache", key, meta: JSON}, so numpy or PyTorch read a cached kernel directly.
// A file that does not parse, is truncated or holds another key is reported and treated as a miss.
// Entries of the former format (`<key>.lmkc`, magic "LMKC0001") are read once, rewritten as safetensors
// and removed (legacyCache.ts).
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, realpathSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io.js';
import { readSafetensors, writeSafetensors, type Tensor } from '../kernels/safetensors.js';
import { readLegacyEntry } from './legacyCache.js';

/**
 * The version of the numbers the engine (native/core + native/addon) computes, part of every kernel cache
 * key. Bump it when a change makes a kernel computation return different numbers (a formula or
 * normalisation, the parameters a subset covers, the precision or order of a reduction beyond the tests'
 * tolerances, a bug fix in a kernel or in f0), so that entries of the old engine are recomputed. Do not
 * bump it for a rebuild, a refactor or a speed-up that returns the same numbers.
 */
export const ENGINE_VERSION = 1;

const FORMAT = 'lmkernel.cache';

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
  /** Optional shapes of the arrays (row-major); 1-D [length] when absent. */
  shapes?: Record<string, number[]>;
}

/** The key of a kernel cache entry: everything that changes the numbers, and the engine's version. */
export function kernelCacheKey(material: Record<string, unknown>, engineVersion = ENGINE_VERSION): string {
  return hashJson({ ...material, kind: 'kernels', engine: engineVersion });
}

export function entryPath(dir: string, kind: string, key: string, ext = 'safetensors'): string {
  return join(dir, kind, `${key}.${ext}`);
}

export function writeEntry(path: string, entry: CacheEntry): void {
  const tensors: Record<string, Tensor> = {};
  for (const [name, data] of Object.entries(entry.arrays))
    tensors[name] = { dtype: 'F64', shape: entry.shapes?.[name] ?? [data.length], data };
  writeSafetensors(path, tensors, { format: FORMAT, key: entry.key, meta: JSON.stringify(entry.meta) });
}

function readSafetensorsEntry(path: string, key: string): CacheEntry | { error: string } {
  let file;
  try {
    file = readSafetensors(path);
  } catch (e) {
    return { error: (e as Error).message.replace(`${path}: `, '') };
  }
  const { metadata: m, tensors } = file;
  if (m.format !== FORMAT) return { error: 'not an lmkernel cache file' };
  if (m.key !== key) return { error: `holds key ${m.key}, expected ${key}` };
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(m.meta ?? '{}');
  } catch (e) {
    return { error: `bad metadata: ${(e as Error).message}` };
  }
  const arrays: Record<string, Float64Array> = {};
  const shapes: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(tensors)) {
    arrays[name] = t.data instanceof Float64Array ? t.data : Float64Array.from(t.data);
    shapes[name] = t.shape;
  }
  return { key, meta, arrays, shapes };
}

/**
 * Reads an entry; undefined when missing; `{error}` when unreadable or not the expected key. When the
 * entry is missing and `legacy` names an entry of the former LMKC0001 format that is there (`.lmkc`, under
 * the key of the former key scheme), that one is read, rewritten at `path` under `key`, and removed;
 * `migratedFrom` says so.
 */
export function readEntry(
  path: string,
  key: string,
  legacy?: () => { path: string; key: string } | undefined,
): (CacheEntry & { migratedFrom?: string }) | undefined | { error: string } {
  if (existsSync(path)) return readSafetensorsEntry(path, key);
  const old = legacy?.();
  if (!old || !existsSync(old.path)) return undefined;
  const entry = readLegacyEntry(old.path, old.key);
  if ('error' in entry) return { error: `${old.path}: ${entry.error}` };
  const moved = { ...entry, key };
  writeEntry(path, moved);
  try {
    unlinkSync(old.path);
  } catch {
    /* read-only cache folder: it is read again next time */
  }
  return { ...moved, migratedFrom: old.path };
}
