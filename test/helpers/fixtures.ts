// Access to ../shared/fixtures for the tests: the fixture JSON, and model folders (config.json from
// the fixture + a link to the tiny safetensors file) made in a temporary directory.
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedDir = process.env.LMK_SHARED ?? join(repoRoot, '..', 'shared');
export const fixturesDir = join(sharedDir, 'fixtures');

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
/** The shared tokenizer folders of the two fixture architectures. */
export const tokenizerDirs = {
  roberta: join(sharedDir, 'tokenizers', 'roberta-base'),
  bert: join(sharedDir, 'tokenizers', 'bert-base-uncased'),
};
