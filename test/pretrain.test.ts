// Pre-training from the API (a learnable toy corpus), the model folder it writes (HF config, safetensors,
// tokenizer.json) loaded back by loadModel/loadTokenizer, the restricted GPT-2 BPE vocabulary, the Brown
// reader and the demo task's split (no demo-task text in the pre-training corpus).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../lib/model.js';
import { pretrain, robertaConfig, saveModelFolder } from '../lib/pretrain.js';
import { loadTokenizer } from '../lib/tokenizer.js';
import { detokenize, readBrown } from '../lib/demo/brown.js';
import { DEMO_TASK, splitBrown } from '../lib/demo/demoTask.js';
import { restrictedTokenizerJson } from '../lib/demo/vocab.js';
import { taskEncoder } from '../lib/prompts/index.js';

describe('restricted GPT-2 BPE tokenizer', () => {
  const texts = ['The cat sat on the mat.', 'The dog sat on the log.', 'A cat and a dog.'];
  const v = restrictedTokenizerJson(texts, { minCount: 1, keep: ['news', 'love'] });

  it('has RoBERTa specials first, <mask> last, and only the tokens the texts (and kept words) need', () => {
    const t = v.tokenizer;
    expect([t.clsId, t.padId, t.sepId, t.unkId]).toEqual([0, 1, 2, 3]);
    expect(t.maskId).toBe(t.vocabSize - 1);
    expect(v.vocabSize).toBeLessThan(400); // 256 bytes + a few merges + 5 specials
    expect(t.tokenize('The cat sat on the mat.')).toEqual(['The', 'Ġcat', 'Ġsat', 'Ġon', 'Ġthe', 'Ġmat', '.']);
    // a kept word is one token of its own
    const news = t.tokenToId('Ġnews');
    expect(Number.isInteger(news) && news! >= 4 && news! < t.maskId).toBe(true);
    expect(t.encode(' news')).toEqual([news]);
    // a word never seen still tokenizes (bytes and kept merges), every id inside the vocabulary
    const ids = t.encode('Zyzzyva quux!');
    expect(ids.every((i) => i >= 4 && i < t.vocabSize - 1)).toBe(true);
  });

  it('loads through loadTokenizer from a written tokenizer.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmk-tok-'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(v.json));
    const t = loadTokenizer(dir);
    expect(t.kind).toBe('roberta');
    expect(t.encode('The dog sat.')).toEqual(v.tokenizer.encode('The dog sat.'));
  });
});

describe('Brown corpus and the demo task', () => {
  it('detokenizes tagged words', () => {
    expect(detokenize(['He', 'said', ',', '``', 'no', "''", '.'])).toBe('He said, "no".');
    expect(detokenize(['It', "doesn't", 'cost', '$', '5', '(', 'or', 'so', ')', '.'])).toBe("It doesn't cost $5 (or so).");
  });

  it('keeps every demo-task text out of the pre-training corpus; test and train texts are disjoint', () => {
    const texts = readBrown();
    expect(texts.length).toBe(500);
    const s = splitBrown(texts);
    const pre = new Set([...s.pretrain, ...s.heldout].flatMap((t) => t.sentences));
    expect(s.train.some(([, x]) => pre.has(x))).toBe(false);
    expect(s.test.some(([, x]) => pre.has(x))).toBe(false);
    expect([...s.pretrain, ...s.heldout].some((t) => t.category === 'news' || t.category === 'romance')).toBe(false);
    const train = new Set(s.train.map(([, x]) => x));
    expect(s.test.filter(([, x]) => train.has(x)).length).toBeLessThan(5); // only stock phrases can repeat across texts
    expect(new Set(s.train.map(([l]) => l))).toEqual(new Set([0, 1]));
  });
});

