#!/usr/bin/env node
// Builds the native addon with cmake-js (incremental). Without --force, an addon that already loads
// (a prebuild or an earlier build) is kept. Nothing is downloaded: cmake-js takes Node's headers from
// the node-api-headers package.
//
// Before cmake-js runs, the toolchain (cmake, a C++ compiler) and libtorch are looked for the way
// CMakeLists.txt's find_package(Torch) looks for them, so that a machine without them gets one message
// naming the fix instead of a CMake trace. LMKERNEL_TORCH_SEARCH (folders separated by ':') replaces the
// system prefixes of that search (/usr/local, /usr, /, and PATH's); it exists for the tests, which hide
// the machine's libtorch with it. It only affects this check, not CMake.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
// --check: only look for the toolchain and libtorch (print where libtorch is; exit 1 as below if not)
const checkOnly = process.argv.includes('--check');
const require = createRequire(import.meta.url);

if (!force && !checkOnly) {
  try {
    require('node-gyp-build')(root);
    console.log('lmkernel: native addon loads, build skipped (npm run build:native to rebuild)');
    process.exit(0);
  } catch {
    /* build below */
  }
}

const isDir = (p) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};
const subdirs = (dir, re) => {
  try {
    return readdirSync(dir).filter((n) => re.test(n) && isDir(join(dir, n)));
  } catch {
    return [];
  }
};
const hasTorchConfig = (dir) => existsSync(join(dir, 'TorchConfig.cmake')) || existsSync(join(dir, 'torch-config.cmake'));

/** The folders CMake's find_package(Torch) (config mode) looks in under one prefix. */
function torchConfigDirs(prefix) {
  const dirs = [prefix, join(prefix, 'cmake'), join(prefix, 'CMake')];
  const named = (d) => subdirs(d, /^torch/i).map((n) => join(d, n));
  for (const t of named(prefix)) dirs.push(t, join(t, 'cmake'), join(t, 'CMake'));
  const libs = [...subdirs(prefix, /^lib/).map((n) => join(prefix, n)), join(prefix, 'share')];
  for (const arch of subdirs(join(prefix, 'lib'), /-linux-gnu/)) libs.push(join(prefix, 'lib', arch));
  for (const l of libs) {
    for (const t of named(join(l, 'cmake'))) dirs.push(t);
    for (const t of named(l)) dirs.push(t, join(t, 'cmake'), join(t, 'CMake'));
  }
  return dirs;
}
const prefixHasTorch = (prefix) => !!prefix && isDir(prefix) && torchConfigDirs(prefix).some(hasTorchConfig);
const splitList = (v) => (v ? v.split(/[:;]/).filter(Boolean) : []);

/** Where find_package(Torch) would find libtorch (a description), or null; notes explain misses. */
function findTorch(notes) {
  const env = process.env;
  if (env.LIBTORCH_DIR) {
    if (prefixHasTorch(env.LIBTORCH_DIR)) return `LIBTORCH_DIR=${env.LIBTORCH_DIR}`;
    notes.push(`LIBTORCH_DIR=${env.LIBTORCH_DIR} holds no TorchConfig.cmake (expected share/cmake/Torch/ in it)`);
  }
  if (env.Torch_DIR) {
    if (hasTorchConfig(env.Torch_DIR)) return `Torch_DIR=${env.Torch_DIR}`;
    notes.push(`Torch_DIR=${env.Torch_DIR} holds no TorchConfig.cmake`);
  }
  for (const v of ['Torch_ROOT', 'TORCH_ROOT', 'CMAKE_PREFIX_PATH']) {
    for (const p of splitList(env[v])) if (prefixHasTorch(p)) return `${v} (${p})`;
  }
  if (env.LMKERNEL_TORCH_FROM_PYTHON) {
    const py = spawnSync('python3', ['-c', 'import torch;print(torch.utils.cmake_prefix_path)'], { encoding: 'utf8' });
    const prefix = py.status === 0 ? py.stdout.trim() : '';
    if (prefixHasTorch(prefix)) return `LMKERNEL_TORCH_FROM_PYTHON (${prefix})`;
    notes.push(
      py.error
        ? 'LMKERNEL_TORCH_FROM_PYTHON is set but python3 is not on PATH'
        : `LMKERNEL_TORCH_FROM_PYTHON is set but \`python3 -c "import torch"\` failed or gave no libtorch: ${
            (py.stderr || py.stdout || '').trim().split('\n').pop() || prefix
          }`,
    );
  }
  const system =
    env.LMKERNEL_TORCH_SEARCH !== undefined
      ? splitList(env.LMKERNEL_TORCH_SEARCH)
      : [
          ...splitList(env.PATH)
            .filter((p) => /\/s?bin\/?$/.test(p))
            .map((p) => dirname(p.replace(/\/$/, ''))),
          '/usr/local',
          '/usr',
          '/',
        ];
  for (const p of system) if (prefixHasTorch(p)) return p;
  return null;
}

