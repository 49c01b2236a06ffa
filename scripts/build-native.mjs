#!/usr/bin/env node
// Builds the native addon with cmake-js (incremental). Without --force, an addon that already loads
// (a prebuild or an earlier build) is kept. Nothing is downloaded: cmake-js takes Node's headers from
// the node-api-headers package.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const require = createRequire(import.meta.url);

if (!force) {
  try {
    require('node-gyp-build')(root);
    console.log('lmkernel: native addon loads, build skipped (npm run build:native to rebuild)');
    process.exit(0);
  } catch {
    /* build below */
  }
}
const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
const args = [cmakeJs, 'build', '--out', 'build', '--config', process.env.LMKERNEL_BUILD_TYPE ?? 'Release'];
for (const v of ['LIBTORCH_DIR', 'Torch_DIR', 'LMKERNEL_TORCH_FROM_PYTHON', 'LMKERNEL_SANITIZE']) {
  if (process.env[v]) args.push(`--CD${v}=${process.env[v]}`);
}
const env = { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: String(Math.max(1, Math.min(os.cpus().length, 4))) };
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
if (r.status !== 0) {
  console.error(
    'lmkernel: the native build failed. It needs cmake, g++ and libtorch: run `bash scripts/setup-system` ' +
      '(Debian: libtorch-dev, libopenblas0-pthread), or point LIBTORCH_DIR at a libtorch folder.',
  );
  process.exit(r.status ?? 1);
}
