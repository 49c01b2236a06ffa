// Pre-training sequences from texts: the sentences of each text are tokenized and packed, in order,
// into sequences of at most `maxLength` tokens (<s> ... </s>, RoBERTa's FULL-SENTENCES within one text).
// A sentence that starts a sequence is tokenized without a leading space (as `*sent_0*` is in prompts),
// the others with one (running text).
import type { Tokenizer } from '../tokenizer.js';
import type { BrownText } from './brown.js';

export interface PackedCorpus {
  sequences: number[][];
  tokens: number;
  sentences: number;
}

export function packTexts(tok: Tokenizer, texts: readonly BrownText[], maxLength: number): PackedCorpus {
  const cap = maxLength - 2;
  const out: PackedCorpus = { sequences: [], tokens: 0, sentences: 0 };
  for (const t of texts) {
    let cur: number[] = [];
    const flush = () => {
      if (cur.length > 0) {
        out.sequences.push([tok.clsId, ...cur, tok.sepId]);
        out.tokens += cur.length + 2;
      }
      cur = [];
    };
    for (const s of t.sentences) {
      out.sentences++;
      let ids = tok.encode(cur.length === 0 ? s : ' ' + s);
      if (cur.length > 0 && cur.length + ids.length > cap) {
        flush();
        ids = tok.encode(s);
      }
      cur.push(...ids.slice(0, cap));
      if (cur.length >= cap) flush();
    }
    flush();
  }
  return out;
}
