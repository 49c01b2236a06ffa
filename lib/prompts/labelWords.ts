// Label words → vocabulary ids (`FewShotDataset.__init__`, REFERENCE.md §3.1 "Label words").
import { InputError } from '../errors.js';
import type { Tokenizer } from '../tokenizer.js';

/** Words starting with one of these are token strings used verbatim (no leading space). */
const VERBATIM_FIRST = ['<', '[', '.', ','];

/**
 * The id of one label word: the single token of `' ' + word` (RoBERTa `Ġword`), or for a word starting
 * with `<`, `[`, `.` or `,` the vocabulary token spelled exactly so. Throws an InputError naming the word
 * and its tokens when `' ' + word` is not exactly one token, or when a verbatim token is not in the
 * vocabulary (the reference would silently map that to the unk id).
 */
export function labelWordId(tok: Tokenizer, word: string): number {
  if (typeof word !== 'string' || word.length === 0) {
    throw new InputError('label word', `expected a non-empty string, received ${JSON.stringify(word)}`);
  }
  const where = `label word ${JSON.stringify(word)}`;
  if (VERBATIM_FIRST.includes(word[0])) {
    const id = tok.tokenToId(word);
    if (id === undefined)
      throw new InputError(
        where,
        `is used verbatim (it starts with '${word[0]}') but is not a token of the ${tok.kind} vocabulary`,
      );
    return id;
  }
  // (a SentencePiece-style causal tokenizer reads ' word' as ▁word: tokenizerCausal.ts)
  const pieces = tok.tokenize(' ' + word);
  if (pieces.length !== 1) {
    throw new InputError(
      where,
      `must be a single token with a leading space, but ${JSON.stringify(' ' + word)} is ${pieces.length} tokens: ${JSON.stringify(pieces)}`,
    );
  }
  return tok.convertTokenToId(pieces[0]);
}

/** Ids of the label words, in the given (label) order. */
export function labelWordIds(tok: Tokenizer, words: readonly string[]): number[] {
  return words.map((w) => labelWordId(tok, w));
}

/**
 * Orders a mapping (label → word) by the task's labels: `label_word_list = [mapping[l] for l in labels]`.
 * Keys are compared as strings, so `{0: 'terrible'}` and `{'0': 'terrible'}` are the same.
 * Throws an InputError naming a label without a word, or a key that is not a label.
 */
export function mappingToWords(
  mapping: Readonly<Record<string, string>>,
  labels: readonly string[],
  what = 'label words',
): string[] {
  if (mapping === null || typeof mapping !== 'object' || Array.isArray(mapping)) {
    throw new InputError(what, 'expected an object mapping each label to a word');
  }
  const keys = Object.keys(mapping);
  const extra = keys.filter((k) => !labels.includes(k));
  if (extra.length > 0) {
    throw new InputError(what, `unknown label(s) ${JSON.stringify(extra)} (labels: ${JSON.stringify(labels)})`);
  }
  return labels.map((l) => {
    const w = mapping[l];
    if (typeof w !== 'string')
      throw new InputError(what, `no word for label ${JSON.stringify(l)} (labels: ${JSON.stringify(labels)})`);
    return w;
  });
}
