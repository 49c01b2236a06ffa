// Loading RoBERTa and BERT tokenizers from the files of test/fixtures/tokenizers through @huggingface/tokenizers.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../lib/errors.js';
import { bertTokenizerJson, loadTokenizer, tokenizerFromJson } from '../lib/tokenizer.js';
import { encodePrompt, encodeStandard } from '../lib/prompts/index.js';
import { tokenizationCases, tokenizerDirs } from './helpers/fixtures.js';

const { roberta: robertaDir, bert: bertDir } = tokenizerDirs;
const tmp = mkdtempSync(join(tmpdir(), 'lmk-tok-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cases = tokenizationCases();

describe('RoBERTa', () => {
  const tok = loadTokenizer(robertaDir);

  it('loads tokenizer.json with the roberta-base special ids and vocabulary size', () => {
    expect(tok.kind).toBe('roberta');
    expect([tok.clsId, tok.padId, tok.sepId, tok.unkId, tok.maskId]).toEqual([0, 1, 2, 3, 50264]);
    expect([tok.clsToken, tok.sepToken, tok.maskToken]).toEqual(['<s>', '</s>', '<mask>']);
    expect(tok.vocabSize).toBe(50265);
  });

  it('encodes without special tokens; a leading space gives the Ġ form; a trailing space is kept', () => {
    expect(tok.encode('great')).toEqual([12338]);
    expect(tok.encode(' great')).toEqual([372]);
    expect(tok.tokenize(' great')).toEqual(['Ġgreat']);
    expect(tok.encode(' It was')).toEqual([85, 21]);
    expect(tok.encode(' movie ')).toEqual([1569, 1437]);
    expect(tok.tokenize('movie ')).toEqual(['movie', 'Ġ']);
    expect(tok.encode('')).toEqual([]);
  });

  it('convertTokenToId maps bare tokens, and unknown tokens to <unk>', () => {
    expect(tok.convertTokenToId('.')).toBe(4);
    expect(tok.convertTokenToId('?')).toBe(116);
    // 'é' is itself a byte-level symbol (byte 0xE9); '€' and ' ' are not vocabulary tokens.
    expect(tok.tokenToId('é')).toBe(41907);
    expect(tok.convertTokenToId('€')).toBe(3);
    expect(tok.convertTokenToId(' ')).toBe(3);
    expect(tok.tokenToId('€')).toBeUndefined();
    expect(tok.idToToken(372)).toBe('Ġgreat');
  });

  it('vocab.json + merges.txt builds the same tokenizer: all RoBERTa fixture cases match', () => {
    const alt = loadTokenizer(robertaDir, { prefer: 'vocab.json' });
    expect(alt).not.toBe(tok);
    expect([alt.clsId, alt.padId, alt.sepId, alt.unkId, alt.maskId, alt.vocabSize]).toEqual([0, 1, 2, 3, 50264, 50265]);
    let matched = 0;
    for (const c of cases.filter((x) => x.tokenizer === 'roberta')) {
      const p = encodePrompt(alt, c.texts, c.template, {
        maxLength: c.max_length,
        firstSentLimit: c.first_sent_limit,
        otherSentLimit: c.other_sent_limit,
      });
      expect(p.inputIds).toEqual(c.prompt.input_ids);
      expect(p.maskPos).toBe(c.prompt.mask_pos);
      expect(encodeStandard(alt, c.texts, c.max_length).inputIds).toEqual(c.standard.input_ids);
      for (const t of c.texts) expect(alt.encode(' ' + t)).toEqual(tok.encode(' ' + t));
      matched++;
    }
    expect(matched).toBe(224);
  });

  it('picks vocab.json + merges.txt when a directory has no tokenizer.json', () => {
    const dir = join(tmp, 'roberta-vm');
    rmSync(dir, { recursive: true, force: true });
    mkdirp(dir);
    symlinkSync(join(robertaDir, 'vocab.json'), join(dir, 'vocab.json'));
    symlinkSync(join(robertaDir, 'merges.txt'), join(dir, 'merges.txt'));
    const t = loadTokenizer(dir);
    expect(t.kind).toBe('roberta');
    expect(t.encode(' Hello world!')).toEqual(tok.encode(' Hello world!'));
  });

  it('keeps added tokens in text whole (<mask> strips the space on its left)', () => {
    expect(tok.encode('a <mask> b')).toEqual([102, 50264, 741]);
  });
});

describe('BERT (uncased)', () => {
  const tok = loadTokenizer(bertDir);

  it('loads vocab.txt with the BERT special ids and vocabulary size', () => {
    expect(tok.kind).toBe('bert');
    expect([tok.padId, tok.unkId, tok.clsId, tok.sepId, tok.maskId]).toEqual([0, 100, 101, 102, 103]);
    expect(tok.vocabSize).toBe(30522);
  });

  it('lower-cases, strips accents, splits punctuation and uses ## word pieces', () => {
    expect(tok.encode('Héllo WORLD!')).toEqual(tok.encode('hello world !'));
    expect(tok.tokenize('Tokenization')).toEqual(['token', '##ization']);
    expect(tok.encode(' terrible')).toEqual([6659]);
  });

  it('convertTokenToId: an upper-case token is not in the uncased vocabulary and maps to [UNK]', () => {
    expect(tok.convertTokenToId('?')).toBe(1029);
    expect(tok.convertTokenToId('A')).toBe(100);
  });

  it('a tokenizer.json written from vocab.txt loads as BERT and encodes the same', () => {
    const dir = join(tmp, 'bert-json');
    mkdirp(dir);
    writeFileSync(
      join(dir, 'tokenizer.json'),
      JSON.stringify(bertTokenizerJson(readFileSync(join(bertDir, 'vocab.txt'), 'utf8'))),
    );
    const t = loadTokenizer(dir);
    expect(t.kind).toBe('bert');
    const s = "The Café served 12,000 croissants; wasn't that impressive?";
    expect(t.encode(s)).toEqual(tok.encode(s));
  });

  it('lowercase: false keeps case (cased vocabularies)', () => {
    const t = loadTokenizer(bertDir, { lowercase: false });
    expect(t.encode('Hello')).toEqual([100]);
  });
});

describe('loadTokenizer errors', () => {
  it('names the directory and the files it looked for when none is present', () => {
    const dir = join(tmp, 'empty');
    mkdirp(dir);
    let err: unknown;
    try {
      loadTokenizer(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const msg = (err as Error).message;
    expect(msg).toContain(dir);
    for (const f of ['tokenizer.json', 'vocab.json', 'merges.txt', 'vocab.txt']) expect(msg).toContain(f);
  });

  it('merges.txt alone is not enough', () => {
    const dir = join(tmp, 'merges-only');
    mkdirp(dir);
    symlinkSync(join(robertaDir, 'merges.txt'), join(dir, 'merges.txt'));
    expect(() => loadTokenizer(dir)).toThrow(/no tokenizer files found.*vocab\.json \+ merges\.txt/);
  });

  it('a missing directory is an InputError naming it', () => {
    const dir = join(tmp, 'does-not-exist');
    expect(() => loadTokenizer(dir)).toThrow(InputError);
    expect(() => loadTokenizer(dir)).toThrow(dir);
  });

  it('a tokenizer.json with an unsupported model type', () => {
    expect(() => tokenizerFromJson({ model: { type: 'Unigram', vocab: [] } }, 'x/tokenizer.json')).toThrow(
      /x\/tokenizer\.json.*Unigram/,
    );
  });

  it('invalid JSON names the file', () => {
    const dir = join(tmp, 'bad-json');
    mkdirp(dir);
    writeFileSync(join(dir, 'tokenizer.json'), '{ not json');
    expect(() => loadTokenizer(dir)).toThrow(/tokenizer\.json: not valid JSON/);
  });
});

function mkdirp(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}
