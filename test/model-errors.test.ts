// Bad inputs to model loading and kernels: each gives a clear error naming what is wrong, and the
// process survives (every case runs in this same Node process, after which the addon still works).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../lib/model.js';
import { fixtures, fixtureModelDir } from './helpers/fixtures.js';
import {
  expectCudaRefusedOrWorking,
  fixtureWeights,
  modelDir,
  readSafetensors as readSt,
  safetensorsBytes as stBytes,
} from './helpers/model-files.js';

const A = fixtures().roberta;
const P = A.inputs.prompt;
const weights = fixtureWeights();
const entry = (st: ReturnType<typeof readSt>, name: string) => st.header[name];

describe('model loading: bad files and configs', () => {
  const st = readSt(weights);

  it('truncated safetensors file', async () => {
    await expect(loadModel(modelDir({ weights: readFileSync(weights).subarray(0, 5) }))).rejects.toThrow(
      /truncated safetensors file \(5 bytes/,
    );
  });
  it('header length past the end of the file', async () => {
    const b = stBytes(st);
    b.writeBigUInt64LE(BigInt(b.length * 2), 0);
    await expect(loadModel(modelDir({ weights: b }))).rejects.toThrow(/header length \d+ runs past the end of the file/);
  });
  it('header that is not JSON', async () => {
    await expect(loadModel(modelDir({ weights: stBytes(st, '{"a": [1, 2') }))).rejects.toThrow(/invalid JSON at byte/);
  });
  it('data offsets out of bounds', async () => {
    const s = readSt(weights);
    const e = entry(s, 'classifier.bias');
    e.data_offsets = [s.data.length - 4, s.data.length + 4];
    await expect(loadModel(modelDir({ weights: stBytes(s) }))).rejects.toThrow(
      /tensor 'classifier.bias': data_offsets \[\d+, \d+\] out of bounds/,
    );
  });
  it('overlapping data ranges', async () => {
    const s = readSt(weights);
    const a = entry(s, 'lm_head.dense.weight');
    const b = entry(s, 'lm_head.dense.bias');
    b.data_offsets = [a.data_offsets[0] + 4, a.data_offsets[0] + 4 + 128];
    await expect(loadModel(modelDir({ weights: stBytes(s) }))).rejects.toThrow(/tensor data ranges overlap at byte \d+/);
  });
  it('unknown dtype', async () => {
    const s = readSt(weights);
    entry(s, 'classifier.bias').dtype = 'F8_E9';
    await expect(loadModel(modelDir({ weights: stBytes(s) }))).rejects.toThrow(/tensor 'classifier.bias': unknown dtype 'F8_E9'/);
  });
  it('byte size that does not match dtype x shape', async () => {
    const s = readSt(weights);
    entry(s, 'classifier.bias').shape = [3];
    await expect(loadModel(modelDir({ weights: stBytes(s) }))).rejects.toThrow(
      /tensor 'classifier.bias': 8 bytes for 3 elements of F32/,
    );
  });
  it('shape mismatch with the config', async () => {
    await expect(loadModel(modelDir({ config: { ...A.config, intermediate_size: 48 } }))).rejects.toThrow(
      /tensor 'roberta.encoder.layer.0.intermediate.dense.weight' has shape \[64, 32\], the config implies \[48, 32\]/,
    );
  });
  it('missing tensor', async () => {
    const s = readSt(weights);
    delete s.header['lm_head.dense.weight'];
    await expect(loadModel(modelDir({ weights: stBytes(s) }))).rejects.toThrow(/missing tensor 'lm_head.dense.weight'/);
  });
  it('NaN weights', async () => {
    const s = readSt(weights);
    const e = entry(s, 'lm_head.dense.bias');
    const data = Buffer.from(s.data);
    data.writeFloatLE(NaN, e.data_offsets[0] + 4);
    await expect(loadModel(modelDir({ weights: stBytes({ ...s, data }) }))).rejects.toThrow(
      /tensor 'lm_head.dense.bias' contains NaN or infinite values/,
    );
  });
  it('unsupported activation in the config', async () => {
    await expect(loadModel(modelDir({ config: { ...A.config, hidden_act: 'swish' } }))).rejects.toThrow(
      /config field 'hidden_act' is 'swish'; supported: gelu/,
    );
  });
  it('unsupported model type and relative positions', async () => {
    await expect(loadModel(modelDir({ config: { ...A.config, model_type: 'falcon' } }))).rejects.toThrow(
      /config field 'model_type' is 'falcon'/,
    );
    await expect(loadModel(modelDir({ config: { ...A.config, position_embedding_type: 'relative_key' } }))).rejects.toThrow(
      /config field 'position_embedding_type' is 'relative_key'/,
    );
  });
  it('missing config field', async () => {
    const { hidden_size: _h, ...cfg } = A.config;
    await expect(loadModel(modelDir({ config: cfg }))).rejects.toThrow(/config field 'hidden_size' is missing/);
  });
  it('a pickled pytorch_model.bin is refused with a conversion hint, never unpickled', async () => {
    const d = modelDir({ noWeights: true });
    writeFileSync(join(d, 'pytorch_model.bin'), Buffer.from('PK\x03\x04 not really'));
    await expect(loadModel(d)).rejects.toThrow(/has pytorch_model.bin: lmkernel never unpickles; convert it once/);
  });
  it('missing folder and bad dtype option', async () => {
    await expect(loadModel('/nonexistent/model')).rejects.toThrow(/model folder not found/);
    await expect(loadModel(fixtureModelDir('roberta'), { dtype: 'float16' as never })).rejects.toThrow(
      /option 'dtype': expected one of float32, float64, received "float16"/,
    );
  });
  it('--device cuda: refused without CUDA, matches the fixture with it', async () => {
    await expectCudaRefusedOrWorking();
  });
});

describe('kernels: bad inputs and cancellation', () => {
  const base = () => ({ train: P.train, test: P.test, labelWordIds: A.label_word_ids });

  it('mask position out of range', async () => {
    const m = await loadModel(fixtureModelDir('roberta'));
    const train = [{ ...P.train[0], mask_pos: 500 }, ...P.train.slice(1)];
    await expect(m.kernels({ ...base(), train })).rejects.toThrow(
      /option 'train\[0\].mask_pos': expected an index in \[0, 39\) \(prompt mode needs the mask position\), received 500/,
    );
  });
  it('token id >= vocabulary size', async () => {
    const m = await loadModel(fixtureModelDir('roberta'));
    const test = [{ ...P.test[0], input_ids: [0, 60000, 50264, 2], mask_pos: 2 }];
    await expect(m.kernels({ ...base(), test })).rejects.toThrow(
      /test\[0\]: input_ids\[1\] = 60000 is outside the vocabulary \[0, 50265\)/,
    );
  });
  it('sequence longer than the positions allow', async () => {
    const m = await loadModel(fixtureModelDir('roberta'));
    const ids = Array.from({ length: 200 }, () => 5);
    await expect(m.kernels({ ...base(), test: [{ input_ids: ids, mask_pos: 3 }] })).rejects.toThrow(
      /200 tokens, the model's positions allow at most 128/,
    );
  });
  it('empty train set', async () => {
    const m = await loadModel(fixtureModelDir('roberta'));
    await expect(m.kernels({ ...base(), train: [] })).rejects.toThrow(/option 'train': expected a non-empty array of examples/);
  });
  it('label word id outside the vocabulary, unknown formula, bad batch size', async () => {
    const m = await loadModel(fixtureModelDir('roberta'));
    await expect(m.kernels({ ...base(), labelWordIds: [5, 99999] })).rejects.toThrow(
      /label_word_ids\[1\] = 99999 is outside the vocabulary/,
    );
    await expect(m.kernels({ ...base(), formulas: ['ntk' as never] })).rejects.toThrow(/option 'formulas'/);
    await expect(m.kernels({ ...base(), batchSize: 0 })).rejects.toThrow(
      /option 'batchSize': expected a positive integer, received 0/,
    );
  });
  it('binary output with three label words', async () => {
    const m = await loadModel(fixtureModelDir('roberta'));
    await expect(m.kernels({ ...base(), labelWordIds: [5, 6, 7], binary: true })).rejects.toThrow(
      /2 label words for a binary output/,
    );
  });
  it('an aborted call rejects with AbortError and leaves the model usable', async () => {
    const m = await loadModel(fixtureModelDir('roberta'), { dtype: 'float64' });
    const ac = new AbortController();
    let calls = 0;
    const p = m.kernels({
      ...base(),
      batchSize: 1,
      formulas: ['sgd', 'signgd'],
      onProgress: () => {
        if (++calls === 1) ac.abort();
      },
      signal: ac.signal,
    });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    const again = await m.kernels({ ...base(), formulas: ['sgd'] });
    expect(again.gradDim).toBe(A.cases[0].grad_dim);
    const pre = new AbortController();
    pre.abort();
    await expect(m.kernels({ ...base(), signal: pre.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });
  it('two calls in flight at once give the same results as one at a time', async () => {
    const m = await loadModel(fixtureModelDir('roberta'), { dtype: 'float64' });
    const [a, b] = await Promise.all([m.kernels({ ...base() }), m.kernels({ ...base(), batchSize: 2 })]);
    const c = await m.kernels({ ...base() });
    expect(Array.from(a.kernels.sgd!.trainTest.data)).toEqual(Array.from(c.kernels.sgd!.trainTest.data));
    for (let i = 0; i < a.kernels.sgd!.trainTest.data.length; i++)
      expect(b.kernels.sgd!.trainTest.data[i]).toBeCloseTo(a.kernels.sgd!.trainTest.data[i], 8);
  });
});
