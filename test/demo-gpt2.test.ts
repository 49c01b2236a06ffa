// A reduced `lmkernel demo` on the shipped causal model (models/demo-gpt2, a GPT-2 pre-trained by
// `lmkernel pretrain --arch gpt2`): every row runs, and the zero-shot row is recomputed here from prompts
// built by hand: <s> sentence " The", read at its last token, label words " report" / " girl".
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../lib/demo/run.js';
import { loadModel } from '../lib/model.js';
import { readSplit } from '../lib/tasks/index.js';
import { loadTokenizer } from '../lib/tokenizer.js';
import { repoRoot } from './helpers/fixtures.js';

const modelDir = join(repoRoot, 'models', 'demo-gpt2');

describe('demo on models/demo-gpt2 (reduced)', () => {
  it('runs every step; the zero-shot row is the causal prompt accuracy', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lmk-demo-gpt2-'));
    const s = await runDemo({
      out,
      modelDir,
      k: 4,
      seeds: [13],
      maxTest: 12,
      ftSteps: 3,
      sgdLrs: [1e-2],
      adamLrs: [1e-3],
      log: () => {},
    });
    expect(s.rows).toHaveLength(8);
    for (const r of s.rows) expect(r.acc).toHaveLength(1);
    const model = await loadModel(modelDir);
    expect(model.info.arch).toBe('gpt2');
    const tok = loadTokenizer(modelDir);
    expect(tok.addBos).toBe(true); // tokenizer_config.json: prompts start with <s>, as pre-training did
    const test = readSplit(join(out, 'data', 'k-shot-1k-test', 'brown-genre', '4-13'), 'brown-genre', 'test').slice(0, 12);
    const inputs = test.map((x) => {
      const ids = [tok.clsId, ...tok.encode(x.texts[0] as string), ...tok.encode(' The')];
      return { input_ids: ids, mask_pos: ids.length - 1 };
    });
    const labelWordIds = [tok.encode(' report'), tok.encode(' girl')].map((ids) => {
      expect(ids).toHaveLength(1);
      return ids[0];
    });
    const logits = await model.outputs({ inputs, labelWordIds });
    const zeroShot = logits.filter((row, i) => row.indexOf(Math.max(...row)) === test[i].labelIndex).length / test.length;
    expect(s.rows[0].acc).toEqual([zeroShot]);
  }, 300_000);
});
