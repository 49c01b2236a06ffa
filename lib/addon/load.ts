// The addon's loader. The addon is loaded once, lazily, so that the parts of lmkernel that need no
// tensors (data, prompts, reports) work without libtorch.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { typedNativeError } from '../errors.js';
import type { Addon, AddonCancelToken } from './types.js';

let cached: Addon | undefined;

export function packageRoot(): string {
  // lib/addon/load.ts (vitest) and dist/addon/load.js (built) both sit two levels below the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('lmkernel: cannot find the package root above ' + fileURLToPath(import.meta.url));
}

/** Loads the addon (once). Errors say what to run to build it. */
export function native(): Addon {
  if (cached) return cached;
  // OpenBLAS runs its own thread pool beside libtorch's. Measured on the 2-core machines
  // (scripts/bench-kernel, docs/benchmarks.md): BLAS threads = cores with one libtorch thread beat
  // both 1 BLAS x 2 torch and 2 x 2 (oversubscribed). Must be set before the library loads;
  // LMKERNEL_THREADS sets libtorch's intra-op threads.
  process.env.OPENBLAS_NUM_THREADS ??= String(availableParallelism());
  const require = createRequire(import.meta.url);
  try {
    const load = require('node-gyp-build') as (dir: string) => Addon;
    const addon = load(packageRoot());
    const t = Number(process.env.LMKERNEL_THREADS ?? '1');
    if (Number.isInteger(t) && t >= 0) addon.setThreads(t);
    cached = addon;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(
      `lmkernel: the native addon could not be loaded (${msg}). Build it with \`npm run build:native\` ` +
        '(needs cmake, g++ and libtorch: `bash scripts/setup-system`).',
      { cause: e },
    );
  }
  return cached;
}

/** Whether the loaded libtorch build sees CUDA (from the addon's runtime() description). */
export function hasCuda(): boolean {
  return /\bcuda=yes\b/.test(native().runtime());
}

/** Runs a native job with an AbortSignal wired to a CancelToken; native errors get a typed class. */
export async function withCancel<T>(signal: AbortSignal | undefined, start: (token: AddonCancelToken) => Promise<T>): Promise<T> {
  const addon = native();
  const token = new addon.CancelToken();
  if (signal?.aborted) {
    const err = new Error('the operation was aborted before it started');
    err.name = 'AbortError';
    throw err;
  }
  const onAbort = () => token.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await start(token);
  } catch (e) {
    throw typedNativeError(e);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
