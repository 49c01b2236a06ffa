// The built-in prompt settings (lib/prompts/tasks.ts) against LM-Kernel-FT's run_fewshot.sh as REFERENCE.md §3.3
// tabulates it (template, mapping, max_seq_length, first/other_sent_limit per task), the overrides one by one,
// and the template parser's part kinds and maxima (docs/mutation.md).
import { describe, it, expect } from 'vitest';
import { TASK_PROMPTS, taskPrompt, taskName } from '../lib/prompts/tasks.js';
import { parseTemplate, sentenceText } from '../lib/prompts/template.js';
import { mappingToWords, labelWordId } from '../lib/prompts/labelWords.js';
import { checkMaxLength, checkLimit, encodePrompt } from '../lib/prompts/encode.js';
import { loadTokenizer } from '../lib/tokenizer.js';
import { tokenizerDirs } from './helpers/fixtures.js';
import { OptionError, InputError } from '../lib/errors.js';

const SENTIMENT = '*cls**sent_0*_It_was*mask*.*sep+*';
const NLI = '*cls**sent-_0*?*mask*,*+sentl_1**sep+*';
const PARAPHRASE = '*cls**sent_0**mask*,*+sentl_1**sep+*';
const bin = { '0': 'terrible', '1': 'great' };
const nli3 = { contradiction: 'No', entailment: 'Yes', neutral: 'Maybe' };
const nli2 = { not_entailment: 'No', entailment: 'Yes' };
// task: [template, mapping, max_seq_length, first_sent_limit, other_sent_limit] (REFERENCE.md §3.3)
const TABLE: Record<string, [string, Record<string, string>, number, number | null, number | null]> = {
  'SST-2': [SENTIMENT, bin, 128, null, null],
  'sst-5': [SENTIMENT, { '0': 'terrible', '1': 'bad', '2': 'okay', '3': 'good', '4': 'great' }, 128, null, null],
  mr: [SENTIMENT, bin, 128, 110, 50],
  cr: [SENTIMENT, bin, 128, 110, 50],
  mpqa: [SENTIMENT, bin, 128, 110, null],
  subj: ['*cls**sent_0*_This_is*mask*.*sep+*', { '0': 'subjective', '1': 'objective' }, 128, 110, 50],
  trec: [
    '*cls**mask*:*+sent_0**sep+*',
    { '0': 'Description', '1': 'Entity', '2': 'Expression', '3': 'Human', '4': 'Location', '5': 'Number' },
    128,
    110,
    null,
  ],
  ag_news: [
    '*cls**sent_0*_This_article_is_about*mask*_news.*sep+*',
    { '1': 'world', '2': 'sports', '3': 'business', '4': 'tech' },
    256,
    240,
    null,
  ],
  MNLI: [NLI, nli3, 256, 240, null],
  SNLI: [NLI, nli3, 256, null, null],
  QNLI: [NLI, nli2, 128, null, null],
  RTE: [NLI, nli2, 256, 240, null],
  MRPC: [PARAPHRASE, { '0': 'No', '1': 'Yes' }, 128, null, null],
  QQP: [PARAPHRASE, { '0': 'No', '1': 'Yes' }, 128, null, null],
  CoLA: ['*cls**sent_0*_This_is*mask*.*sep+*', { '0': 'incorrect', '1': 'correct' }, 128, null, null],
};

