// Prompt encoding (REFERENCE.md §3.1) and the standard, non-prompt encoding (§3.2).
import { InputError, OptionError } from '../errors.js';
import type { Tokenizer } from '../tokenizer.js';
import { isInt } from '../validate.js';
import { parseTemplate, sentenceText, type ParsedTemplate } from './template.js';

/** The texts of one example; `null` is an absent text (skipped by the standard encoding). */
export type Texts = ReadonlyArray<string | null>;

export interface PromptOptions {
  /** `max_seq_length`: total length after which the encoding is truncated. */
  maxLength: number;
  /** Cap on the new tokens of each sentence-0 part (`first_sent_limit`); null/undefined = none. */
  firstSentLimit?: number | null;
  /** Cap on the new tokens of each part of sentence ≥ 1 (`other_sent_limit`); null/undefined = none. */
  otherSentLimit?: number | null;
  /** Label word ids in label order; needed only by templates with `label_i`. */
  labelWordIds?: readonly number[];
  /** Truncate from the left instead of the right. */
  truncateHead?: boolean;
  /** Also return the segment id of every token (BERT token_type_ids). The reference returns none. */
  tokenTypeIds?: boolean;
  /** Names the example in error messages: a number gives `example <n>`, a string is used as is. */
  example?: number | string;
}

export interface PromptEncoding {
  inputIds: number[];
  /** Index of the first mask token in `inputIds`. */
  maskPos: number;
  /** Segment ids (`sep+` increments), only with `tokenTypeIds: true`. */
  tokenTypeIds?: number[];
}

export interface StandardEncoding {
  inputIds: number[];
  tokenTypeIds?: number[];
}

function whereOf(example: number | string | undefined): string {
  if (example === undefined) return 'example';
  return typeof example === 'number' ? `example ${example}` : example;
}

export function checkMaxLength(maxLength: unknown, option = 'maxLength'): number {
  if (!isInt(maxLength) || maxLength < 1) {
    throw new OptionError(option, 'an integer ≥ 1', maxLength);
  }
  return maxLength;
}

export function checkLimit(limit: unknown, option: string): number | null {
  if (limit === undefined || limit === null) return null;
  if (!isInt(limit) || limit < 0) {
    throw new OptionError(option, 'an integer ≥ 0, or null for no limit', limit);
  }
  return limit;
}

function checkTexts(texts: unknown, where: string): Texts {
  if (!Array.isArray(texts)) throw new InputError(where, `texts must be an array of strings, received ${typeof texts}`);
  texts.forEach((t, i) => {
    if (t !== null && typeof t !== 'string') throw new InputError(where, `text ${i} must be a string, received ${typeof t}`);
  });
  return texts as Texts;
}

function truncate<T>(xs: T[], maxLength: number, head: boolean): T[] {
  if (xs.length <= maxLength) return xs;
  return head ? xs.slice(xs.length - maxLength) : xs.slice(0, maxLength);
}

/**
 * `tokenize_multipart_input` in prompt mode without demonstrations: the template's parts in order,
 * per-sentence caps, total truncation to `maxLength`, and the position of the first mask.
 * Throws an InputError naming the example when a referenced text is missing or the mask was truncated away.
 */
export function encodePrompt(
  tok: Tokenizer,
  texts: Texts,
  template: ParsedTemplate | string,
  opts: PromptOptions,
): PromptEncoding {
  const tpl = typeof template === 'string' ? parseTemplate(template) : template;
  const where = whereOf(opts.example);
  const maxLength = checkMaxLength(opts.maxLength);
  const firstLimit = checkLimit(opts.firstSentLimit, 'firstSentLimit');
  const otherLimit = checkLimit(opts.otherSentLimit, 'otherSentLimit');
  checkTexts(texts, where);
  if (!tpl.hasMask) {
    throw new InputError(`template ${JSON.stringify(tpl.source)}`, 'has no mask part; the prompt encoding needs one');
  }
  const inputIds: number[] = [];
  const segments: number[] = [];
  let segment = 0;
  for (const part of tpl.parts) {
    let ids: number[];
    switch (part.kind) {
      case 'cls':
        ids = [tok.clsId];
        break;
      case 'mask':
        ids = [tok.maskId];
        break;
      case 'sep':
        ids = [tok.sepId];
        break;
      case 'label': {
        const words = opts.labelWordIds;
        if (!words || part.index >= words.length) {
          throw new InputError(
            `template ${JSON.stringify(tpl.source)}`,
            `part 'label_${part.index}' needs label word ${part.index}, but ${words ? words.length : 'no'} label word ids were given`,
          );
        }
        ids = [words[part.index]];
        break;
      }
      case 'sent': {
        if (part.index >= texts.length || texts[part.index] === null) {
          throw new InputError(
            where,
            `template ${JSON.stringify(tpl.source)} uses sentence ${part.index}, but the example has ${texts.length} text(s)` +
              (part.index < texts.length ? ` and text ${part.index} is null` : ''),
          );
        }
        ids = tok.encode(sentenceText(part, texts[part.index] as string));
        const limit = part.index === 0 ? firstLimit : otherLimit;
        if (limit !== null && ids.length > limit) ids = ids.slice(0, limit);
        break;
      }
      case 'literal':
        ids = part.singleToken ? [tok.convertTokenToId(part.text)] : tok.encode(part.text);
        break;
      case 'empty':
        ids = [];
        break;
    }
    for (const id of ids) {
      inputIds.push(id);
      segments.push(segment);
    }
    if (part.kind === 'sep' && part.nextSegment) segment += 1;
  }
  const fullLength = inputIds.length;
  const head = opts.truncateHead ?? false;
  const ids = truncate(inputIds, maxLength, head);
  const maskPos = ids.indexOf(tok.maskId);
  if (maskPos < 0) {
    const fullMask = inputIds.indexOf(tok.maskId);
    throw new InputError(
      where,
      `the mask was truncated away: the prompt encoding has ${fullLength} tokens with the mask at position ${fullMask}, ` +
        `and ${head ? 'head' : 'tail'} truncation to max_length ${maxLength} removed it ` +
        '(set first_sent_limit / other_sent_limit or a larger max_length)',
    );
  }
  const out: PromptEncoding = { inputIds: ids, maskPos };
  if (opts.tokenTypeIds) out.tokenTypeIds = truncate(segments, maxLength, head);
  return out;
}

export interface StandardOptions {
  /** Also return token_type_ids (the sentence index; BERT). The reference returns none for these tokenizers. */
  tokenTypeIds?: boolean;
  example?: number | string;
}

/**
 * The standard (`finetune`) input: `[CLS] enc(s0) [SEP] (enc(s1) [SEP]) ...`, which for RoBERTa is
 * `<s> A </s> B </s>` (not HF's pair format). Null texts are skipped. Tail truncation to `maxLength`.
 */
export function encodeStandard(tok: Tokenizer, texts: Texts, maxLength: number, opts: StandardOptions = {}): StandardEncoding {
  checkMaxLength(maxLength);
  checkTexts(texts, whereOf(opts.example));
  const inputIds = [tok.clsId];
  const types = [0];
  texts.forEach((text, i) => {
    if (text === null) return;
    const ids = tok.encode(text);
    ids.push(tok.sepId);
    for (const id of ids) {
      inputIds.push(id);
      types.push(i);
    }
  });
  const out: StandardEncoding = { inputIds: truncate(inputIds, maxLength, false) };
  if (opts.tokenTypeIds) out.tokenTypeIds = truncate(types, maxLength, false);
  return out;
}