describe('pretrain', () => {
  it('learns a toy corpus, writes a Hugging Face folder that loads, and reports held-out accuracy', async () => {
    const train: number[][] = [];
    const heldout: number[][] = [];
    for (let s = 0; s < 200; s++) (s % 10 === 9 ? heldout : train).push([0, ...Array(12).fill(4 + (s % 17)), 2]);
    const phases = new Set<string>();
    const r = await pretrain({
      hidden: 32,
      layers: 2,
      heads: 2,
      intermediate: 64,
      maxLength: 16,
      vocabSize: 25,
      maskId: 24,
      train,
      heldout,
      steps: 150,
      batchSize: 16,
      warmupSteps: 10,
      lr: 3e-3,
      evalEvery: 50,
      onProgress: (p) => phases.add(p.split(' ')[0]),
    });
    expect(r.steps).toBe(150);
    expect(r.loss).toHaveLength(150);
    expect(r.loss.slice(-5).reduce((a, b) => a + b) / 5).toBeLessThan(r.loss[0] - 1);
    expect(r.evals.map((e) => e.step)).toEqual([50, 100, 150]);
    expect(r.evals[2].accuracy).toBeGreaterThan(0.5);
    expect(phases).toEqual(new Set(['train', 'eval']));

    const dir = mkdtempSync(join(tmpdir(), 'lmk-pt-'));
    const tokJson = restrictedTokenizerJson(['a b'], {}).json; // any tokenizer: the folder layout is what is tested
    const arch = { hidden: 32, layers: 2, heads: 2, intermediate: 64, maxLength: 16 };
    saveModelFolder(dir, r.model, robertaConfig(arch, 25), tokJson);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      model_type: 'roberta',
      vocab_size: 25,
      hidden_size: 32,
      max_position_embeddings: 18,
      tie_word_embeddings: true,
    });
    const m = await loadModel(dir);
    expect(m.info).toMatchObject({ arch: 'roberta', hidden: 32, layers: 2, vocabSize: 25 });
    expect(m.info.params).toContain('lm_head.bias');
    const x = { input_ids: [0, 7, 7, 24, 7, 2], mask_pos: 3 };
    const [a] = await m.outputs({ inputs: [x], labelWordIds: [7, 8] });
    const [b] = await r.model.outputs({ inputs: [x], labelWordIds: [7, 8] });
    expect(a[0]).toBeCloseTo(b[0], 4);
    expect(a[0]).toBeGreaterThan(a[1]); // it learned to copy
  });

  it('names bad options', async () => {
    const base = {
      hidden: 32,
      layers: 1,
      heads: 3,
      intermediate: 64,
      maxLength: 16,
      vocabSize: 25,
      maskId: 24,
      train: [[0, 5, 2]],
      steps: 1,
      lr: 1e-3,
    };
    await expect(pretrain(base)).rejects.toThrow(/heads/);
    await expect(pretrain({ ...base, heads: 2, maskId: 2 })).rejects.toThrow(/maskId/);
    await expect(pretrain({ ...base, heads: 2, train: [[0, 99, 2]] })).rejects.toThrow(/outside the vocabulary/);
    await expect(pretrain({ ...base, heads: 2, dropout: 1 })).rejects.toThrow(/'dropout'.*\[0, 1\)/);
  });
});

describe('the shipped demo model', () => {
  it('loads with its tokenizer and encodes the demo task with single-token label words', async () => {
    const dir = join(import.meta.dirname, '..', 'models', 'demo');
    const tok = loadTokenizer(dir);
    const enc = taskEncoder(tok, DEMO_TASK);
    expect(enc.labelWordIds).toHaveLength(2);
    const m = await loadModel(dir);
    expect(m.info.vocabSize).toBe(tok.vocabSize);
    const rec = JSON.parse(readFileSync(join(dir, 'training.json'), 'utf8'));
    // package.json's pretrain:demo: --steps 2000, held-out evaluation every 250 steps (the default)
    expect(rec.heldout.map((e: { step: number }) => e.step)).toEqual([250, 500, 750, 1000, 1250, 1500, 1750, 2000]);
    expect(rec.architecture).toMatchObject({
      hidden: 128,
      layers: 4,
      heads: 4,
      intermediate: 512,
      maxLength: 128,
      vocab_size: tok.vocabSize,
    });
  });
});
