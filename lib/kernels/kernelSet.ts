// A kernel file's content in memory, whatever its format: flat float64 kernels, f0 and the metadata.
// The two formats of `lmkernel kernel --out` (chosen by the extension) are
//   OUT.json         the nested JSON of lib/kernels/file.ts (the layout of the fixtures), with the extra
//                    metadata (model hash, output kind, ...) in a "metadata" object;
//   OUT.safetensors  float64 tensors `<formula>.train_train` [N, C, N, C], `<formula>.train_test`
//                    [N, C, M, C], `asymmetric_signgd.train_test_flipped`, `f0_train` [N, C], `f0_test`
//                    [M, C]; the metadata in `__metadata__` (string values; the others JSON-encoded).
// `lmkernel solve` and `lmkernel merge` read both (by content, so a misnamed file still reads).
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../addon/load.js';
import { InputError } from '../errors.js';
import { readJsonFile, writeFileAtomic } from '../io.js';
import type { KernelResult } from '../model.js';
import type { Kernel } from '../types.js';
import { isPlainObject } from '../validate.js';
import { modelContentId } from '../experiments/prepare.js';
import { numOutputsOf, tilingOf, type KernelFile, type KernelFileTiling } from './file.js';
import { flatRows, flatToNested, nestedToFlat, rowsOfFlat } from './layout.js';
import { looksLikeSafetensors, readSafetensors, writeSafetensors, type Tensor } from './safetensors.js';

export const KERNEL_PARTS = ['train_train', 'train_test', 'train_test_flipped'] as const;
export type KernelPart = (typeof KERNEL_PARTS)[number];

/** What else is known of a kernel computation (all optional: old JSON files have none of it). */
export interface KernelInfo {
  /** Content id of the model (sha256 over config.json and model.safetensors; the result lines' model_id). */
  model_id?: string;
  output?: string;
  binary?: boolean;
  subset?: string;
  label_word_ids?: number[] | null;
  dtype?: string;
  lmkernel_version?: string;
}

export interface KernelSet {
  gradDim: number;
  numOutputs: number;
  nTrain: number;
  nTest: number;
  paramNames?: string[];
  /** [nTrain, C] and [nTest, C], row-major (absent only in hand-made JSON files). */
  f0Train?: Float64Array;
  f0Test?: Float64Array;
  /** formula → part → [N, C, M, C]. */
  kernels: Record<string, Partial<Record<KernelPart, Kernel>>>;
  tiling?: KernelFileTiling;
  info: KernelInfo;
}

/** lmkernel's version (package.json). */
export function lmkernelVersion(): string {
  try {
    return String(JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version);
  } catch {
    return 'unknown';
  }
}

/** The metadata of a kernel computation on the model folder `modelDir` with the given options. */
export function kernelInfoOf(modelDir: string, opts: Omit<KernelInfo, 'model_id' | 'lmkernel_version'>): KernelInfo {
  return { model_id: modelContentId(modelDir), ...opts, lmkernel_version: lmkernelVersion() };
}

const INFO_KEYS = ['model_id', 'output', 'binary', 'subset', 'label_word_ids', 'dtype', 'lmkernel_version'] as const;

/** The kernel set of a kernel computation (`info`: what the caller knows of it). */
export function kernelSetOf(res: KernelResult, info: KernelInfo = {}): KernelSet {
  const kernels: KernelSet['kernels'] = {};
  for (const [f, k] of Object.entries(res.kernels)) {
    kernels[f] = { train_train: k.trainTrain, train_test: k.trainTest };
    if (k.trainTestFlipped) kernels[f].train_test_flipped = k.trainTestFlipped;
  }
  return {
    gradDim: res.gradDim,
    numOutputs: res.numOutputs,
    nTrain: res.nTrain,
    nTest: res.nTest,
    paramNames: res.paramNames,
    f0Train: res.nTrain > 0 ? flatRows(res.f0Train) : new Float64Array(0),
    f0Test: res.nTest > 0 ? flatRows(res.f0Test) : new Float64Array(0),
    kernels,
    tiling: tilingOf(res),
    info,
  };
}

/** Nested [N][C][M][C] → flat; unlike nestedToFlat, an empty dimension (no test set) is allowed. */
function flatKernel(k: unknown, what: string): Kernel {
  if (Array.isArray(k)) {
    const [N, C, M] = [k.length, k[0]?.length ?? 0, k[0]?.[0]?.length ?? 0];
    if (N * C * M === 0) return { shape: [N, C, M, C], data: new Float64Array(0) };
  }
  return nestedToFlat(k, what);
}

