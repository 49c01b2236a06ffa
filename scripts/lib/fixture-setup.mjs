// Set-up shared by the reliability scripts (addon-stability.mjs, crash-safety.mjs): the repository and
// ../shared folders, numeric command-line options, and a model folder for a fixtures-a.json architecture
// (its config.json plus a link to the tiny safetensors file).
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedDir = process.env.LMK_SHARED ?? join(repoRoot, '..', 'shared');

/** `--name N` from argv as a number, else `def`; a value that is not a number is an error. */
export function numberOption(argv, name, def) {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(argv[i + 1]);
  if (argv[i + 1] === undefined || !Number.isFinite(v))
    throw new Error(`--${name}: expected a number, received ${JSON.stringify(argv[i + 1])}`);
  return v;
}

/**
 * Writes a model folder for the fixture architecture `arch` ('roberta' | 'bert'): `dir` (created) or a
 * new temporary folder. Returns the folder and the architecture's fixture entry.
 */
export function fixtureModel(arch = 'roberta', dir = undefined) {
  const fx = JSON.parse(readFileSync(join(sharedDir, 'fixtures', 'fixtures-a.json'), 'utf8'))[arch];
  const d = dir ?? mkdtempSync(join(tmpdir(), `lmk-${arch}-`));
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'config.json'), JSON.stringify(fx.config));
  symlinkSync(join(sharedDir, 'fixtures', fx.weights_file), join(d, 'model.safetensors'));
  return { dir: d, fx };
}