describe('built-in prompt settings', () => {
  it('every task of run_fewshot.sh, exactly (and the demo task brown-genre)', () => {
    for (const [task, [template, mapping, maxLength, firstSentLimit, otherSentLimit]] of Object.entries(TABLE))
      expect(TASK_PROMPTS[task], task).toEqual({ template, mapping, maxLength, firstSentLimit, otherSentLimit });
    expect(Object.keys(TASK_PROMPTS).sort()).toEqual([...Object.keys(TABLE), 'brown-genre'].sort());
    expect(TASK_PROMPTS['brown-genre']).toEqual({
      template: '*cls**sent_0*_The*mask*_said.*sep+*',
      mapping: { '0': 'report', '1': 'girl' },
      maxLength: 128,
      firstSentLimit: 110,
      otherSentLimit: null,
    });
  });

  it('taskPrompt: label words in the processor label order', () => {
    expect(taskPrompt('mnli')).toEqual({
      task: 'MNLI',
      labels: ['contradiction', 'entailment', 'neutral'],
      template: NLI,
      mapping: nli3,
      labelWords: ['No', 'Yes', 'Maybe'],
      maxLength: 256,
      firstSentLimit: 240,
      otherSentLimit: null,
    });
    expect(taskPrompt('rte').labelWords).toEqual(['Yes', 'No']);
    expect(taskPrompt('ag_news').labels).toEqual(['1', '2', '3', '4']);
  });

  it('overrides: undefined keeps the built-in value, null removes a cap, a list follows the label order', () => {
    const p = taskPrompt('cr', {
      firstSentLimit: undefined,
      otherSentLimit: null,
      maxLength: 64,
      template: '*cls**mask**sent_0*',
    });
    expect(p).toMatchObject({ firstSentLimit: 110, otherSentLimit: null, maxLength: 64, template: '*cls**mask**sent_0*' });
    expect(taskPrompt('cr', { firstSentLimit: 7, otherSentLimit: 3 })).toMatchObject({ firstSentLimit: 7, otherSentLimit: 3 });
    expect(taskPrompt('qnli', { labelWords: ['Sure', 'Nope'] })).toMatchObject({
      mapping: { entailment: 'Sure', not_entailment: 'Nope' },
      labelWords: ['Sure', 'Nope'],
    });
    expect(taskPrompt('sst-2', { labelWords: { 1: 'good', 0: 'bad' } }).labelWords).toEqual(['bad', 'good']);
    // the built-in mapping is copied, not shared
    const q = taskPrompt('sst-2');
    expect(q.mapping).toEqual(bin);
    expect(q.mapping).not.toBe(TASK_PROMPTS['SST-2'].mapping);
  });

  it('bad overrides and unknown tasks: OptionErrors with the exact expectation', () => {
    expect(() => taskPrompt('sst-2', { labelWords: ['bad'] })).toThrow(
      new OptionError('labelWords', '2 words for the labels ["0","1"]', ['bad']),
    );
    expect(() => taskPrompt('sst-2', { labelWords: ['bad', 3 as never] })).toThrow(
      `option 'labelWords': expected 2 words for the labels ["0","1"], received an array of length 2`,
    );
    expect(() => taskPrompt('sst-2', { labelWords: ['a', 'b', 'c'] })).toThrow(OptionError);
    expect(() => taskPrompt('sst-2', { maxLength: 0 })).toThrow(OptionError);
    expect(() => taskPrompt('sst-2', { firstSentLimit: -1 })).toThrow(OptionError);
    expect(() => taskName('imdb')).toThrow(/^option 'task': expected one of SST-2, /);
    expect(taskName('Sst-5')).toBe('sst-5');
  });

  it('mappingToWords: labels without a word, unknown labels, not an object', () => {
    expect(mappingToWords({ b: 'B', a: 'A' }, ['a', 'b'])).toEqual(['A', 'B']);
    expect(() => mappingToWords({ a: 'A' }, ['a', 'b'], 'words of x')).toThrow(
      new InputError('words of x', 'no word for label "b" (labels: ["a","b"])'),
    );
    expect(() => mappingToWords({ a: 'A', b: 'B', c: 'C', d: 'D' }, ['a', 'b'])).toThrow(
      'label words: unknown label(s) ["c","d"] (labels: ["a","b"])',
    );
    for (const bad of [null, ['A', 'B'], 'AB'])
      expect(() => mappingToWords(bad as never, ['a', 'b'])).toThrow(
        'label words: expected an object mapping each label to a word',
      );
    expect(() => mappingToWords({ a: 'A', b: 2 as never }, ['a', 'b'])).toThrow('no word for label "b"');
  });
});

describe('length options', () => {
  it('checkMaxLength: an integer >= 1; checkLimit: an integer >= 0 or null', () => {
    expect(checkMaxLength(1)).toBe(1);
    expect(() => checkMaxLength(0)).toThrow("option 'maxLength': expected an integer ≥ 1, received 0");
    expect(() => checkMaxLength(2.5, 'max_length')).toThrow("option 'max_length': expected an integer ≥ 1, received 2.5");
    expect(() => checkMaxLength('8')).toThrow(OptionError);
    expect(checkLimit(0, 'firstSentLimit')).toBe(0);
    expect(checkLimit(null, 'firstSentLimit')).toBeNull();
    expect(checkLimit(undefined, 'firstSentLimit')).toBeNull();
    expect(() => checkLimit(-1, 'otherSentLimit')).toThrow(
      "option 'otherSentLimit': expected an integer ≥ 0, or null for no limit, received -1",
    );
    expect(() => checkLimit(0.5, 'otherSentLimit')).toThrow(OptionError);
  });
});

