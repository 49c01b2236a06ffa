// The runner's former cache entry format, read only to rewrite old entries as safetensors (cache.ts):
//   bytes 0..7    magic "LMKC0001"
//   bytes 8..11   uint32 LE: length H of the JSON header (padded with spaces to a multiple of 8)
//   bytes 12..15  reserved (0)
//   16..16+H      JSON header {key, meta, arrays: [{name, length}]}
//   then the arrays as float64 little-endian, in header order.
import { readFileSync } from 'node:fs';

export const LEGACY_MAGIC = 'LMKC0001';

interface LegacyEntry {
  key: string;
  meta: Record<string, unknown>;
  arrays: Record<string, Float64Array>;
}

/** Reads an LMKC0001 entry; `{error}` when unreadable, truncated or not the expected key. */
export function readLegacyEntry(path: string, key: string): LegacyEntry | { error: string } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    return { error: (e as Error).message };
  }
  if (buf.length < 16 || buf.toString('latin1', 0, 8) !== LEGACY_MAGIC) return { error: 'not an lmkernel cache file' };
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
    arrays[a.name] = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++, off += 8) arrays[a.name][i] = buf.readDoubleLE(off);
  }
  return { key, meta: header.meta, arrays };
}
