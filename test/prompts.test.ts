// Template language, standard encoding, label words and per-task settings against the reference's own
// routine (`tokenize_multipart_input`): all 256 cases of fixtures-a.json `tokenization`.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../lib/cli/encode.js';
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
import { tokenizationCases, tokenizerDirs, type TokenizationCase } from './helpers/fixtures.js';

const tokDir = tokenizerDirs;
const cases = tokenizationCases();
const tok = (k: 'roberta' | 'bert'): Tokenizer => loadTokenizer(tokDir[k]);

/** Every way this case can fail, as messages; empty when the case matches. */
function mismatches(c: TokenizationCase): string[] {
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
    out.push(
      `standard input_ids\n  got      ${JSON.stringify(std.inputIds)}\n  expected ${JSON.stringify(c.standard.input_ids)}`,
    );
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

describe('template language', () => {
  const r = tok('roberta');
  const b = tok('bert');
  const enc = (t: Tokenizer, s: string) => t.encode(s);
  const M = 50264;

  it('parses parts: specials, sentence variables, literals, empty parts', () => {
    const p = parseTemplate('*cls**sent-_0*?*mask*,*+sentl_1**sep+*');
    expect(p.parts.map((x) => x.kind)).toEqual([
      'empty',
      'cls',
      'empty',
      'sent',
      'literal',
      'mask',
      'literal',
      'sent',
      'empty',
      'sep',
      'empty',
    ]);
    expect(p.maxSentence).toBe(1);
    expect(p.hasMask).toBe(true);
    expect(p.parts[3]).toEqual({ kind: 'sent', index: 0, leadingSpace: false, firstChar: 'keep', dropLastChar: true });
    expect(p.parts[7]).toEqual({ kind: 'sent', index: 1, leadingSpace: true, firstChar: 'lower', dropLastChar: false });
    expect(parseTemplate('*_It_was*').parts[1]).toEqual({ kind: 'literal', text: ' It was', singleToken: false });
  });

  it('sentence variants: sent, +sent, sent-, sentl, +sentl, sentl-, sentu, +sentu', () => {
    const texts = ['Good movie.', 'Hello there?'];
    const run = (part: string) => encodePrompt(r, texts, `*cls**${part}**mask*`, { maxLength: 512 }).inputIds.slice(1, -1);
    expect(run('sent_0')).toEqual(enc(r, 'Good movie.'));
    expect(run('+sent_0')).toEqual(enc(r, ' Good movie.'));
    expect(run('sent-_0')).toEqual(enc(r, 'Good movie'));
    expect(run('sentl_1')).toEqual(enc(r, 'hello there?'));
    expect(run('+sentl_1')).toEqual(enc(r, ' hello there?'));
    expect(run('sentl-_1')).toEqual(enc(r, 'hello there'));
    expect(encodePrompt(r, ['good movie.'], '*cls**sentu_0**mask*', { maxLength: 512 }).inputIds.slice(1, -1)).toEqual(
      enc(r, 'Good movie.'),
    );
    expect(encodePrompt(r, ['good movie.'], '*cls**+sentu_0**mask*', { maxLength: 512 }).inputIds.slice(1, -1)).toEqual(
      enc(r, ' Good movie.'),
    );
    // sent-_i drops the last character whatever it is (pitfall 9.2.9), by code point.
    expect(encodePrompt(r, ['abc'], '*sent-_0**mask*', { maxLength: 512 }).inputIds.slice(0, -1)).toEqual(enc(r, 'ab'));
    expect(encodePrompt(r, ['ab😀'], '*sent-_0**mask*', { maxLength: 512 }).inputIds.slice(0, -1)).toEqual(enc(r, 'ab'));
  });

  it('literals: _ is a space; one character is a bare token (unk when not in the vocabulary); longer text is encoded', () => {
    const ids = encodePrompt(r, ['x'], '*mask*.*?*€*_*_It_was*', { maxLength: 512 }).inputIds;
    expect(ids).toEqual([M, 4, 116, 3, 3, ...enc(r, ' It was')]);
    // BERT: the uncased vocabulary has no 'A', so a one-character 'A' part is [UNK], as convert_tokens_to_ids gives.
    expect(encodePrompt(b, ['x'], '*cls**mask*A*a*', { maxLength: 512 }).inputIds).toEqual([101, 103, 100, b.tokenToId('a')]);
  });

  it('label_i emits the label word id; a missing label word is an error', () => {
    expect(encodePrompt(r, ['x'], '*mask**label_1*', { maxLength: 512, labelWordIds: [6587, 372] }).inputIds).toEqual([M, 372]);
    expect(() => encodePrompt(r, ['x'], '*mask**label_2*', { maxLength: 512, labelWordIds: [6587, 372] })).toThrow(
      /label_2.*2 label word ids/,
    );
  });

  it('per-sentence limits cut each sentence part (first for sentence 0, other for ≥ 1), not literals', () => {
    const texts = ['one two three four five', 'six seven eight nine'];
    const e = encodePrompt(r, texts, '*cls**sent_0**sent_0*_a_b_c_d*mask**+sent_1**sep+*', {
      maxLength: 512,
      firstSentLimit: 2,
      otherSentLimit: 3,
    });
    const s0 = enc(r, texts[0]).slice(0, 2);
    expect(e.inputIds).toEqual([0, ...s0, ...s0, ...enc(r, ' a b c d'), M, ...enc(r, ' ' + texts[1]).slice(0, 3), 2]);
    expect(e.maskPos).toBe(1 + 2 + 2 + 4);
    const z = encodePrompt(r, texts, '*cls**sent_0**mask*', { maxLength: 512, firstSentLimit: 0 });
    expect(z.inputIds).toEqual([0, M]);
  });

  it('truncates the tail to max_length, or the head with truncateHead; mask_pos follows', () => {
    const long = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    const tail = encodePrompt(r, [long], '*cls**mask**sent_0**sep+*', { maxLength: 10 });
    expect(tail.inputIds).toEqual([0, M, ...enc(r, long).slice(0, 8)]);
    expect(tail.maskPos).toBe(1);
    const full = [0, ...enc(r, long), M, 4, 2];
    const head = encodePrompt(r, [long], '*cls**sent_0**mask*.*sep+*', { maxLength: 10, truncateHead: true });
    expect(head.inputIds).toEqual(full.slice(full.length - 10));
    expect(head.maskPos).toBe(7);
  });

  it('the mask position is the first mask id (a <mask> inside a text counts, as in the reference)', () => {
    const e = encodePrompt(r, ['a <mask> b'], '*cls**sent_0**mask*', { maxLength: 512 });
    expect(e.maskPos).toBe(2);
  });

  it('segment ids on request: sep+ increments after its own token (BERT token_type_ids)', () => {
    const e = encodePrompt(b, ['a b', 'c'], '*cls**sent_0**sep+**mask**+sent_1**sep+*', { maxLength: 512, tokenTypeIds: true });
    expect(e.inputIds).toEqual([101, ...enc(b, 'a b'), 102, 103, ...enc(b, ' c'), 102]);
    expect(e.tokenTypeIds).toEqual([0, 0, 0, 0, 1, 1, 1]);
    const s = encodeStandard(b, ['a b', 'c'], 512, { tokenTypeIds: true });
    expect(s.inputIds).toEqual([101, ...enc(b, 'a b'), 102, ...enc(b, 'c'), 102]);
    expect(s.tokenTypeIds).toEqual([0, 0, 0, 0, 1, 1]);
  });

  it('standard encoding: <s> A </s> B </s>, null texts skipped, tail truncation', () => {
    expect(encodeStandard(r, ['Hi.', 'Yes'], 512).inputIds).toEqual([0, ...enc(r, 'Hi.'), 2, ...enc(r, 'Yes'), 2]);
    expect(encodeStandard(r, ['Hi.', null], 512).inputIds).toEqual([0, ...enc(r, 'Hi.'), 2]);
    expect(encodeStandard(r, ['Hi there friend', 'Yes'], 3).inputIds).toEqual([0, ...enc(r, 'Hi there friend').slice(0, 2)]);
  });
});

describe('label words and task settings', () => {
  const r = tok('roberta');

  it('label words get a leading space; <, [, ., , words are tokens used verbatim', () => {
    expect(labelWordIds(r, ['terrible', 'great'])).toEqual([6587, 372]);
    expect(labelWordId(r, '<mask>')).toBe(50264);
    expect(labelWordId(r, '.')).toBe(4);
    expect(labelWordId(tok('bert'), '[MASK]')).toBe(103);
  });

  it('has settings for the 14 tasks, CoLA and the demo task, looked up case-insensitively', () => {
    expect(Object.keys(TASK_PROMPTS).length).toBe(16);
    expect(taskPrompt('sst-2').task).toBe('SST-2');
    expect(taskPrompt('AG_NEWS')).toMatchObject({
      task: 'ag_news',
      maxLength: 256,
      firstSentLimit: 240,
      otherSentLimit: null,
      labelWords: ['world', 'sports', 'business', 'tech'],
    });
    expect(taskPrompt('cola')).toMatchObject({
      template: '*cls**sent_0*_This_is*mask*.*sep+*',
      labelWords: ['incorrect', 'correct'],
      maxLength: 128,
    });
    expect(taskPrompt('qnli').labelWords).toEqual(['Yes', 'No']);
    expect(taskPrompt('trec').labelWords).toEqual(['Description', 'Entity', 'Expression', 'Human', 'Location', 'Number']);
    for (const name of Object.keys(TASK_PROMPTS))
      expect(taskEncoder(r, name).labelWordIds.length).toBe(taskPrompt(name).labels.length);
  });

  it('accepts a custom template, label words (mapping or list) and limits', () => {
    const e = taskEncoder(r, 'sst-2', {
      template: '*cls**sent_0*_It_is*mask*!*sep+*',
      labelWords: { 1: 'good', 0: 'bad' },
      maxLength: 64,
      firstSentLimit: 3,
    });
    expect(e.labelWordIds).toEqual(labelWordIds(r, ['bad', 'good']));
    expect(e.prompt).toMatchObject({ maxLength: 64, firstSentLimit: 3, otherSentLimit: null });
    expect(e.encode(['one two three four']).inputIds).toEqual([
      0,
      ...r.encode('one two three four').slice(0, 3),
      ...r.encode(' It is'),
      50264,
      r.tokenToId('!'),
      2,
    ]);
    expect(taskEncoder(r, 'mr', { labelWords: ['awful', 'fine'], firstSentLimit: null }).prompt).toMatchObject({
      labelWords: ['awful', 'fine'],
      firstSentLimit: null,
      otherSentLimit: 50,
    });
  });
});

describe('bad input', () => {
  const r = tok('roberta');
  const catchErr = (f: () => unknown): Error => {
    try {
      f();
    } catch (e) {
      return e as Error;
    }
    throw new Error('expected an error');
  };

  it('unknown task: OptionError naming the task and listing the known ones', () => {
    const e = catchErr(() => taskPrompt('sst2'));
    expect(e).toBeInstanceOf(OptionError);
    expect(e.message).toContain("'task'");
    expect(e.message).toContain('"sst2"');
    expect(e.message).toContain('SST-2');
    expect(catchErr(() => taskEncoder(r, 'imdb'))).toBeInstanceOf(OptionError);
  });

  it('label word of two tokens: InputError naming the word and its tokens', () => {
    const e = catchErr(() => labelWordId(r, 'superb-ish'));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toContain('label word "superb-ish"');
    expect(e.message).toContain(JSON.stringify(r.tokenize(' superb-ish')));
    const e2 = catchErr(() => taskEncoder(r, 'SST-2', { labelWords: ['terrible', 'greatness123'] }));
    expect(e2).toBeInstanceOf(InputError);
    expect(e2.message).toContain('greatness123');
    expect(catchErr(() => labelWordId(r, '[NOPE]')).message).toMatch(/\[NOPE\].*verbatim.*not a token/);
  });

  it('label words that do not cover the labels', () => {
    expect(catchErr(() => taskPrompt('SST-2', { labelWords: { '0': 'bad' } })).message).toMatch(/no word for label "1"/);
    expect(catchErr(() => taskPrompt('SST-2', { labelWords: { '0': 'bad', '1': 'good', '2': 'x' } })).message).toMatch(
      /unknown label/,
    );
    expect(catchErr(() => taskPrompt('SST-2', { labelWords: ['bad'] }))).toBeInstanceOf(OptionError);
  });

  it('mask truncated away: InputError naming the example and the lengths', () => {
    const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const e = catchErr(() => encodePrompt(r, [long], '*cls**sent_0*_It_was*mask*.*sep+*', { maxLength: 32, example: 7 }));
    expect(e).toBeInstanceOf(InputError);
    const n = 1 + r.encode(long).length + 2 + 1 + 2;
    expect(e.message).toContain('example 7');
    expect(e.message).toContain(`${n} tokens`);
    expect(e.message).toContain(`position ${n - 3}`);
    expect(e.message).toContain('max_length 32');
    // The same example fits with a first_sent_limit, as the reference advises.
    expect(encodePrompt(r, [long], '*cls**sent_0*_It_was*mask*.*sep+*', { maxLength: 32, firstSentLimit: 20 }).maskPos).toBe(23);
    const enc = taskEncoder(r, 'SST-2', { maxLength: 16 });
    expect(catchErr(() => enc.encode([long], 3)).message).toMatch(/^example 3: the mask was truncated away/);
  });

  it('template referencing sent_2 with one text: InputError naming the example and the sentence', () => {
    const e = catchErr(() => encodePrompt(r, ['only one'], '*cls**sent_0**mask**+sent_2*', { maxLength: 128, example: 0 }));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/^example 0: template .* uses sentence 2, but the example has 1 text/);
    expect(catchErr(() => taskEncoder(r, 'MNLI').encode(['premise only.'], 5)).message).toMatch(/example 5: .*sentence 1/);
  });

  it('malformed templates and options', () => {
    for (const t of ['*cls**sent_x**mask*', '*+sent-_0**mask*', '*sentu-_0**mask*', '*labelx_0*', '*label_a*']) {
      expect(
        catchErr(() => parseTemplate(t)),
        t,
      ).toBeInstanceOf(InputError);
    }
    expect(catchErr(() => encodePrompt(r, ['a'], '*cls**sent_0*', { maxLength: 8 })).message).toMatch(/has no mask part/);
    expect(catchErr(() => encodePrompt(r, ['a'], '*mask*', { maxLength: 0 }))).toBeInstanceOf(OptionError);
    expect(catchErr(() => encodePrompt(r, ['a'], '*mask*', { maxLength: 8, firstSentLimit: -1 }))).toBeInstanceOf(OptionError);
    expect(catchErr(() => encodePrompt(r, 'a' as never, '*mask*', { maxLength: 8 }))).toBeInstanceOf(InputError);
  });
});

