// The safetensors format (huggingface/safetensors), written and read in TypeScript for the kernel files
// and the runner's cache entries, so that numpy, PyTorch and every other safetensors reader load them:
//   bytes 0..7   uint64 LE: length H of the JSON header
//   8..8+H       JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}},
//                padded with spaces so that the data starts at a multiple of 8 (as the Rust writer does)
//   then the data buffer: the tensors' little-endian bytes, back to back, offsets relative to its start.
// Only F64 and F32 are written and read (lmkernel's kernels are float64). Every reading error is an
// InputError naming the file and what is wrong (truncated, not safetensors, overlapping tensors, ...).
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../io.js';

export type SafetensorsDtype = 'F64' | 'F32';

export interface Tensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Row-major values; F32 tensors are rounded to float32 when written. */
  data: Float64Array | Float32Array;
}

export interface SafetensorsFile {
  tensors: Record<string, Tensor>;
  /** The `__metadata__` section: string values only. */
  metadata: Record<string, string>;
}

const BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4 };
const LE = endianness() === 'LE';
/** The Rust reader's limit on the header (100 MB); a larger length is a foreign or corrupt file. */
const MAX_HEADER = 100_000_000;

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The bytes of a safetensors file holding `tensors` (in the given order) and `metadata`. */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new InputError(name, 'is reserved for the metadata');
    if (count(t.shape) !== t.data.length)
      throw new InputError(name, `shape [${t.shape.join(', ')}] needs ${count(t.shape)} values, received ${t.data.length}`);
    const end = offset + t.data.length * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - ((8 + json.length) % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let p = 8 + json.length;
  for (const t of Object.values(tensors)) {
    const typed =
      t.dtype === 'F64'
        ? t.data instanceof Float64Array
          ? t.data
          : Float64Array.from(t.data)
        : t.data instanceof Float32Array
          ? t.data
          : Float32Array.from(t.data);
    if (LE) Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength).copy(out, p);
    else if (t.dtype === 'F64') for (let i = 0; i < typed.length; i++) out.writeDoubleLE(typed[i], p + 8 * i);
    else for (let i = 0; i < typed.length; i++) out.writeFloatLE(typed[i], p + 4 * i);
    p += typed.byteLength;
  }
  return out;
}

/** Writes a safetensors file atomically (temporary file, fsync, rename: lib/io.ts). */
export function writeSafetensors(path: string, tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

interface HeaderEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  data_offsets: [number, number];
}

/** Checks one header entry; returns it typed. */
function headerEntry(where: string, name: string, v: unknown): HeaderEntry {
  const bad = (why: string) => new InputError(where, `tensor "${name}": ${why} (not a valid safetensors file?)`);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('header entry is not an object');
  const e = v as Record<string, unknown>;
  if (e.dtype !== 'F64' && e.dtype !== 'F32')
    throw bad(`dtype ${JSON.stringify(e.dtype)} is not supported (lmkernel reads F64 and F32)`);
  const shape = e.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad('"shape" is not a list of sizes');
  const off = e.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[1] < off[0])
    throw bad('"data_offsets" is not [begin, end]');
  if (off[1] - off[0] !== count(shape) * BYTES[e.dtype])
    throw bad(
      `data_offsets [${off.join(', ')}] hold ${off[1] - off[0]} bytes, shape [${shape.join(', ')}] needs ${count(shape) * BYTES[e.dtype]}`,
    );
  return { dtype: e.dtype, shape: shape as number[], data_offsets: off as [number, number] };
}

/** Parses the header; checks that the tensors tile the data buffer exactly (no gap, no overlap). */
function parseHeader(
  buf: Buffer,
  where: string,
): { entries: [string, HeaderEntry][]; metadata: Record<string, string>; start: number } {
  if (buf.length < 8) throw new InputError(where, `truncated: ${buf.length} bytes, a safetensors file has at least 8`);
  const h = buf.readBigUInt64LE(0);
  if (h > BigInt(MAX_HEADER)) throw new InputError(where, `not a safetensors file (header length ${h} is implausible)`);
  const start = 8 + Number(h);
  if (start > buf.length) throw new InputError(where, `truncated: the header needs ${start} bytes, the file has ${buf.length}`);
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', 8, start));
  } catch (e) {
    throw new InputError(where, `not a safetensors file (the header is not JSON: ${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw new InputError(where, 'not a safetensors file (the header is not a JSON object)');
  const { __metadata__: meta = {}, ...rest } = header as Record<string, unknown>;
  if (typeof meta !== 'object' || meta === null || Object.values(meta).some((v) => typeof v !== 'string'))
    throw new InputError(where, '"__metadata__" must map names to strings');
  const entries = Object.entries(rest).map(([n, v]) => [n, headerEntry(where, n, v)] as [string, HeaderEntry]);
  const sorted = [...entries].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  let end = 0;
  for (const [name, e] of sorted) {
    if (e.data_offsets[0] !== end)
      throw new InputError(
        where,
        `tensor "${name}" starts at byte ${e.data_offsets[0]} of the data, expected ${end} (gap or overlap)`,
      );
    end = e.data_offsets[1];
  }
  if (start + end !== buf.length)
    throw new InputError(
      where,
      start + end > buf.length
        ? `truncated: the tensors need ${start + end} bytes, the file has ${buf.length}`
        : `${buf.length - start - end} bytes after the last tensor (corrupt file?)`,
    );
  return { entries, metadata: meta as Record<string, string>, start };
}

/** Parses the bytes of a safetensors file (`where` names it in errors). Tensors come back as copies. */
export function decodeSafetensors(buf: Buffer, where: string): SafetensorsFile {
  const { entries, metadata, start } = parseHeader(buf, where);
  const tensors: Record<string, Tensor> = {};
  for (const [name, e] of entries) {
    const [b, end] = [start + e.data_offsets[0], start + e.data_offsets[1]];
    const n = count(e.shape);
    let data: Float64Array | Float32Array;
    if (LE) {
      const bytes = buf.buffer.slice(buf.byteOffset + b, buf.byteOffset + end); // a copy: aligned
      data = e.dtype === 'F64' ? new Float64Array(bytes) : new Float32Array(bytes);
    } else {
      data = e.dtype === 'F64' ? new Float64Array(n) : new Float32Array(n);
      const size = BYTES[e.dtype];
      for (let i = 0; i < n; i++) data[i] = size === 8 ? buf.readDoubleLE(b + 8 * i) : buf.readFloatLE(b + 4 * i);
    }
    tensors[name] = { dtype: e.dtype, shape: e.shape, data };
  }
  return { tensors, metadata: { ...metadata } };
}

/** Reads a safetensors file; errors name the file. */
export function readSafetensors(path: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new InputError(path, `cannot read the file: ${(e as Error).message}`);
  }
  return decodeSafetensors(buf, path);
}

/** Whether the bytes look like a safetensors file (a plausible header length followed by '{'). */
export function looksLikeSafetensors(head: Buffer): boolean {
  return head.length >= 9 && head.readBigUInt64LE(0) <= BigInt(MAX_HEADER) && head[8] === 0x7b;
}
