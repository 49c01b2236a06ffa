// Typed view of the native addon and its loader. The addon is loaded once, lazily, so that the parts of
// lmkernel that need no tensors (data, prompts, reports) work without libtorch.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { typedNativeError } from './errors.js';

export interface CancelTokenHandle {
  cancel(): void;
  cancelled(): boolean;
}

export type ProgressFn = (phase: string, done: number, total: number) => void;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NativeAddon = Record<string, any> & {
  torchVersion: string;
  CancelToken: new () => CancelTokenHandle;
};

let cached: NativeAddon | undefined;

export function packageRoot(): string {
  // lib/native.ts (vitest) and dist/native.js (built) both sit one level below the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 3; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('lmkernel: cannot find the package root above ' + fileURLToPath(import.meta.url));
}

/** Loads the addon (once). Errors say what to run to build it. */
export function native(): NativeAddon {
  if (cached) return cached;
  // OpenBLAS runs its own thread pool beside libtorch's. Measured on the 2-core machines
  // (scripts/bench-kernel, docs/benchmarks.md): BLAS threads = cores with one libtorch thread beat
  // both 1 BLAS x 2 torch and 2 x 2 (oversubscribed). Must be set before the library loads;
  // LMKERNEL_THREADS sets libtorch's intra-op threads.
  process.env.OPENBLAS_NUM_THREADS ??= String(availableParallelism());
  const require = createRequire(import.meta.url);
  const root = packageRoot();
  try {
    cached = require('node-gyp-build')(root) as NativeAddon;
    const t = Number(process.env.LMKERNEL_THREADS ?? '1');
    if (Number.isInteger(t) && t >= 0) cached.setThreads(t);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(
      `lmkernel: the native addon could not be loaded (${msg}). Build it with \`npm run build:native\` ` +
        '(needs cmake, g++ and libtorch: `bash scripts/setup-system`).',
    );
  }
  return cached;
}

/** Runs a native job with an AbortSignal wired to a CancelToken. */
export async function withCancel<T>(
  signal: AbortSignal | undefined,
  start: (token: CancelTokenHandle) => Promise<T>,
): Promise<T> {
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
