// Prompts for decoder-only (causal) LMs. The kernel contract is unchanged, {input_ids, mask_pos}: the
// prompt ends where the masked LM's `*mask*` was and `mask_pos` is its last token, whose next-token
// logits of the label words (` great`, ` Yes`: a leading space for byte-level BPE) are the outputs.
// A template is read up to `*mask*` (what follows is dropped); `*cls*` emits BOS when the tokenizer adds
// one (add_bos_token), `*sep*` nothing. Truncation keeps the end (the prompt's last tokens), so the
// prompt end is never cut. The standard encoding is [BOS] A (␣B): the score head reads its last token.
import { InputError } from '../errors.js';
import type { Tokenizer } from '../tokenizer.js';
import { encodePrompt, type PromptEncoding, type PromptOptions, type StandardEncoding, type Texts } from './encode.js';
import { parseTemplate, type ParsedTemplate, type TemplatePart } from './template.js';

const SENTIMENT = '*cls**sent_0*_It_was*mask*';
const NLI = '*cls**sent_0*_Question:*+sent_1*?_Answer:*mask*';

/**
 * The causal templates, keyed like TASK_PROMPTS: LM-BFF's templates ended at the mask (text after it
 * dropped), or with the mask moved to the end where it came first (TREC). Label words are the masked
 * LM's; they get the leading space when their ids are made.
 */
export const CAUSAL_TEMPLATES: Readonly<Record<string, string>> = {
  'SST-2': SENTIMENT,
  'sst-5': SENTIMENT,
  mr: SENTIMENT,
  cr: SENTIMENT,
  mpqa: SENTIMENT,
  subj: '*cls**sent_0*_This_is*mask*',
  trec: '*cls**sent_0*_Answer_type:*mask*',
  ag_news: '*cls**sent_0*_This_article_is_about*mask*',
  MNLI: NLI,
  SNLI: NLI,
  QNLI: NLI,
  RTE: NLI,
  MRPC: NLI,
  QQP: NLI,
  CoLA: '*cls**sent_0*_This_is*mask*',
  'brown-genre': '*cls**sent_0*_The*mask*',
};

/** The parts before the mask, for a causal LM: `*cls*` only when the tokenizer adds BOS, no `*sep*`. */
function causalParts(tok: Tokenizer, tpl: ParsedTemplate): TemplatePart[] {
  const mask = tpl.parts.findIndex((p) => p.kind === 'mask');
  if (mask < 0) throw new InputError(`template ${JSON.stringify(tpl.source)}`, 'has no mask part; the prompt encoding needs one');
  const bos = tok.addBos === true && tok.bosId !== undefined && tok.bosId >= 0;
  return tpl.parts.slice(0, mask + 1).filter((p) => p.kind !== 'sep' && (p.kind !== 'cls' || bos));
}

/**
 * A causal prompt: the template's parts up to the mask, encoded as encodePrompt does (sentence caps,
 * label words), truncated from the head to `maxLength`; mask_pos is the last token.
 */
export function encodeCausalPrompt(
  tok: Tokenizer,
  texts: Texts,
  template: ParsedTemplate | string,
  opts: PromptOptions,
): PromptEncoding {
  const tpl = typeof template === 'string' ? parseTemplate(template) : template;
  const parts = causalParts(tok, tpl);
  // the mask part stands for the label word's position: encoded with the prompt (so that head truncation
  // keeps it), then removed; `*cls*` emits clsId, a causal tokenizer's BOS
  const e = encodePrompt(
    tok,
    texts,
    { ...tpl, parts },
    { ...opts, maxLength: opts.maxLength + 1, truncateHead: true, tokenTypeIds: false },
  );
  const inputIds = e.inputIds.slice(0, e.maskPos);
  if (inputIds.length === 0)
    throw new InputError(
      opts.example === undefined ? 'example' : String(opts.example),
      `template ${JSON.stringify(tpl.source)}: the causal prompt before the mask is empty`,
    );
  return { inputIds, maskPos: inputIds.length - 1 };
}

/** The standard input of a causal LM: [BOS] enc(A) enc(␣B) ..., tail-truncated to `maxLength`. */
export function encodeCausalStandard(tok: Tokenizer, texts: Texts, maxLength: number): StandardEncoding {
  const ids: number[] = tok.addBos && tok.bosId !== undefined && tok.bosId >= 0 ? [tok.bosId] : [];
  let first = true;
  for (const t of texts) {
    if (t === null) continue;
    ids.push(...tok.encode(first ? t : ' ' + t));
    first = false;
  }
  return { inputIds: ids.slice(0, maxLength) };
}
