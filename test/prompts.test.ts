// Template language, standard encoding, label words and per-task settings against the reference's own
// routine (`tokenize_multipart_input`): all 256 cases of fixtures-a.json `tokenization`.
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InputError, OptionError } from '../lib/errors.js';
import { loadTokenizer, type Tokenizer } from '../lib/tokenizer.js';
import {
  encodePrompt,
  encodeStandard,
  labelWordId,
  labelWordIds,
  parseTemplate,
  taskEncoder,
  taskPrompt,
  TASK_PROMPTS,
} from '../lib/prompts/index.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const shared = join(repoRoot, '..', 'shared');
const tokDir = { roberta: join(shared, 'tokenizers', 'roberta-base'), bert: join(shared, 'tokenizers', 'bert-base-uncased') };

interface Case {
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

const fixtures = JSON.parse(readFileSync(join(shared, 'fixtures', 'fixtures-a.json'), 'utf8')) as { tokenization: Case[] };
const cases = fixtures.tokenization;
const tok = (k: 'roberta' | 'bert'): Tokenizer => loadTokenizer(tokDir[k]);

/** Every way this case can fail, as messages; empty when the case matches. */
function mismatches(c: Case): string[] {
  const t = tok(c.tokenizer);
  const out: string[] = [];
  const p = taskPrompt(c.task);
  if (p.template !== c.template) out.push(`template ${p.template} != ${c.template}`);
  if (JSON.stringify(p.labelWords) !== JSON.stringify(c.label_words)) out.push(`label words ${p.labelWords} != ${c.label_words}`);
  if (p.maxLength !== c.max_length) out.push(`max_length ${p.maxLength} != ${c.max_length}`);
  if (p.firstSentLimit !== c.first_sent_limit) out.push(`first_sent_limit ${p.firstSentLimit} != ${c.first_sent_limit}`);
  if (p.otherSentLimit !== c.other_sent_limit) out.push(`other_sent_limit ${p.otherSentLimit} != ${c.other_sent_limit}`);
  const ids = labelWordIds(t, c.label_words);
  if (JSON.stringify(ids) !== JSON.stringify(c.label_word_ids)) out.push(`label word ids ${ids} != ${c.label_word_ids}`);
  const enc = encodePrompt(t, c.texts, c.template, {
    maxLength: c.max_length,
    firstSentLimit: c.first_sent_limit,
    otherSentLimit: c.other_sent_limit,
    labelWordIds: c.label_word_ids,
  });
  if (JSON.stringify(enc.inputIds) !== JSON.stringify(c.prompt.input_ids)) {
    out.push(`prompt input_ids\n  got      ${JSON.stringify(enc.inputIds)}\n  expected ${JSON.stringify(c.prompt.input_ids)}`);
  }
  if (enc.maskPos !== c.prompt.mask_pos) out.push(`mask_pos ${enc.maskPos} != ${c.prompt.mask_pos}`);
  if ('tokenTypeIds' in enc) out.push('token type ids returned although not asked for');
  const std = encodeStandard(t, c.texts, c.max_length);
  if (JSON.stringify(std.inputIds) !== JSON.stringify(c.standard.input_ids)) {
    out.push(`standard input_ids\n  got      ${JSON.stringify(std.inputIds)}\n  expected ${JSON.stringify(c.standard.input_ids)}`);
  }
  return out;
}

describe('fixtures-a tokenization (reference tokenize_multipart_input)', () => {
  it('has 256 cases', () => {
    expect(cases.length).toBe(256);
  });

  it.each(cases.map((c, i) => [i, c.tokenizer, c.task, c.split, c] as const))('case %i: %s %s %s', (i, _k, _t, _s, c) => {
    expect(mismatches(c), `case ${i} (${c.tokenizer} ${c.task} ${c.split}) texts=${JSON.stringify(c.texts)}`).toEqual([]);
  });

  it('matches all 256 cases', () => {
    const failed: string[] = [];
    let matched = 0;
    cases.forEach((c, i) => {
      const m = mismatches(c);
      if (m.length === 0) matched++;
      else failed.push(`case ${i} ${c.tokenizer} ${c.task}: ${m.join('; ')}`);
    });
    expect(failed).toEqual([]);
    expect(matched).toBe(256);
  });
});
