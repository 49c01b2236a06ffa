// The template mini-language of LM-BFF / LM-Kernel-FT (`tokenize_multipart_input`, prompt mode),
// REFERENCE.md §3.1. A template such as `*cls**sent_0*_It_was*mask*.*sep+*` is split on `*`; each part
// emits tokens in order. Parsing is separate from encoding so a template is checked once per task.
//
// Conscious differences from the reference, where it crashes: a malformed variable (`sent_x`, `+sent-_0`,
// `sentu-_0`, `label_a`) is an InputError here; `labelx_i` (GPT-3 in-context demos) is rejected; a literal
// whose text starts with "sent" or " sent" without a `_<i>` variable form (e.g. `_sentiment`) is encoded as
// a literal, and the per-sentence caps apply to sentence variables only (the reference's cap check runs
// `int(part.split('_')[1])` on such literals and raises).
import { InputError } from '../errors.js';

export type SentenceCase = 'keep' | 'lower' | 'upper';

export type TemplatePart =
  | { kind: 'cls' }
  | { kind: 'mask' }
  /** `sep` and `sep+`; `sep+` increments the segment id after the token. */
  | { kind: 'sep'; nextSegment: boolean }
  /** `label_i`: the i-th label word (demo templates). */
  | { kind: 'label'; index: number }
  /** `sent_i`, `+sent_i`, `sent-_i`, `sentl_i`, `+sentl_i`, `sentl-_i`, `sentu_i`, `+sentu_i`. */
  | { kind: 'sent'; index: number; leadingSpace: boolean; firstChar: SentenceCase; dropLastChar: boolean }
  /** Literal text (`_` already replaced by a space). One character: a bare vocabulary token. */
  | { kind: 'literal'; text: string; singleToken: boolean }
  /** An empty part (from `**` or the ends of the template): emits nothing. */
  | { kind: 'empty' };

export interface ParsedTemplate {
  /** The template string as given. */
  source: string;
  parts: TemplatePart[];
  /** Highest sentence index used (-1 when none): an example needs at least `maxSentence + 1` texts. */
  maxSentence: number;
  /** Highest label index used by `label_i` (-1 when none). */
  maxLabel: number;
  /** Whether a `mask` part is present (prompt encoding needs one). */
  hasMask: boolean;
}

const SENT_RE = /^(\+?)sent([lu]?)(-?)_(\d+)$/;
// Parts the reference treats as sentence or label variables (and crashes on when malformed).
const SENT_LIKE_RE = /^\+?sent[a-z]*-?_/;

/** Parses a template string; malformed variables (`sent_x`, `+sent-_0`, `labelx_0`, ...) are errors. */
export function parseTemplate(template: string): ParsedTemplate {
  if (typeof template !== 'string') throw new InputError('template', `expected a string, received ${typeof template}`);
  const parts: TemplatePart[] = [];
  let maxSentence = -1;
  let maxLabel = -1;
  let hasMask = false;
  for (const raw of template.split('*')) {
    if (raw === 'cls') parts.push({ kind: 'cls' });
    else if (raw === 'mask') {
      parts.push({ kind: 'mask' });
      hasMask = true;
    } else if (raw === 'sep' || raw === 'sep+') parts.push({ kind: 'sep', nextSegment: raw === 'sep+' });
    else if (raw.startsWith('label_')) {
      const m = /^label_(\d+)$/.exec(raw);
      if (!m) throw new InputError(`template ${JSON.stringify(template)}`, `bad part '${raw}' (expected label_<i>)`);
      const index = Number(m[1]);
      maxLabel = Math.max(maxLabel, index);
      parts.push({ kind: 'label', index });
    } else if (raw.startsWith('labelx_')) {
      throw new InputError(
        `template ${JSON.stringify(template)}`,
        `part '${raw}' (GPT-3 in-context demonstrations) is not supported`,
      );
    } else if (SENT_LIKE_RE.test(raw)) {
      const m = SENT_RE.exec(raw);
      // The reference knows no `+sent-_i`, `+sentl-_i` or `sentu-_i`.
      if (!m || (m[1] === '+' && m[3] === '-') || (m[2] === 'u' && m[3] === '-')) {
        throw new InputError(
          `template ${JSON.stringify(template)}`,
          `bad part '${raw}' (sentence variables: sent_i, +sent_i, sent-_i, sentl_i, +sentl_i, sentl-_i, sentu_i, +sentu_i)`,
        );
      }
      const index = Number(m[4]);
      maxSentence = Math.max(maxSentence, index);
      parts.push({
        kind: 'sent',
        index,
        leadingSpace: m[1] === '+',
        firstChar: m[2] === 'l' ? 'lower' : m[2] === 'u' ? 'upper' : 'keep',
        dropLastChar: m[3] === '-',
      });
    } else if (raw === '') parts.push({ kind: 'empty' });
    else {
      const text = raw.replace(/_/g, ' ');
      parts.push({ kind: 'literal', text, singleToken: Array.from(text).length === 1 });
    }
  }
  return { source: template, parts, maxSentence, maxLabel, hasMask };
}

/** Python `text[:1].lower() + text[1:]` (by code point). */
function changeFirstChar(text: string, how: SentenceCase): string {
  if (how === 'keep' || text.length === 0) return text;
  const first = String.fromCodePoint(text.codePointAt(0)!);
  const rest = text.slice(first.length);
  return (how === 'lower' ? first.toLowerCase() : first.toUpperCase()) + rest;
}

/** Python `text[:-1]` (by code point). */
function dropLastChar(text: string): string {
  const chars = Array.from(text);
  chars.pop();
  return chars.join('');
}

/** The text a sentence part encodes (before `enc`). */
export function sentenceText(part: Extract<TemplatePart, { kind: 'sent' }>, text: string): string {
  let t = changeFirstChar(text, part.firstChar);
  if (part.dropLastChar) t = dropLastChar(t);
  return part.leadingSpace ? ' ' + t : t;
}