/** f0 rows [N][C] → flat, checked; undefined when absent. */
function flatF0(rows: unknown, N: number, C: number, what: string): Float64Array | undefined {
  if (rows === undefined) return undefined;
  if (!Array.isArray(rows) || rows.length !== N || rows.some((r) => !Array.isArray(r) || r.length !== C))
    throw new InputError(what, `expected ${N} rows of ${C} numbers`);
  const out = new Float64Array(N * C);
  (rows as number[][]).forEach((r, i) => out.set(r, i * C));
  return out;
}

/** The kernel set of a JSON kernel file (`where` names it in errors). */
export function kernelSetFromJson(doc: unknown, where: string): KernelSet {
  if (!isPlainObject(doc) || !isPlainObject(doc.kernels))
    throw new InputError(where, 'expected a kernel file: an object with "kernels"');
  const { numOutputs } = numOutputsOf(doc, where);
  const kernels: KernelSet['kernels'] = {};
  let nTrain = Array.isArray(doc.f0_train) ? doc.f0_train.length : 0;
  let nTest = Array.isArray(doc.f0_test) ? doc.f0_test.length : 0;
  for (const [f, parts] of Object.entries(doc.kernels)) {
    if (!isPlainObject(parts)) throw new InputError(where, `"kernels.${f}" is not an object`);
    kernels[f] = {};
    for (const [p, k] of Object.entries(parts)) {
      if (!(KERNEL_PARTS as readonly string[]).includes(p)) continue;
      const flat = flatKernel(k, `${where}: kernels.${f}.${p}`);
      kernels[f][p as KernelPart] = flat;
      nTrain = flat.shape[0];
      if (p !== 'train_train') nTest = flat.shape[2];
    }
  }
  const meta = isPlainObject(doc.metadata) ? doc.metadata : {};
  const info: KernelInfo = {};
  for (const key of INFO_KEYS) if (meta[key] !== undefined) (info as Record<string, unknown>)[key] = meta[key];
  return {
    gradDim: doc.grad_dim as number,
    numOutputs,
    nTrain,
    nTest,
    paramNames: doc.param_names as string[] | undefined,
    f0Train: flatF0(doc.f0_train, nTrain, numOutputs, `${where}: f0_train`),
    f0Test: flatF0(doc.f0_test, nTest, numOutputs, `${where}: f0_test`),
    kernels,
    tiling: doc.tiling as KernelFileTiling | undefined,
    info,
  };
}

/** The JSON kernel file (the nested layout of today's `kernel --out OUT.json`, plus "metadata"). */
export function kernelSetToJson(s: KernelSet): KernelFile & { metadata?: KernelInfo } {
  const kernels: KernelFile['kernels'] = {};
  for (const [f, parts] of Object.entries(s.kernels)) {
    kernels[f] = {};
    for (const p of KERNEL_PARTS) if (parts[p]) kernels[f][p] = flatToNested(parts[p]);
  }
  const out: KernelFile & { metadata?: KernelInfo } = {
    grad_dim: s.gradDim,
    num_outputs: s.numOutputs,
    param_names: s.paramNames,
    f0_train: s.f0Train ? rowsOfFlat(s.f0Train, s.nTrain) : (undefined as unknown as number[][]),
    f0_test: s.f0Test ? rowsOfFlat(s.f0Test, s.nTest) : (undefined as unknown as number[][]),
    kernels,
    tiling: s.tiling,
  };
  if (Object.keys(s.info).length > 0) out.metadata = s.info;
  return out;
}

/** Tensors and string metadata of the safetensors kernel file. */
export function kernelSetToSafetensors(s: KernelSet): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const tensors: Record<string, Tensor> = {};
  for (const [f, parts] of Object.entries(s.kernels))
    for (const p of KERNEL_PARTS) {
      const k = parts[p];
      if (k) tensors[`${f}.${p}`] = { dtype: 'F64', shape: [...k.shape], data: k.data };
    }
  if (s.f0Train) tensors.f0_train = { dtype: 'F64', shape: [s.nTrain, s.numOutputs], data: s.f0Train };
  if (s.f0Test) tensors.f0_test = { dtype: 'F64', shape: [s.nTest, s.numOutputs], data: s.f0Test };
  const fields: Record<string, unknown> = {
    format: 'lmkernel.kernels',
    grad_dim: s.gradDim,
    num_outputs: s.numOutputs,
    n_train: s.nTrain,
    n_test: s.nTest,
    formulas: Object.keys(s.kernels),
    shapes: Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, t.shape])),
    param_names: s.paramNames,
    tiling: s.tiling,
    ...s.info,
  };
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return { tensors, metadata };
}

