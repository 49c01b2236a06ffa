// Where the tests find their inputs. The fixtures (fixtures-a.json, the tiny checkpoints, decoders/) and
// the tokenizer files are in the repository, under test/fixtures (LMK_FIXTURES overrides the folder);
// model folders (config.json from the fixture + a link to the tiny safetensors file) are made in a
// temporary directory. The task data (about 100 MB, not in the repository) comes from LMK_DATA or
// ../shared/data; the tests that read it run only when it is there (`needsData`).
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, type SuiteFactory, type TestFunction } from 'vitest';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixturesDir = resolve(process.env.LMK_FIXTURES || join(repoRoot, 'test', 'fixtures'));

/** The task data: a folder holding `k-shot-1k-test` and `original` (LMK_DATA, else ../shared/data). */
export const dataRoot = resolve(process.env.LMK_DATA || join(repoRoot, '..', 'shared', 'data'));
/** The paper's k-shot splits (`k-shot-1k-test/<TASK>/<K>-<seed>/...`) and the full tasks (`original/<TASK>/...`). */
export const kshotDataDir = join(dataRoot, 'k-shot-1k-test');
export const originalDataDir = join(dataRoot, 'original');
export const hasTaskData = existsSync(kshotDataDir) && existsSync(originalDataDir);
export const needsDataReason =
  'needs the task data: set LMK_DATA=<folder holding k-shot-1k-test and original> or put it at ../shared/data';

let noted = false;
const label = (name: string): string => {
  if (hasTaskData) return name;
  if (!noted) {
    noted = true;
    console.warn(`skipping the tests of this file that read the task data (not found at ${dataRoot}): ${needsDataReason}`);
  }
  return `${name} [skipped: ${needsDataReason}]`;
};
/**
 * The tests that read the task data: `needsData.describe(name, fn)` and `needsData.it(name, fn, timeout)`
 * run as describe/it when the data is there, and are skipped otherwise, the reason in their name (and
 * once per file on stderr). CI has the data and fails on any skipped test (scripts/ci-count.mjs).
 */
export const needsData = {
  describe: (name: string, fn: SuiteFactory) => describe.skipIf(!hasTaskData)(label(name), fn),
  it: (name: string, fn: TestFunction, timeout?: number) => it.skipIf(!hasTaskData)(label(name), fn, timeout),
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let cache: any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function fixtures(): any {
  cache ??= JSON.parse(readFileSync(join(fixturesDir, 'fixtures-a.json'), 'utf8'));
  return cache;
}

const dirs = new Map<string, string>();
/** A model folder for the 'roberta' or 'bert' fixture. */
export function fixtureModelDir(arch: 'roberta' | 'bert'): string {
  let d = dirs.get(arch);
  if (d) return d;
  d = mkdtempSync(join(tmpdir(), `lmk-${arch}-`));
  const f = fixtures()[arch];
  writeFileSync(join(d, 'config.json'), JSON.stringify(f.config));
  symlinkSync(join(fixturesDir, f.weights_file), join(d, 'model.safetensors'));
  dirs.set(arch, d);
  return d;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let decoderCache: any;
/** decoders/fixtures-c.json: the GPT-2 and Llama fixtures (decoders/README.md). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function decoderFixtures(): any {
  decoderCache ??= JSON.parse(readFileSync(join(fixturesDir, 'decoders', 'fixtures-c.json'), 'utf8'));
  return decoderCache;
}

/** A model folder for the 'gpt2' or 'llama' decoder fixture. */
export function decoderModelDir(arch: 'gpt2' | 'llama'): string {
  let d = dirs.get(arch);
  if (d) return d;
  d = mkdtempSync(join(tmpdir(), `lmk-${arch}-`));
  const f = decoderFixtures()[arch];
  writeFileSync(join(d, 'config.json'), JSON.stringify(f.config));
  symlinkSync(join(fixturesDir, 'decoders', f.weights_file), join(d, 'model.safetensors'));
  dirs.set(arch, d);
  return d;
}

export function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  return err / (scale || 1);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const flat = (x: any): number[] => (Array.isArray(x) ? x.flat(Infinity) : [x]);

/** One `tokenization` case of fixtures-a.json (the reference template routine's encodings of a real example). */
export interface TokenizationCase {
  tokenizer: 'roberta' | 'bert';
  task: string;
  split: string;
  texts: string[];
  label_words: string[];
  label_word_ids: number[];
  template: string;
  max_length: number;
  first_sent_limit: number | null;
  other_sent_limit: number | null;
  prompt: { input_ids: number[]; mask_pos: number };
  standard: { input_ids: number[] };
}
export const tokenizationCases = (): TokenizationCase[] => fixtures().tokenization;
/** The tokenizer folders of the two fixture architectures (test/fixtures/tokenizers). */
export const tokenizerDirs = {
  roberta: join(fixturesDir, 'tokenizers', 'roberta-base'),
  bert: join(fixturesDir, 'tokenizers', 'bert-base-uncased'),
};
