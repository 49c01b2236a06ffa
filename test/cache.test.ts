// The runner's kernel cache: entries are safetensors files (readable by any safetensors reader), former
// LMKC0001 entries are read once and rewritten, and the key depends on what changes the numbers and on
// ENGINE_VERSION, never on the addon binary.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../lib/addon/load.js';
import { ENGINE_VERSION, entryPath, hashJson, kernelCacheKey, readEntry, sha256, writeEntry } from '../lib/experiments/cache.js';
import { runKernelExperiment } from '../lib/experiments/index.js';
import { decodeSafetensors } from '../lib/kernels/safetensors.js';
import { needsData } from './helpers/fixtures.js';
import { base, outcome, tmp } from './helpers/runner.js';

/** An entry in the former format (the writer of lib/experiments/cache.ts before safetensors). */
function writeLmkc(path: string, key: string, meta: object, arrays: Record<string, Float64Array>): void {
  const names = Object.keys(arrays);
  let h = Buffer.from(JSON.stringify({ key, meta, arrays: names.map((name) => ({ name, length: arrays[name].length })) }));
  if (h.length % 8) h = Buffer.concat([h, Buffer.alloc(8 - (h.length % 8), 0x20)]);
  const out = Buffer.alloc(16 + h.length + names.reduce((s, n) => s + arrays[n].length * 8, 0));
  out.write('LMKC0001', 0, 'latin1');
  out.writeUInt32LE(h.length, 8);
  h.copy(out, 16);
  let off = 16 + h.length;
  for (const n of names) for (const v of arrays[n]) off = out.writeDoubleLE(v, off);
  writeFileSync(path, out);
}

const arrays = () => ({ trainTrain: Float64Array.from([1, 2, 3, 4]), f0Train: Float64Array.from([0.5, -0.5]) });

describe('cache entries', () => {
  it('are safetensors files: F64 tensors with their shapes, key and meta in __metadata__', () => {
    const dir = tmp('lmk-cache-');
    const path = entryPath(dir, 'kernels', 'k1');
    expect(path.endsWith('k1.safetensors')).toBe(true);
    writeEntry(path, { key: 'k1', meta: { gradDim: 7 }, arrays: arrays(), shapes: { trainTrain: [1, 2, 1, 2] } });
    const st = decodeSafetensors(readFileSync(path), path);
    expect(st.metadata).toMatchObject({ format: 'lmkernel.cache', key: 'k1', meta: '{"gradDim":7}' });
    expect(st.tensors.trainTrain).toMatchObject({ dtype: 'F64', shape: [1, 2, 1, 2] });
    expect(st.tensors.f0Train.shape).toEqual([2]);
    const e = readEntry(path, 'k1');
    expect(e && !('error' in e) && Array.from(e.arrays.trainTrain)).toEqual([1, 2, 3, 4]);
    expect(readEntry(path, 'k2')).toEqual({ error: 'holds key k1, expected k2' });
    expect(readEntry(entryPath(dir, 'kernels', 'none'), 'none')).toBeUndefined();
    writeFileSync(path, readFileSync(path).subarray(0, 60));
    expect(readEntry(path, 'k1')).toMatchObject({ error: expect.stringMatching(/truncated/) });
  });

  it('a former LMKC0001 entry is read once, rewritten as safetensors under the new key, and removed', () => {
    const dir = tmp('lmk-cache-');
    const old = entryPath(dir, 'kernels', 'oldkey', 'lmkc');
    writeEntry(join(dir, 'kernels', 'other.safetensors'), { key: 'other', meta: {}, arrays: arrays() }); // creates the folder
    writeLmkc(old, 'oldkey', { gradDim: 3 }, arrays());
    const path = entryPath(dir, 'kernels', 'newkey');
    const legacy = () => ({ path: old, key: 'oldkey' });
    const e = readEntry(path, 'newkey', legacy);
    expect(e).toMatchObject({ key: 'newkey', meta: { gradDim: 3 }, migratedFrom: old });
    expect(existsSync(old)).toBe(false);
    const again = readEntry(path, 'newkey', legacy);
    expect(again && !('error' in again) && again.migratedFrom).toBeUndefined();
    expect(again && !('error' in again) && Array.from(again.arrays.f0Train)).toEqual([0.5, -0.5]);
    // an unreadable former entry is an error naming it (the runner logs it and recomputes)
    writeFileSync(old, 'LMKC0001 and then nothing useful');
    expect(readEntry(entryPath(dir, 'kernels', 'k3'), 'k3', legacy)).toMatchObject({ error: expect.stringContaining(old) });
  });

  it('the kernel key is a function of the key material and ENGINE_VERSION only', () => {
    const material = { v: 1, model: 'm', dtype: 'float64', train: 'a', eval: 'b' };
    expect(kernelCacheKey(material)).toBe(kernelCacheKey({ ...material }));
    expect(kernelCacheKey(material)).toBe(hashJson({ ...material, kind: 'kernels', engine: ENGINE_VERSION }));
    expect(kernelCacheKey(material, ENGINE_VERSION + 1)).not.toBe(kernelCacheKey(material));
    expect(kernelCacheKey({ ...material, dtype: 'float32' })).not.toBe(kernelCacheKey(material));
  });
});

