// lib/prompts/taskEncoder.ts's encodeExamples (docs/mutation.md): the model inputs of a list of examples,
// prompt and standard, against the reference's own encodings (fixtures-a.json `tokenization`, all 256
// cases grouped per tokenizer and task), and the example each error names. Addon-free: the shipped
// tokenizers of test/fixtures/tokenizers.
import { describe, expect, it } from 'vitest';
import { InputError } from '../lib/errors.js';
import { CAUSAL_TEMPLATES } from '../lib/prompts/causal.js';
import { taskPrompt } from '../lib/prompts/tasks.js';
import { encodeExamples, taskEncoder } from '../lib/prompts/taskEncoder.js';
import type { Example } from '../lib/tasks/index.js';
import { loadTokenizer } from '../lib/tokenizer.js';
import { tokenizationCases, tokenizerDirs, type TokenizationCase } from './helpers/fixtures.js';
import { thrownMessage } from './helpers/thrown.js';

const groups = new Map<string, TokenizationCase[]>();
for (const c of tokenizationCases()) {
  const key = `${c.tokenizer} ${c.task}`;
  groups.set(key, [...(groups.get(key) ?? []), c]);
}
const examples = (cs: TokenizationCase[]): Example[] => cs.map((c) => ({ texts: c.texts, label: '0', labelIndex: 0 }));

describe('encodeExamples', () => {
  it('covers the 256 cases in 16 (tokenizer, task) groups', () => {
    expect(groups.size).toBe(16);
    expect([...groups.values()].reduce((n, cs) => n + cs.length, 0)).toBe(256);
  });

  it.each([...groups.entries()])('%s: prompt and standard inputs as the reference encodes them', (_key, cs) => {
    const enc = taskEncoder(loadTokenizer(tokenizerDirs[cs[0].tokenizer]), cs[0].task);
    expect(encodeExamples(enc, 'prompt', examples(cs), 'train')).toEqual(
      cs.map((c) => ({ input_ids: c.prompt.input_ids, mask_pos: c.prompt.mask_pos })),
    );
    // the standard encoding has no mask position
    expect(encodeExamples(enc, 'standard', examples(cs), 'train')).toEqual(cs.map((c) => ({ input_ids: c.standard.input_ids })));
  });

  it("the template: the task's, its causal one for a causal LM, or the one given (causal or not)", () => {
    const tok = loadTokenizer(tokenizerDirs.roberta);
    const own = taskPrompt('SST-2').template;
    expect(CAUSAL_TEMPLATES['SST-2']).not.toBe(own);
    expect(taskEncoder(tok, 'SST-2').prompt.template).toBe(own);
    expect(taskEncoder(tok, 'SST-2', { causal: false }).prompt.template).toBe(own);
    expect(taskEncoder(tok, 'SST-2', { causal: true }).prompt.template).toBe(CAUSAL_TEMPLATES['SST-2']);
    const given = '*cls**sent_0*_So_it_was*mask*.*sep+*';
    expect(taskEncoder(tok, 'SST-2', { causal: true, template: given }).prompt.template).toBe(given);
    expect(taskEncoder(tok, 'SST-2', { template: given }).template.source).toBe(given);
  });

  it('an empty list gives no inputs', () => {
    const enc = taskEncoder(loadTokenizer(tokenizerDirs.roberta), 'SST-2');
    expect(encodeExamples(enc, 'prompt', [], 'dev')).toEqual([]);
    expect(encodeExamples(enc, 'standard', [], 'dev')).toEqual([]);
  });

  it('errors name the split and the index of the example', () => {
    const enc = taskEncoder(loadTokenizer(tokenizerDirs.roberta), 'MNLI');
    const xs: Example[] = [
      { texts: ['a premise', 'a hypothesis'], label: 'entailment', labelIndex: 0 },
      { texts: ['only a premise'], label: 'neutral', labelIndex: 1 },
    ];
    const fail = (f: () => unknown): string => thrownMessage(f, InputError);
    expect(fail(() => encodeExamples(enc, 'prompt', xs, 'dev'))).toMatch(
      /^dev example 1: template .* uses sentence 1, but the example has 1 text\(s\)$/,
    );
    const bad: Example[] = [xs[0], xs[0], { texts: [7 as unknown as string], label: 'neutral', labelIndex: 1 }];
    expect(fail(() => encodeExamples(enc, 'standard', bad, 'test'))).toBe(
      'test example 2: text 0 must be a string, received number',
    );
    expect(fail(() => encodeExamples(enc, 'prompt', bad, 'train'))).toBe(
      'train example 2: text 0 must be a string, received number',
    );
  });
});
