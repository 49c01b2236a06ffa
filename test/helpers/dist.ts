// The built dist/ for tests that run lmkernel as a user does (bin/lmkernel, scripts/*.mjs): rebuilt with
// tsc when older than lib/, and a spawn helper for the command line.
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './fixtures.js';

function newest(dir: string): number {
  let t = 0;
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    const st = statSync(p);
    t = Math.max(t, st.isDirectory() ? newest(p) : st.mtimeMs);
  }
  return t;
}

/** Builds dist/ (tsc -p tsconfig.json) unless dist/cli.js is newer than every file under lib/. */
export function ensureDist(): void {
  const cli = join(repoRoot, 'dist', 'cli.js');
  if (existsSync(cli) && statSync(cli).mtimeMs >= newest(join(repoRoot, 'lib'))) return;
  const r = spawnSync(
    process.execPath,
    [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repoRoot, 'tsconfig.json')],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`tsc failed: ${r.stdout}${r.stderr}`);
}

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node [nodeArgs] bin/lmkernel args`; `onStderr` sees the stderr text so far and may act on the
 * child (e.g. send SIGINT once a line appears).
 */
export function lmkernel(
  args: string[],
  o: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv; onStderr?: (text: string, kill: (s: NodeJS.Signals) => void) => void } = {},
): Promise<CliResult> {
  const opts: SpawnOptions = { env: { ...process.env, OMP_NUM_THREADS: '1', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] };
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), join(repoRoot, 'bin', 'lmkernel'), ...args], opts);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => {
    stderr += d;
    o.onStderr?.(stderr, (s) => child.kill(s));
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}
