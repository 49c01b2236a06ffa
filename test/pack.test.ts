// The published package: scripts/build-native.mjs's one message on a machine without libtorch (fast),
// the `npm pack` file list (scripts/check-pack.mjs --list, seconds), and the packed tarball installed
// into an empty project, its addon built from source and `npx lmkernel demo` run there
// (scripts/check-pack.mjs: npm registry or cache, cmake, g++, libtorch; about 4 minutes on 2 cores).
// LMKERNEL_SKIP_PACK=1 skips that last test (CI counts a skip as a failure).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const buildNative = join(root, 'scripts', 'build-native.mjs');
const checkPack = join(root, 'scripts', 'check-pack.mjs');

/** The environment of a machine whose libtorch cannot be found (the search's system roots hidden). */
function noTorchEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LMKERNEL_TORCH_SEARCH: '/nonexistent', ...extra };
  for (const v of ['LIBTORCH_DIR', 'Torch_DIR', 'Torch_ROOT', 'TORCH_ROOT', 'CMAKE_PREFIX_PATH', 'LMKERNEL_TORCH_FROM_PYTHON']) {
    if (!(v in extra)) delete env[v];
  }
  return env;
}

function runBuildNative(env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [buildNative, '--force'], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const FIXES = [
  'bash scripts/setup-system',
  'LIBTORCH_DIR=/path/to/libtorch npm install',
  'LMKERNEL_TORCH_FROM_PYTHON=1 npm install',
];

describe('build-native.mjs without libtorch', () => {
  it('exits 1 with one message naming the three fixes, before CMake runs', () => {
    const r = runBuildNative(noTorchEnv({ INIT_CWD: root }));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('lmkernel: cannot build the native addon: libtorch not found.');
    for (const fix of FIXES) expect(r.stderr).toContain(fix);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toMatch(/CMake|cmake-js|\[ *\d+%\]/);
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(6);
  });

  it('says why a LIBTORCH_DIR or LMKERNEL_TORCH_FROM_PYTHON given did not do', () => {
    const empty = mkdtempSync(join(os.tmpdir(), 'lmk-no-torch-'));
    try {
      const r = runBuildNative(noTorchEnv({ INIT_CWD: root, LIBTORCH_DIR: empty }));
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`LIBTORCH_DIR=${empty} holds no TorchConfig.cmake`);
      expect(r.stderr).toContain('libtorch not found');
      // python3 is absent from this PATH: the note says so
      const r2 = runBuildNative(noTorchEnv({ INIT_CWD: root, LMKERNEL_TORCH_FROM_PYTHON: '1', PATH: empty }));
      expect(r2.status).toBe(1);
      expect(r2.stderr).toContain('LMKERNEL_TORCH_FROM_PYTHON is set but python3 is not on PATH');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('names cmake and the compiler when they are missing too, and the path to setup-system from INIT_CWD', () => {
    const empty = mkdtempSync(join(os.tmpdir(), 'lmk-no-tools-'));
    try {
      const r = runBuildNative(noTorchEnv({ INIT_CWD: join(root, '..'), PATH: empty, CXX: '' }));
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('cmake, a C++ compiler (g++), libtorch not found.');
      expect(r.stderr).toContain(`bash ${join(root.split('/').pop() ?? '', 'scripts', 'setup-system')}`);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('npm pack', () => {
  it('ships exactly dist/, bin/, the native sources, the install scripts, the demo model and the md5 list', () => {
    const r = spawnSync(process.execPath, [checkPack, '--list'], { cwd: root, encoding: 'utf8', timeout: 170_000 });
    expect(r.status, `${r.stdout.slice(-3000)}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/check-pack: lmkernel-[\d.]+\.tgz: \d+ files/);
  }, 180_000);

  it.skipIf(process.env.LMKERNEL_SKIP_PACK === '1')(
    'the tarball installs into an empty project (addon built from source) and runs `npx lmkernel demo`',
    () => {
      const r = spawnSync(process.execPath, [checkPack], { cwd: root, encoding: 'utf8', timeout: 880_000 });
      expect(r.status, `${r.stdout.slice(-6000)}\n${r.stderr.slice(-6000)}`).toBe(0);
      expect(r.stdout).toContain('check-pack: all steps ok');
    },
    900_000,
  );
});