describe('lmkernel encode (lib/cli/encode.ts run)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmk-encode-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const r = tok('roberta');
  const readJsonl = (p: string) =>
    readFileSync(p, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
  const quiet = async (args: string[]) => {
    const orig = console.error;
    const logged: string[] = [];
    console.error = (...a: unknown[]) => void logged.push(a.join(' '));
    try {
      return { code: await run(args), logged };
    } finally {
      console.error = orig;
    }
  };
  const mnli = cases.filter((c) => c.tokenizer === 'roberta' && c.task === 'MNLI');

  it('encodes fixture examples (prompt) exactly, with mask_pos', async () => {
    const input = join(dir, 'mnli.jsonl');
    writeFileSync(input, mnli.map((c) => JSON.stringify({ texts: c.texts })).join('\n') + '\n\n');
    const out = join(dir, 'out', 'mnli.out.jsonl');
    const { code, logged } = await quiet(['--task', 'mnli', '--tokenizer', tokDir.roberta, '--input', input, '--out', out]);
    expect(code).toBe(0);
    expect(readJsonl(out)).toEqual(mnli.map((c) => ({ input_ids: c.prompt.input_ids, mask_pos: c.prompt.mask_pos })));
    expect(logged.join('\n')).toContain('wrote 16 line(s)');
    expect(readdirSync(join(dir, 'out'))).toEqual(['mnli.out.jsonl']); // atomic write left no temporary file
  });

  it('--standard writes input_ids only, for BERT too', async () => {
    const bert = cases.filter((c) => c.tokenizer === 'bert' && c.task === 'SST-2');
    const input = join(dir, 'sst2.jsonl');
    writeFileSync(input, bert.map((c) => JSON.stringify({ texts: c.texts })).join('\n'));
    const out = join(dir, 'sst2.std.jsonl');
    const { code } = await quiet(['--task', 'SST-2', '--tokenizer', tokDir.bert, '--input', input, '--out', out, '--standard']);
    expect(code).toBe(0);
    expect(readJsonl(out)).toEqual(bert.map((c) => ({ input_ids: c.standard.input_ids })));
  });

  it('custom template, label words, lengths; an example that cannot be encoded gives an error line and exit 1', async () => {
    const input = join(dir, 'custom.jsonl');
    const long = Array.from({ length: 50 }, (_, i) => `w${i}`).join(' ');
    writeFileSync(
      input,
      [
        JSON.stringify({ texts: ['A fine film.'] }),
        JSON.stringify({ texts: [long] }),
        JSON.stringify({ texts: ['Short.'] }),
      ].join('\n'),
    );
    const out = join(dir, 'custom.out.jsonl');
    const { code, logged } = await quiet([
      '--task',
      'sst-2',
      '--tokenizer',
      tokDir.roberta,
      '--input',
      input,
      '--out',
      out,
      '--template',
      '*cls**sent_0*_It_is*mask*!*sep+*',
      '--label-words',
      '{"0":"bad","1":"good"}',
      '--max-length',
      '20',
      '--first-sent-limit',
      'none',
    ]);
    expect(code).toBe(1);
    const rows = readJsonl(out);
    expect(rows.length).toBe(3);
    expect(rows[0]).toEqual({
      input_ids: [0, ...r.encode('A fine film.'), ...r.encode(' It is'), 50264, r.tokenToId('!'), 2],
      mask_pos: 1 + r.encode('A fine film.').length + 2,
    });
    expect(rows[1].error).toMatch(/^line 2: the mask was truncated away: .* max_length 20/);
    expect(rows[2]).toEqual({
      input_ids: [0, ...r.encode('Short.'), ...r.encode(' It is'), 50264, r.tokenToId('!'), 2],
      mask_pos: 1 + r.encode('Short.').length + 2,
    });
    expect(logged.join('\n')).toContain(JSON.stringify(labelWordIds(r, ['bad', 'good'])));
    // With a first-sentence cap the long example fits.
    const { code: code2 } = await quiet([
      '--task',
      'sst-2',
      '--tokenizer',
      tokDir.roberta,
      '--input',
      input,
      '--out',
      out,
      '--max-length',
      '20',
      '--first-sent-limit',
      '10',
    ]);
    expect(code2).toBe(0);
    expect(readJsonl(out)[1].input_ids.length).toBe(1 + 10 + 2 + 1 + 2);
  });

  it('a malformed input line is an InputError naming the line number; nothing is written', async () => {
    const input = join(dir, 'bad.jsonl');
    writeFileSync(input, '{"texts": ["ok"]}\n{"texts": "not a list"}\n');
    const out = join(dir, 'bad.out.jsonl');
    await expect(run(['--task', 'SST-2', '--tokenizer', tokDir.roberta, '--input', input, '--out', out])).rejects.toThrow(
      /bad\.jsonl:2: line 2 must be/,
    );
    writeFileSync(input, '{"texts": ["ok"]}\n\n{not json\n');
    await expect(run(['--task', 'SST-2', '--tokenizer', tokDir.roberta, '--input', input, '--out', out])).rejects.toThrow(
      /:3: line 3 is not valid JSON/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('bad options: unknown task, two-token label word, missing flags, bad limits, missing tokenizer files', async () => {
    const input = join(dir, 'one.jsonl');
    writeFileSync(input, '{"texts": ["ok"]}\n');
    const out = join(dir, 'one.out.jsonl');
    const base = ['--tokenizer', tokDir.roberta, '--input', input, '--out', out];
    await expect(run(['--task', 'nope', ...base])).rejects.toThrow(OptionError);
    await expect(run(['--task', 'SST-2', ...base, '--label-words', '["terrible","greatness123"]'])).rejects.toThrow(
      /label word "greatness123"/,
    );
    await expect(run(['--task', 'SST-2', ...base, '--label-words', '{oops'])).rejects.toThrow(/--label-words/);
    await expect(run(['--task', 'SST-2', ...base, '--first-sent-limit', '-3'])).rejects.toThrow(/--first-sent-limit/);
    await expect(run(['--task', 'SST-2', '--input', input, '--out', out])).rejects.toThrow(/--tokenizer' is required/);
    await expect(run(['--task', 'SST-2', ...base, '--tokenizer', dir])).rejects.toThrow(/no tokenizer files found/);
    expect(existsSync(out)).toBe(false);
    const { code } = await (async () => {
      const orig = console.log;
      console.log = () => undefined;
      try {
        return { code: await run(['--help']) };
      } finally {
        console.log = orig;
      }
    })();
    expect(code).toBe(0);
  });
});
