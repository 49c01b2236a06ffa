#!/usr/bin/env node
// The published package, checked as a user gets it:
//   1. pack: `npm pack` of a copy of the working tree (tracked and untracked, not ignored, files; so the
//      checkout's own dist/ and build/ stay as they are), then its file list is printed and checked
//      against what package.json's `files` is meant to ship (every file must be expected; the needed
//      ones must be there; dist/ must match lib/ one to one: no stale build output);
//   2. install without libtorch: `npm install <tarball>` into an empty project with libtorch hidden must
//      fail with build-native.mjs's one message, and no CMake output;
//   3. install: `npm install <tarball>` into an empty project builds the addon from source (cmake-js);
//   4. demo: `npx lmkernel demo` (a small run) in that project writes its table.
// Exits non-zero naming the step that failed (its log is kept; the folder is printed).
//
//   node scripts/check-pack.mjs [--list] [--keep] [--dir DIR]
//     --list  step 1 only (a few seconds)      --keep  keep the temporary folder
//     --dir   work in DIR (default: a new folder under the system's temp folder)
// Steps 2-3 need the npm registry (or npm's cache) for the dependencies, and step 3 cmake, g++ and
// libtorch (bash scripts/setup-system); step 3 takes about 3 minutes on 2 cores.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const listOnly = argv.includes('--list');
const keep = argv.includes('--keep');
const dirArg = argv.indexOf('--dir');
const work = dirArg >= 0 ? argv[dirArg + 1] : mkdtempSync(join(os.tmpdir(), 'lmkernel-pack-'));
mkdirSync(work, { recursive: true });
const t0 = Date.now();
const secs = (t) => ((Date.now() - t) / 1000).toFixed(1);

function fail(step, why, log) {
  if (log) console.error(log.split('\n').slice(-60).join('\n'));
  console.error(`check-pack: FAILED at step "${step}": ${why}`);
  console.error(`check-pack: files kept in ${work}`);
  process.exit(1);
}
/** Runs a command; its output goes to WORK/<log> and is returned. */
function run(cmd, args, opts, log) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  const out = `$ ${cmd} ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
  writeFileSync(join(work, log), out);
  return { status: r.error ? -1 : r.status, out, stdout: r.stdout ?? '' };
}

// --- 1. pack --------------------------------------------------------------------------------------
let t = Date.now();
const src = join(work, 'src');
rmSync(src, { recursive: true, force: true });
const ls = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
  cwd: root,
  encoding: 'utf8',
});
if (ls.status !== 0) fail('pack', `git ls-files failed: ${ls.stderr}`);
for (const f of ls.stdout.split('\0').filter(Boolean)) {
  if (!existsSync(join(root, f))) continue; // deleted in the working tree
  mkdirSync(dirname(join(src, f)), { recursive: true });
  cpSync(join(root, f), join(src, f));
}
symlinkSync(join(root, 'node_modules'), join(src, 'node_modules')); // for tsc (`prepare`)
const pack = run('npm', ['pack', '--json', '--pack-destination', work], { cwd: src }, 'pack.log');
if (pack.status !== 0) fail('pack', `npm pack exited ${pack.status}`, pack.out);
// lifecycle scripts (prepack, prepare) print to stdout before the JSON
const jsonStart = pack.stdout.search(/^\[/m);
let info;
try {
  info = JSON.parse(pack.stdout.slice(jsonStart))[0];
} catch (e) {
  fail('pack', `cannot read npm pack --json output (${e})`, pack.out);
}
const files = info.files.map((f) => f.path).sort();
for (const f of info.files.sort((a, b) => a.path.localeCompare(b.path))) {
  console.log(`${String(f.size).padStart(10)}  ${f.path}`);
}
console.log(
  `check-pack: ${info.filename}: ${files.length} files, ${(info.size / 1e6).toFixed(2)} MB packed, ` +
    `${(info.unpackedSize / 1e6).toFixed(2)} MB unpacked`,
);

const allowed = [
  /^package\.json$/,
  /^README\.md$/,
  /^ARCHITECTURE\.md$/,
  /^LICENSE(\.md|\.txt)?$/i,
  /^bin\/lmkernel$/,
  /^dist\/.+\.(js|d\.ts)$/,
  /^native\/(core|addon)\/[^/]+\.(cc|h)$/,
  /^CMakeLists\.txt$/,
  /^binding\.gyp$/,
  /^scripts\/(build-native\.mjs|torch-paths\.mjs|setup-system)$/,
  /^models\/demo\/(config\.json|model\.safetensors|tokenizer\.json|training\.json|prompt-selection\.json)$/,
  /^lib\/data\/LM-BFF-16-SHOT-MD5SUMS$/,
];
const required = [
  'package.json',
  'README.md',
  'ARCHITECTURE.md',
  'bin/lmkernel',
  'dist/index.js',
  'dist/index.d.ts',
  'dist/cli.js',
  'CMakeLists.txt',
  'binding.gyp',
  'scripts/build-native.mjs',
  'scripts/torch-paths.mjs',
  'scripts/setup-system',
  'native/addon/addon.cc',
  'models/demo/config.json',
  'models/demo/model.safetensors',
  'models/demo/tokenizer.json',
  'models/demo/training.json',
  'lib/data/LM-BFF-16-SHOT-MD5SUMS',
];
const problems = [];
for (const f of files) if (!allowed.some((re) => re.test(f))) problems.push(`unexpected file ${f}`);
for (const f of required) if (!files.includes(f)) problems.push(`missing ${f}`);
// dist/ is exactly the build of lib/ (prepack empties it before prepare's tsc)
const tracked = ls.stdout.split('\0').filter((f) => f && existsSync(join(root, f)));
const libTs = tracked.filter((f) => /^lib\/.+\.ts$/.test(f) && !f.endsWith('.d.ts'));
const distJs = new Set(files.filter((f) => /^dist\/.+\.js$/.test(f)));
for (const f of libTs) {
  const js = f.replace(/^lib\//, 'dist/').replace(/\.ts$/, '.js');
  if (!distJs.has(js)) problems.push(`missing ${js} (the build of ${f})`);
  distJs.delete(js);
}
for (const js of distJs) problems.push(`stale ${js} (no lib/ source)`);
for (const f of tracked.filter((f) => /^native\/(core|addon)\/[^/]+\.(cc|h)$/.test(f))) {
  if (!files.includes(f)) problems.push(`missing native source ${f}`);
}
if (problems.length) fail('pack', `the package's file list is not as intended:\n  ${problems.join('\n  ')}`);
console.log(`check-pack: step 1 (pack) ok in ${secs(t)} s`);
const tarball = join(work, info.filename);
if (listOnly) {
  if (!keep && dirArg < 0) rmSync(work, { recursive: true, force: true });
  // stdout to a pipe is written asynchronously: exiting at once can cut the list short (as it did
  // under load once the list outgrew the pipe's buffer), so wait until everything above is flushed
  await new Promise((resolve) => process.stdout.write('', resolve));
  process.exit(0);
}