const onPath = (cmd) => (isAbsolute(cmd) ? existsSync(cmd) : splitList(process.env.PATH).some((d) => existsSync(join(d, cmd))));

function preflight() {
  const missing = [];
  const notes = [];
  if (spawnSync('cmake', ['--version']).error) missing.push('cmake');
  const cxx = process.env.CXX ? [process.env.CXX.split(' ')[0]] : ['c++', 'g++', 'clang++'];
  if (!cxx.some(onPath)) missing.push('a C++ compiler (g++)');
  const torch = findTorch(notes);
  if (!torch) missing.push('libtorch');
  if (missing.length === 0) {
    for (const n of notes) console.log(`lmkernel: note: ${n}; using libtorch from ${torch}`);
    if (checkOnly) console.log(`lmkernel: cmake, a C++ compiler and libtorch (${torch}) found`);
    return;
  }
  // The user's folder (npm sets INIT_CWD), so that the command can be pasted where npm install ran.
  const here = process.env.INIT_CWD ?? process.cwd();
  const setupPath = join(root, 'scripts', 'setup-system');
  const rel = relative(here, setupPath);
  const fixes = [
    [`bash ${rel.startsWith('..') ? setupPath : rel}`, 'Debian/Ubuntu: g++, cmake, libtorch-dev, libopenblas0-pthread'],
  ];
  if (missing.includes('libtorch')) {
    fixes.push(
      ['LIBTORCH_DIR=/path/to/libtorch npm install', "a libtorch folder (pytorch.org) or PyTorch's torch/ folder"],
      ['LMKERNEL_TORCH_FROM_PYTHON=1 npm install', "the libtorch inside python3's PyTorch (CUDA hosts)"],
    );
  }
  const width = Math.max(...fixes.map(([c]) => c.length));
  const lines = [
    `lmkernel: cannot build the native addon: ${missing.join(', ')} not found.`,
    ...notes.map((n) => `  (${n})`),
    `Fix${fixes.length > 1 ? ' (one of)' : ''}:`,
    ...fixes.map(([c, why]) => `  ${c.padEnd(width)}   # ${why}`),
    'then run npm install again.',
  ];
  console.error(lines.join('\n'));
  process.exit(1);
}

let cmakeJs;
try {
  cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
} catch {
  console.error('lmkernel: cannot build the native addon: the npm package cmake-js is missing (run npm install).');
  process.exit(1);
}
preflight();
if (checkOnly) process.exit(0);

const args = [cmakeJs, 'build', '--out', 'build', '--config', process.env.LMKERNEL_BUILD_TYPE ?? 'Release'];
for (const v of ['LIBTORCH_DIR', 'Torch_DIR', 'LMKERNEL_TORCH_FROM_PYTHON', 'LMKERNEL_SANITIZE']) {
  if (process.env[v]) args.push(`--CD${v}=${process.env[v]}`);
}
// The published package ships no C++ tests or benchmarks (package.json `files`): build only the addon.
if (!existsSync(join(root, 'native', 'tests'))) args.push('--CDLMKERNEL_TESTS=OFF');
if (!existsSync(join(root, 'native', 'bench'))) args.push('--CDLMKERNEL_BENCH=OFF');
const env = { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: String(Math.max(1, Math.min(os.cpus().length, 4))) };
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
if (r.status !== 0) {
  console.error(
    'lmkernel: the native build failed. It needs cmake, g++ and libtorch: run `bash scripts/setup-system` ' +
      '(Debian: libtorch-dev, libopenblas0-pthread), or point LIBTORCH_DIR at a libtorch folder.',
  );
  process.exit(r.status ?? 1);
}
