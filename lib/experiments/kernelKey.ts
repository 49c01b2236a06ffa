// The kernel cache key of one seed: what changes the numbers (model content, encoded inputs, options) and
// ENGINE_VERSION (cache.ts), never the addon binary, so a rebuild reuses every entry. The binary's hash,
// the engine's part of the former keys, is computed only to find the former `.lmkc` entries of this build
// (rewritten as safetensors by readEntry) and only when the cache folder holds any.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../addon/load.js';
import { entryPath, fileSha256, hashJson, kernelCacheKey, readEntry, type CacheEntry } from './cache.js';
import type { KernelRun } from './kernelSpec.js';
import { RUNNER_VERSION, type EncodedSplits, type SeedHead } from './prepare.js';

/** What changes the numbers of one seed's kernels (with ENGINE_VERSION, the cache key: kernelCacheKey). */
export function kernelKeyMaterial(
  run: KernelRun,
  e: EncodedSplits,
  head: SeedHead | null,
  seed: number,
): Record<string, unknown> {
  return {
    // LoRA (subset 'lora'): the rank, alpha and A's seed; absent otherwise, so that the other keys stay.
    ...(run.lora ? { lora: { r: run.lora.r, alpha: run.lora.alpha, seed: run.lora.seed ?? seed } } : {}),
    v: RUNNER_VERSION,
    model: run.prepared.modelId,
    dtype: run.dtype,
    mode: run.output,
    formula: run.formula,
    subset: run.subset,
    binary: run.binary,
    labelWordIds: run.prepared.labelWordIds,
    classifier: head ? head.id : run.output === 'standard' ? 'checkpoint' : null,
    train: hashJson(e.train),
    eval: hashJson([...e.dev, ...e.test]),
    // exact kernels keep the keys they had before precision modes existed
    ...(run.precision === 'fast' ? { precision: 'fast' } : {}),
    // with the asymmetric kernel's flip ⟨g(train), sign g(x)⟩ (asym with a λ ≠ 1); absent without it
    ...(run.flipped ? { flipped: true } : {}),
  };
}

/**
 * The key materials whose entries may serve a seed's kernels, the seed's own first: an entry with the
 * asymmetric kernel's flip also serves a request without it, and a request with the flip may take an entry
 * keyed without it that has it (those written before the flip was optional); the caller checks that.
 */
export function kernelKeyCandidates(material: Record<string, unknown>): Record<string, unknown>[] {
  if (material.formula !== 'asymmetric_signgd') return [material];
  const { flipped, ...plain } = material;
  return flipped ? [material, plain] : [material, { ...material, flipped: true }];
}

/**
 * The addon binary's hash, the engine's part of the kernel keys before ENGINE_VERSION: needed only to find
 * the former `.lmkc` entries of this build (to rewrite them as safetensors), and only when there are any.
 */
function legacyEngineId(): string {
  try {
    const require = createRequire(import.meta.url);
    return fileSha256(require('node-gyp-build').path(packageRoot()) as string);
  } catch {
    return 'unknown';
  }
}
let legacyEngine: string | undefined;

/** The former `.lmkc` entry of a kernel key's material, when the cache folder holds such entries. */
export function legacyKernelEntry(dir: string, material: Record<string, unknown>) {
  return () => {
    const kernels = join(dir, 'kernels');
    if (!existsSync(kernels) || !readdirSync(kernels).some((f) => f.endsWith('.lmkc'))) return undefined;
    legacyEngine ??= legacyEngineId();
    const key = hashJson({ ...material, kind: 'kernels', engine: legacyEngine });
    return { path: entryPath(dir, 'kernels', key, 'lmkc'), key };
  };
}

/**
 * The cache entry that serves a seed's kernels and its key: the first of kernelKeyCandidates whose entry
 * is readable and, when the flip is asked for, has it. Unreadable files are logged and skipped.
 */
export function findKernelEntry(
  dir: string,
  material: Record<string, unknown>,
  log: (msg: string) => void,
): { entry?: CacheEntry; key: string } {
  for (const m of kernelKeyCandidates(material)) {
    const key = kernelCacheKey(m);
    const path = entryPath(dir, 'kernels', key);
    const got = readEntry(path, key, legacyKernelEntry(dir, m));
    if (got && 'error' in got) log(`ignoring unreadable cache file ${path} (${got.error})`);
    else if (got && (!material.flipped || got.arrays.trainEvalFlipped)) {
      if (got.migratedFrom) log(`cache entry ${got.migratedFrom} rewritten as ${path}`);
      return { entry: got, key };
    }
  }
  return { key: kernelCacheKey(material) };
}