// --- 2. install without libtorch ---------------------------------------------------------------------
const newProject = (name) => {
  const dir = join(work, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }, null, 2));
  return dir;
};
const npmInstall = ['install', tarball, '--no-audit', '--no-fund', '--foreground-scripts'];
t = Date.now();
{
  const dir = newProject('no-libtorch');
  const env = { ...process.env, LMKERNEL_TORCH_SEARCH: '/nonexistent' };
  for (const v of ['LIBTORCH_DIR', 'Torch_DIR', 'Torch_ROOT', 'TORCH_ROOT', 'CMAKE_PREFIX_PATH', 'LMKERNEL_TORCH_FROM_PYTHON']) {
    delete env[v];
  }
  const r = run('npm', npmInstall, { cwd: dir, env }, 'install-no-libtorch.log');
  const step = 'install without libtorch';
  if (r.status === 0) fail(step, 'npm install succeeded with libtorch hidden', r.out);
  if (!r.out.includes('lmkernel: cannot build the native addon: libtorch not found.')) {
    fail(step, "npm install's output lacks build-native.mjs's message", r.out);
  }
  for (const fix of ['bash node_modules/lmkernel/scripts/setup-system', 'LIBTORCH_DIR=', 'LMKERNEL_TORCH_FROM_PYTHON=1']) {
    if (!r.out.includes(fix)) fail(step, `the message does not name the fix ${fix}`, r.out);
  }
  if (/CMake|cmake-js|\[ *\d+%\]/.test(r.out.replace(/TorchConfig\.cmake/g, ''))) {
    fail(step, 'CMake ran (its output is in the log)', r.out);
  }
  rmSync(dir, { recursive: true, force: true });
  console.log(`check-pack: step 2 (install without libtorch fails clearly) ok in ${secs(t)} s`);
}

// --- 3. install --------------------------------------------------------------------------------------
t = Date.now();
const proj = newProject('project');
{
  const r = run('npm', npmInstall, { cwd: proj }, 'install.log');
  if (r.status !== 0) fail('install', `npm install <tarball> exited ${r.status}`, r.out);
  if (!existsSync(join(proj, 'node_modules', 'lmkernel', 'build', 'Release', 'lmkernel.node'))) {
    fail('install', 'no node_modules/lmkernel/build/Release/lmkernel.node after npm install', r.out);
  }
  console.log(`check-pack: step 3 (npm install <tarball>, addon built) ok in ${secs(t)} s`);
}

// --- 4. demo -----------------------------------------------------------------------------------------
t = Date.now();
{
  const args = ['lmkernel', 'demo', '--out', 'demo', '--k', '2', '--seeds', '13', '--max-test', '6'];
  args.push('--ft-steps', '2', '--no-finetune');
  const r = run('npx', args, { cwd: proj }, 'demo.log');
  if (r.status !== 0) fail('demo', `npx lmkernel demo exited ${r.status}`, r.out);
  const tablePath = join(proj, 'demo', 'table.md');
  if (!existsSync(tablePath)) fail('demo', 'no demo/table.md', r.out);
  const table = readFileSync(tablePath, 'utf8');
  for (const row of ['zero-shot prompt', 'SGD eNTK', 'SignGD eNTK']) {
    if (!new RegExp(`^\\| ${row}[^|]*\\| \\d+\\.\\d`, 'm').test(table)) {
      fail('demo', `demo/table.md has no "${row}" row with an accuracy:\n${table}`);
    }
  }
  if (!table.includes(join(proj, 'node_modules', 'lmkernel', 'models', 'demo'))) {
    fail('demo', `demo/table.md does not name the installed package's model:\n${table}`);
  }
  console.log(table);
  console.log(`check-pack: step 4 (npx lmkernel demo) ok in ${secs(t)} s`);
}

console.log(`check-pack: all steps ok in ${secs(t0)} s`);
if (!keep && dirArg < 0) rmSync(work, { recursive: true, force: true });
