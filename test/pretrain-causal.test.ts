// Pre-training decoders (GPT-2, Llama) with the next-token loss on a learnable toy corpus; the folder
// written (GPT-2's Conv1D weights saved [in, out]) loads back and gives the in-memory model's outputs.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../lib/kernels/safetensors.js';
import { loadModel } from '../lib/model.js';
import { decoderConfig, pretrain, saveModelFolder } from '../lib/pretrain.js';
import { restrictedTokenizerJson } from '../lib/demo/vocab.js';

// sequences <s> 4 5 4 5 ... </s> (or 5 4 ...): after the first token, the next is determined by the current one
const seqs = (n: number) =>
  Array.from({ length: n }, (_, s) => [0, ...Array.from({ length: 12 }, (_, t) => 4 + ((s + t) % 2)), 2]);

describe('pretrain --arch gpt2 | llama (next-token loss)', () => {
  for (const family of ['gpt2', 'llama'] as const) {
    it(`${family}: learns the toy corpus and round-trips through a model folder`, async () => {
      const arch = {
        family,
        hidden: 32,
        layers: 2,
        heads: 4,
        kvHeads: family === 'llama' ? 2 : undefined,
        intermediate: 64,
        maxLength: 16,
      };
      const r = await pretrain({
        ...arch,
        vocabSize: 25,
        train: seqs(180),
        heldout: seqs(20),
        steps: 120,
        batchSize: 16,
        warmupSteps: 10,
        lr: 3e-3,
      });
      expect(r.loss).toHaveLength(120);
      expect(r.loss.slice(-5).reduce((a, b) => a + b) / 5).toBeLessThan(r.loss[0] - 1);
      expect(r.evals[r.evals.length - 1].accuracy).toBeGreaterThan(0.5);
      const dir = mkdtempSync(join(tmpdir(), `lmk-pt-${family}-`));
      saveModelFolder(dir, r.model, decoderConfig(arch, 25), restrictedTokenizerJson(['a b'], {}).json);
      expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).model_type).toBe(family);
      const st = readSafetensors(join(dir, 'model.safetensors'));
      if (family === 'gpt2')
        expect(st.tensors['h.0.mlp.c_fc.weight'].shape).toEqual([32, 64]); // Conv1D [in, out]
      else expect(st.tensors['model.layers.0.self_attn.k_proj.weight'].shape).toEqual([16, 32]); // 2 kv heads x 8
      const m = await loadModel(dir);
      expect(m.info.arch).toBe(family);
      const x = { input_ids: [0, 4, 5, 4, 5, 4], mask_pos: 5 };
      const [a] = await m.outputs({ inputs: [x], labelWordIds: [4, 5] });
      const [b] = await r.model.outputs({ inputs: [x], labelWordIds: [4, 5] });
      expect(a[0]).toBeCloseTo(b[0], 4);
      expect(a[1]).toBeCloseTo(b[1], 4);
      expect(a[1]).toBeGreaterThan(a[0]); // after 4 comes 5
    }, 120_000);
  }
});

describe('lmkernel pretrain --arch', () => {
  it('names a bad --arch before any work', async () => {
    const { run } = await import('../lib/cli/pretrain.js');
    await expect(run(['--out', join(tmpdir(), 'lmk-never'), '--arch', 'falcon'])).rejects.toThrow(
      /option '--arch': expected one of roberta, gpt2, llama, received "falcon"/,
    );
  });
});