/** A metadata value: JSON-decoded unless the key holds a plain string. */
function metaValue(meta: Record<string, string>, key: string, where: string): unknown {
  const v = meta[key];
  if (v === undefined || ['format', 'model_id', 'output', 'subset', 'dtype', 'lmkernel_version'].includes(key)) return v;
  try {
    return JSON.parse(v);
  } catch {
    throw new InputError(where, `__metadata__ "${key}" is not JSON: ${v.slice(0, 80)}`);
  }
}

/** The kernel set of a safetensors kernel file; its tensors are checked against the metadata's shapes. */
export function kernelSetFromSafetensors(path: string): KernelSet {
  const { tensors, metadata } = readSafetensors(path);
  const m = (k: string) => metaValue(metadata, k, path);
  if (m('format') !== 'lmkernel.kernels')
    throw new InputError(
      path,
      'a safetensors file, but not a kernel file of `lmkernel kernel` (no __metadata__ "format": "lmkernel.kernels")',
    );
  const numOutputs = numOutputsOf({ num_outputs: m('num_outputs') }, path).numOutputs;
  const [nTrain, nTest] = [m('n_train') as number, m('n_test') as number];
  const get = (name: string, shape: number[]): Float64Array => {
    const t = tensors[name];
    if (!t) throw new InputError(path, `no tensor "${name}" (has: ${Object.keys(tensors).join(', ')})`);
    if (t.shape.join() !== shape.join())
      throw new InputError(path, `tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    return t.data instanceof Float64Array ? t.data : Float64Array.from(t.data);
  };
  const kernels: KernelSet['kernels'] = {};
  for (const f of m('formulas') as string[]) {
    kernels[f] = {};
    for (const p of KERNEL_PARTS) {
      if (!tensors[`${f}.${p}`]) continue;
      const shape: Kernel['shape'] = [nTrain, numOutputs, p === 'train_train' ? nTrain : nTest, numOutputs];
      kernels[f][p] = { shape, data: get(`${f}.${p}`, shape) };
    }
  }
  const info: KernelInfo = {};
  for (const key of INFO_KEYS) if (metadata[key] !== undefined) (info as Record<string, unknown>)[key] = m(key);
  return {
    gradDim: m('grad_dim') as number,
    numOutputs,
    nTrain,
    nTest,
    paramNames: m('param_names') as string[] | undefined,
    f0Train: tensors.f0_train ? get('f0_train', [nTrain, numOutputs]) : undefined,
    f0Test: tensors.f0_test ? get('f0_test', [nTest, numOutputs]) : undefined,
    kernels,
    tiling: m('tiling') as KernelFileTiling | undefined,
    info,
  };
}

const isSafetensorsPath = (path: string) => path.toLowerCase().endsWith('.safetensors');

/** The first bytes of a file (to tell the formats apart by content). */
function headOf(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new InputError(path, `cannot read the file: ${(e as Error).message}`);
  }
  try {
    const buf = Buffer.alloc(16);
    return buf.subarray(0, readSync(fd, buf, 0, 16, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a kernel file in either format: `.safetensors` files (or any file whose bytes are safetensors) as
 * safetensors, the rest as JSON. `extra` holds the JSON file's other top-level fields (train_labels, ...).
 */
export function readKernelFile(path: string, what = 'kernel file'): { set: KernelSet; extra: Record<string, unknown> } {
  if (isSafetensorsPath(path) || looksLikeSafetensors(headOf(path))) return { set: kernelSetFromSafetensors(path), extra: {} };
  const doc = readJsonFile(path, what);
  const set = kernelSetFromJson(doc, path);
  return { set, extra: doc as Record<string, unknown> };
}

/** Writes a kernel file atomically; the format follows the extension (`.safetensors`, else JSON). */
export function writeKernelFile(path: string, set: KernelSet): void {
  if (isSafetensorsPath(path)) {
    const { tensors, metadata } = kernelSetToSafetensors(set);
    writeSafetensors(path, tensors, metadata);
  } else writeFileAtomic(path, JSON.stringify(kernelSetToJson(set)));
}
