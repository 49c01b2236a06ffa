// `lmkernel pretrain` (lib/cli/pretrain.ts) at toy size: a few steps on the Brown corpus, then the written
// folder loads (model and tokenizer), config.json and training.json say what the flags asked for, and the
// parameter count is the one derived by hand for a RoBERTa MLM with a tied decoder.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run as pretrainCli } from '../lib/cli/pretrain.js';
import { loadModel } from '../lib/model.js';
import { loadTokenizer } from '../lib/tokenizer.js';

/** Parameters of a RoBERTa masked LM, decoder weight tied to the word embeddings (the decoder bias is not). */
function robertaParams(V: number, H: number, L: number, I: number, positions: number): number {
  const embeddings = V * H + positions * H + H + 2 * H; // word, position, one token type, LayerNorm
  const layer = 4 * (H * H + H) + 2 * H + (H * I + I) + (I * H + H) + 2 * H; // q k v o, LN, FFN in/out, LN
  const head = H * H + H + 2 * H + V; // dense, LayerNorm, decoder bias
  return embeddings + L * layer + head;
}

describe('lmkernel pretrain (CLI)', () => {
  it("the demo model's recipe count: 1,826,372 parameters (models/demo/training.json)", () => {
    expect(robertaParams(7748, 128, 4, 512, 130)).toBe(1_826_372);
  });

  it('a few steps at toy size write a folder that loads, with the flags in config.json and training.json', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'lmk-pt-cli-')), 'model');
    const flags = [
      '--out',
      out,
      '--hidden',
      '16',
      '--layers',
      '1',
      '--heads',
      '2',
      '--intermediate',
      '32',
      '--max-length',
      '32',
      '--steps',
      '3',
      '--batch-size',
      '4',
      '--lr',
      '2e-3',
      '--warmup',
      '1',
      '--seed',
      '7',
      '--eval-every',
      '3',
      '--checkpoint-every',
      '0',
      '--zero-shot-max',
      '0',
      '--vocab-min-count',
      '200',
    ];
    expect(await pretrainCli(flags)).toBe(0);

    const tok = loadTokenizer(out);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      model_type: 'roberta',
      vocab_size: tok.vocabSize,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 32,
      max_position_embeddings: 34,
      tie_word_embeddings: true,
    });
    const m = await loadModel(out);
    // loaded as lmkernel loads any checkpoint: the decoder untied (a copy of the word embeddings, V x H more)
    expect(m.info).toMatchObject({
      arch: 'roberta',
      vocabSize: tok.vocabSize,
      hidden: 16,
      layers: 1,
      heads: 2,
      maxPositions: 34,
      tied: false,
    });
    expect(m.info.numParams).toBe(robertaParams(tok.vocabSize, 16, 1, 32, 34) + tok.vocabSize * 16);
    const tied = await loadModel(out, { tieWordEmbeddings: true });
    expect(tied.info.numParams).toBe(robertaParams(tok.vocabSize, 16, 1, 32, 34));

    const rec = JSON.parse(readFileSync(join(out, 'training.json'), 'utf8'));
    expect(rec.command).toBe(`lmkernel pretrain ${flags.join(' ')}`);
    expect(rec.architecture).toMatchObject({
      hidden: 16,
      layers: 1,
      heads: 2,
      intermediate: 32,
      maxLength: 32,
      vocab_size: tok.vocabSize,
      num_params: tied.info.numParams,
    });
    expect(rec.optimisation).toMatchObject({
      steps: 3,
      batch_size: 4,
      lr: 2e-3,
      warmup: 1,
      seed: 7,
      weight_decay: 0.01,
      max_grad_norm: 1,
      device: 'cpu',
    });
    expect(rec.vocabulary).toMatchObject({ size: tok.vocabSize, min_count: 200 });
    expect(rec.loss_curve).toHaveLength(3);
    expect(rec.heldout.map((e: { step: number }) => e.step)).toEqual([3]);
    expect(rec.zero_shot).toBeNull();
    expect(rec.resumed_from).toBe(0);
    // the checkpoint of a finished run is removed (no --keep-checkpoint)
    expect(existsSync(join(out, 'checkpoint.safetensors'))).toBe(false);
  }, 300_000);

  it('--out is required; an unknown flag is named', async () => {
    await expect(pretrainCli(['--steps', '1'])).rejects.toThrow(/option '--out' is required/);
    await expect(pretrainCli(['--out', tmpdir(), '--bogus'])).rejects.toThrow(/unknown option '--bogus'/);
  });
});
