// The reliability scripts at test size: addon stability (RSS over consecutive kernel calls, cancel,
// concurrency) and crash safety (SIGKILL at random points of `lmkernel run`, then resume; concurrent
// appenders). The full runs: `node --expose-gc scripts/addon-stability.mjs` (100 calls) and
// `node scripts/crash-safety.mjs` (8 trials). Both scripts run the built dist/: it is rebuilt here when
// older than lib/.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDist } from './helpers/dist.js';
import { needsData, repoRoot } from './helpers/fixtures.js';

beforeAll(ensureDist, 300_000);

function runScript(script: string, args: string[], nodeArgs: string[] = []) {
  const r = spawnSync(process.execPath, [...nodeArgs, join(repoRoot, 'scripts', script), ...args, '--json'], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
    timeout: 280_000,
  });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let out: Record<string, unknown>;
  try {
    out = JSON.parse(last);
  } catch {
    throw new Error(`${script} exited ${r.status}: ${r.stdout}\n${r.stderr}`);
  }
  return { status: r.status, out };
}

describe('reliability scripts (reduced sizes)', () => {
  it('addon stability: 30 kernel calls with stable RSS, a cancelled call, two calls in flight', () => {
    const { status, out } = runScript(
      'addon-stability.mjs',
      ['--calls', '30', '--warmup', '5', '--tol', '0.08'],
      ['--expose-gc'],
    );
    expect(out.failures).toEqual([]);
    expect(out.cancelled).toBe(true);
    expect(status).toBe(0);
  }, 300_000);

  needsData.it(
    'crash safety: SIGKILL at random points then resume gives identical results and whole files; no lost appends',
    () => {
      const { status, out } = runScript('crash-safety.mjs', [
        '--trials',
        '2',
        '--kills',
        '2',
        '--appenders',
        '3',
        '--lines',
        '25',
      ]);
      expect(out.violations).toEqual([]);
      expect((out.trials as unknown[]).length).toBe(2);
      expect(out.appenders).toMatchObject({ lines: 75, unique: 75 });
      expect(status).toBe(0);
    },
    300_000,
  );
});