describe('encoding edges', () => {
  const r = loadTokenizer(tokenizerDirs.roberta);
  it('the texts checked first, each message naming the example', () => {
    expect(() => encodePrompt(r, 'a' as never, '*cls**mask*', { maxLength: 8, example: 4 })).toThrow(
      'example 4: texts must be an array of strings, received string',
    );
    expect(() => encodePrompt(r, ['a', 3 as never], '*cls**mask*', { maxLength: 8 })).toThrow(
      'example: text 1 must be a string, received number',
    );
    expect(() => encodePrompt(r, ['a', null], '*cls**mask**+sent_1*', { maxLength: 8, example: 'dev 2' })).toThrow(
      'dev 2: template "*cls**mask**+sent_1*" uses sentence 1, but the example has 2 text(s) and text 1 is null',
    );
    expect(() => encodePrompt(r, ['a'], '*cls**mask**+sent_1*', { maxLength: 8 })).toThrow(
      'example: template "*cls**mask**+sent_1*" uses sentence 1, but the example has 1 text(s)',
    );
  });

  it('exactly max_length tokens are kept whole, one more is cut (tail or head); token types follow', () => {
    const e = encodePrompt(r, ['a b'], '*cls**sent_0**mask**sep+*', { maxLength: 64, tokenTypeIds: true });
    const n = e.inputIds.length;
    expect(encodePrompt(r, ['a b'], '*cls**sent_0**mask**sep+*', { maxLength: n }).inputIds).toEqual(e.inputIds);
    expect(encodePrompt(r, ['a b'], '*cls**sent_0**mask**sep+*', { maxLength: n - 1 }).inputIds).toEqual(
      e.inputIds.slice(0, n - 1),
    );
    const h = encodePrompt(r, ['a b'], '*cls**sent_0**mask**sep+**cls*', {
      maxLength: n,
      truncateHead: true,
      tokenTypeIds: true,
    });
    expect(h.inputIds).toEqual([...e.inputIds.slice(1), r.clsId]);
    // sep+ raises the segment after its token: the last token (a cls after it) is segment 1
    expect(h.tokenTypeIds).toEqual([...Array(n - 1).fill(0), 1]);
    expect(e.tokenTypeIds).toEqual(Array(n).fill(0));
  });

  it('a label part needs its label word id', () => {
    expect(() => encodePrompt(r, ['a'], '*cls**mask**label_1*', { maxLength: 8, labelWordIds: [5] })).toThrow(
      `template "*cls**mask**label_1*": part 'label_1' needs label word 1, but 1 label word ids were given`,
    );
    expect(() => encodePrompt(r, ['a'], '*cls**mask**label_0*', { maxLength: 8 })).toThrow(
      `template "*cls**mask**label_0*": part 'label_0' needs label word 0, but no label word ids were given`,
    );
  });

  it('label words starting with <, [, . or , are vocabulary tokens used as spelled', () => {
    const b = loadTokenizer(tokenizerDirs.bert);
    expect(labelWordId(r, '<mask>')).toBe(r.tokenToId('<mask>'));
    expect(labelWordId(b, '[MASK]')).toBe(b.tokenToId('[MASK]'));
    expect(labelWordId(r, '.')).toBe(r.tokenToId('.'));
    expect(labelWordId(r, ',')).toBe(r.tokenToId(','));
    // plain tokens too, where ' <' and ' [' would be other tokens ('Ġ<', 'Ġ[')
    expect(labelWordId(r, '<')).toBe(r.tokenToId('<'));
    expect(labelWordId(r, '[')).toBe(r.tokenToId('['));
    expect(r.tokenToId('<')).toBeTypeOf('number');
    expect(r.tokenToId('[')).toBeTypeOf('number');
    // not ' ,' (a leading-space token), which is what the word path would look up
    expect(r.tokenize(' ,')).not.toEqual([',']);
  });

  it('label words: a non-empty string; the tokens named when there are several', () => {
    for (const w of ['', 3, null])
      expect(() => labelWordId(r, w as never)).toThrow(`label word: expected a non-empty string, received ${JSON.stringify(w)}`);
    expect(() => labelWordId(r, 'superb-ish')).toThrow(
      `label word "superb-ish": must be a single token with a leading space, but " superb-ish" is ${r.tokenize(' superb-ish').length} tokens: ${JSON.stringify(r.tokenize(' superb-ish'))}`,
    );
  });
});

