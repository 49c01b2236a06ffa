// Set-up shared by the reliability scripts (addon-stability.mjs, crash-safety.mjs): the repository's
// fixtures and tokenizers (test/fixtures, LMK_FIXTURES overrides), the task data (LMK_DATA or
// ../shared/data, not in the repository), numeric command-line options, and a model folder for a
// fixtures-a.json architecture (its config.json plus a link to the tiny safetensors file).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixturesDir = resolve(process.env.LMK_FIXTURES || join(repoRoot, 'test', 'fixtures'));
export const tokenizerDirs = {
  roberta: join(fixturesDir, 'tokenizers', 'roberta-base'),
  bert: join(fixturesDir, 'tokenizers', 'bert-base-uncased'),
};
/** The task data: a folder holding `k-shot-1k-test` and `original` (LMK_DATA, else ../shared/data). */
export const dataRoot = resolve(process.env.LMK_DATA || join(repoRoot, '..', 'shared', 'data'));

/** The task data's k-shot splits; exits (status 2) with the fix when the data is not there. */
export function kshotDataDir(script) {
  const d = join(dataRoot, 'k-shot-1k-test');
  if (!existsSync(d)) {
    console.error(
      `${script}: needs the task data: set LMK_DATA=<folder holding k-shot-1k-test and original> or put it at ../shared/data (not found: ${d})`,
    );
    process.exit(2);
  }
  return d;
}

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
  const fx = JSON.parse(readFileSync(join(fixturesDir, 'fixtures-a.json'), 'utf8'))[arch];
  const d = dir ?? mkdtempSync(join(tmpdir(), `lmk-${arch}-`));
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'config.json'), JSON.stringify(fx.config));
  symlinkSync(join(fixturesDir, fx.weights_file), join(d, 'model.safetensors'));
  return { dir: d, fx };
}