/** The addon binary's sha256 (what the former keys held). */
const addonHash = () => sha256(readFileSync(createRequire(import.meta.url)('node-gyp-build').path(packageRoot())));

needsData.describe('the runner and its cache (SST-2, 16-shot, tiny RoBERTa)', () => {
  it('keys on the inputs and ENGINE_VERSION, not the addon binary; rewrites a former .lmkc entry once', async () => {
    const dir = tmp('lmk-cache-run-');
    const a = await runKernelExperiment(base(dir, { out: join(dir, 'a.jsonl') }));
    const kdir = join(dir, 'cache', 'kernels');
    const [file] = readdirSync(kdir);
    expect(file).toBe(`${a.lines[0].kernel_key}.safetensors`);
    const st = decodeSafetensors(readFileSync(join(kdir, file)), file);
    const meta = JSON.parse(st.metadata.meta);
    const [N, C] = [a.lines[0].n_train, meta.numOutputs];
    expect(st.tensors.trainTrain.shape).toEqual([N, C, N, C]);
    // the key is the material's and the engine version's: nothing of the binary (path or content) in it
    const material = meta.keyMaterial;
    expect(a.lines[0].kernel_key).toBe(kernelCacheKey(material));
    const bin = addonHash();
    expect(JSON.stringify(material)).not.toContain(bin);
    expect(JSON.stringify(material)).not.toMatch(/\.node\b/);

    // the entry in the former format, under the former key (engine = the binary's hash) of this build
    const legacyKey = hashJson({ ...material, kind: 'kernels', engine: bin });
    const arrays = Object.fromEntries(Object.entries(st.tensors).map(([n, t]) => [n, Float64Array.from(t.data)]));
    writeLmkc(join(kdir, `${legacyKey}.lmkc`), legacyKey, meta, arrays);
    rmSync(join(kdir, file));
    const msgs: string[] = [];
    const b = await runKernelExperiment(base(dir, { out: join(dir, 'b.jsonl'), log: (m) => msgs.push(m) }));
    expect(b.lines[0].kernel_cache).toBe('hit');
    expect(b.modelLoaded).toBe(false);
    expect(outcome(b.lines[0])).toEqual(outcome(a.lines[0]));
    expect(msgs.join('\n')).toMatch(/cache entry .*\.lmkc rewritten as .*\.safetensors/);
    expect(readdirSync(kdir)).toEqual([file]);
    const c = await runKernelExperiment(base(dir, { out: join(dir, 'c.jsonl') }));
    expect(c.lines[0].kernel_cache).toBe('hit');
  });
});