describe('template parser', () => {
  it('part kinds, sentence and label maxima, the mask flag', () => {
    const t = parseTemplate('*cls**label_2**sent_1**mask*_x_y*sep**sep+*a*+sentu_3*');
    expect(t).toEqual({
      source: '*cls**label_2**sent_1**mask*_x_y*sep**sep+*a*+sentu_3*',
      parts: [
        { kind: 'empty' },
        { kind: 'cls' },
        { kind: 'empty' },
        { kind: 'label', index: 2 },
        { kind: 'empty' },
        { kind: 'sent', index: 1, leadingSpace: false, firstChar: 'keep', dropLastChar: false },
        { kind: 'empty' },
        { kind: 'mask' },
        { kind: 'literal', text: ' x y', singleToken: false },
        { kind: 'sep', nextSegment: false },
        { kind: 'empty' },
        { kind: 'sep', nextSegment: true },
        { kind: 'literal', text: 'a', singleToken: true },
        { kind: 'sent', index: 3, leadingSpace: true, firstChar: 'upper', dropLastChar: false },
        { kind: 'empty' },
      ],
      maxSentence: 3,
      maxLabel: 2,
      hasMask: true,
    });
    expect(parseTemplate('sentiment')).toMatchObject({ maxSentence: -1, maxLabel: -1, hasMask: false });
    expect(parseTemplate('_sentiment').parts).toEqual([{ kind: 'literal', text: ' sentiment', singleToken: false }]);
    expect(parseTemplate('*sent_4**sent_2*').maxSentence).toBe(4);
    expect(parseTemplate('*label_3**label_1*').maxLabel).toBe(3);
    expect(parseTemplate('😀').parts).toEqual([{ kind: 'literal', text: '😀', singleToken: true }]);
  });

  it('every sentence variant, and its text', () => {
    const v = (p: string) => parseTemplate(`*${p}*`).parts[1] as Parameters<typeof sentenceText>[0];
    const cases: [string, boolean, string, boolean, string][] = [
      ['sent_0', false, 'keep', false, 'Hello there.'],
      ['+sent_0', true, 'keep', false, ' Hello there.'],
      ['sent-_0', false, 'keep', true, 'Hello there'],
      ['sentl_0', false, 'lower', false, 'hello there.'],
      ['+sentl_0', true, 'lower', false, ' hello there.'],
      ['sentl-_0', false, 'lower', true, 'hello there'],
      ['sentu_0', false, 'upper', false, 'Hello there.'],
      ['+sentu_0', true, 'upper', false, ' Hello there.'],
    ];
    for (const [p, leadingSpace, firstChar, dropLastChar, text] of cases) {
      expect(v(p), p).toEqual({ kind: 'sent', index: 0, leadingSpace, firstChar, dropLastChar });
      expect(sentenceText(v(p), 'Hello there.'), p).toBe(text);
    }
    expect(sentenceText(v('sentu_0'), 'élan')).toBe('Élan');
    expect(sentenceText(v('sentl_0'), '')).toBe('');
    expect(sentenceText(v('sent-_0'), 'ab😀')).toBe('ab');
    expect(sentenceText(v('sentl_0'), '😀A')).toBe('😀A');
  });

  it('malformed variables: the part and the template named', () => {
    expect(() => parseTemplate('*label_x*')).toThrow(`template "*label_x*": bad part 'label_x' (expected label_<i>)`);
    for (const p of ['label_1x', 'label_'])
      expect(() => parseTemplate(`*${p}*`), p).toThrow(`bad part '${p}' (expected label_<i>)`);
    expect(parseTemplate('*label_12*').maxLabel).toBe(12);
    expect(parseTemplate('*sent_12*').maxSentence).toBe(12);
    // "sent" inside a literal is not a variable
    expect(parseTemplate('*asent_1*').parts[1]).toEqual({ kind: 'literal', text: 'asent 1', singleToken: false });
    expect(() => parseTemplate('*labelx_0*')).toThrow(
      `template "*labelx_0*": part 'labelx_0' (GPT-3 in-context demonstrations) is not supported`,
    );
    for (const p of ['sent_x', '+sent-_0', 'sentu-_0', '+sentu-_1', 'sentq_0', 'sent_', 'sent_0x'])
      expect(() => parseTemplate(`*${p}*`), p).toThrow(
        `template "*${p}*": bad part '${p}' (sentence variables: sent_i, +sent_i, sent-_i, sentl_i, +sentl_i, sentl-_i, sentu_i, +sentu_i)`,
      );
    expect(() => parseTemplate(3 as never)).toThrow('template: expected a string, received number');
  });
});
