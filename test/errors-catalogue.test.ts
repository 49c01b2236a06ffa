// The bad-input catalogue (docs/errors.md): every entry feeds one bad input and asserts the error's
// class AND its message (the file, row, tensor or option; expected and received where they apply).
// All entries run in this one process: none may crash it, and the addon stays usable after them.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run as solveCli } from '../lib/cli/solve.js';
import { run as runCli } from '../lib/cli/run.js';
import { InputError, LmkError, NativeError, OptionError, ResourceError } from '../lib/errors.js';
import { appendLineAtomic, withFileLock } from '../lib/io.js';
import { loadModel } from '../lib/model.js';
import { encodePrompt, labelWordId, parseTemplate, taskPrompt } from '../lib/prompts/index.js';
import { runKernelExperiment, type RunOptions } from '../lib/experiments/index.js';
import { solve } from '../lib/solvers/index.js';
import { readTaskFile } from '../lib/tasks/index.js';
import { loadTokenizer } from '../lib/tokenizer.js';
import { fixtureModelDir, fixtures, needsData, tokenizerDirs } from './helpers/fixtures.js';
import {
  expectCudaRefusedOrWorking,
  fixtureWeights,
  modelDir,
  readSafetensors as readSt,
  safetensorsBytes as stBytes,
} from './helpers/model-files.js';
import { sst2Source } from './helpers/runner.js';

const A = fixtures().roberta;
const P = A.inputs.prompt;
const weights = fixtureWeights();
const tmp = (p = 'lmk-cat-') => mkdtempSync(join(tmpdir(), p));
const tok = loadTokenizer(tokenizerDirs.roberta);

type ErrorClass = new (...args: never[]) => Error;
/** Awaits `f` and asserts the class (and `name`) and the message of its error. */
async function expectError(f: () => unknown, cls: ErrorClass, message: RegExp | string): Promise<Error> {
  let err: unknown;
  try {
    await f();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').toBeInstanceOf(cls);
  const e = err as Error;
  expect(e.name).toBe(cls.name);
  if (typeof message === 'string') expect(e.message).toContain(message);
  else expect(e.message).toMatch(message);
  return e;
}

/** A folder no file can be created in (for root, whom permissions do not stop: /sys). */
function unwritableDir(): string {
  if (process.getuid?.() === 0) return '/sys';
  const d = tmp('lmk-cat-ro-');
  chmodSync(d, 0o555);
  return d;
}

function runOpts(dir: string, over: Partial<RunOptions> = {}): RunOptions {
  return {
    ...sst2Source(),
    grid: { kernelRegularization: [0], f0Scaling: [0] },
    dtype: 'float32',
    maxTest: 8,
    out: join(dir, 'results.jsonl'),
    cacheDir: null,
    ...over,
  };
}

describe('catalogue: model files and configs', () => {
  it('C01 truncated safetensors file', async () => {
    await expectError(
      () => loadModel(modelDir({ weights: readFileSync(weights).subarray(0, 5) })),
      NativeError,
      /model\.safetensors: truncated safetensors file \(5 bytes/,
    );
  });
  it('C02 header length past the end of the file', async () => {
    const b = stBytes(readSt());
    b.writeBigUInt64LE(BigInt(b.length * 2), 0);
    await expectError(
      () => loadModel(modelDir({ weights: b })),
      NativeError,
      /model\.safetensors: safetensors header length \d+ runs past the end of the file \(\d+ bytes/,
    );
  });
  it('C03 header that is not JSON', async () => {
    await expectError(
      () => loadModel(modelDir({ weights: stBytes(readSt(), '{"a": [1, 2') })),
      NativeError,
      /safetensors header: invalid JSON at byte 11: /,
    );
  });
  it('C04 data offsets out of bounds', async () => {
    const s = readSt();
    s.header['classifier.bias'].data_offsets = [s.data.length - 4, s.data.length + 4];
    await expectError(
      () => loadModel(modelDir({ weights: stBytes(s) })),
      NativeError,
      `tensor 'classifier.bias': data_offsets [${s.data.length - 4}, ${s.data.length + 4}] out of bounds (data section is ${s.data.length} bytes)`,
    );
  });
  it('C05 overlapping offsets, also between ranges that are not neighbours once sorted', async () => {
    const s = readSt();
    const a = s.header['lm_head.dense.weight'];
    // an empty tensor sorted between the two overlapping ones used to hide the overlap
    s.header['lm_head.dense.bias'].data_offsets = [a.data_offsets[0] + 8, a.data_offsets[0] + 8 + 128];
    (s.header as Record<string, unknown>)['zz.empty'] = {
      dtype: 'F32',
      shape: [0],
      data_offsets: [a.data_offsets[0] + 4, a.data_offsets[0] + 4],
    };
    await expectError(
      () => loadModel(modelDir({ weights: stBytes(s) })),
      NativeError,
      `tensor data ranges overlap at byte ${a.data_offsets[0] + 8}`,
    );
  });
  it('C06 a tensor named twice in the header', async () => {
    const s = readSt();
    const text = JSON.stringify(s.header).replace(/^\{/, `{"classifier.bias":${JSON.stringify(s.header['classifier.bias'])},`);
    await expectError(
      () => loadModel(modelDir({ weights: stBytes(s, text) })),
      NativeError,
      "tensor 'classifier.bias' appears twice in the header",
    );
  });
  it('C07 unknown dtype', async () => {
    const s = readSt();
    s.header['classifier.bias'].dtype = 'F8_E9';
    await expectError(
      () => loadModel(modelDir({ weights: stBytes(s) })),
      NativeError,
      "tensor 'classifier.bias': unknown dtype 'F8_E9'",
    );
  });
  it('C08 byte size that does not match dtype x shape', async () => {
    const s = readSt();
    s.header['classifier.bias'].shape = [3];
    await expectError(
      () => loadModel(modelDir({ weights: stBytes(s) })),
      NativeError,
      "tensor 'classifier.bias': 8 bytes for 3 elements of F32",
    );
  });
  it('C09 tensor shape that does not match the config', async () => {
    await expectError(
      () => loadModel(modelDir({ config: { ...A.config, intermediate_size: 48 } })),
      NativeError,
      "tensor 'roberta.encoder.layer.0.intermediate.dense.weight' has shape [64, 32], the config implies [48, 32]",
    );
  });
  it('C10 missing tensor', async () => {
    const s = readSt();
    delete (s.header as Record<string, unknown>)['lm_head.dense.weight'];
    await expectError(() => loadModel(modelDir({ weights: stBytes(s) })), NativeError, "missing tensor 'lm_head.dense.weight'");
  });
  it('C11 NaN weights', async () => {
    const s = readSt();
    const data = Buffer.from(s.data);
    data.writeFloatLE(NaN, s.header['lm_head.dense.bias'].data_offsets[0] + 4);
    await expectError(
      () => loadModel(modelDir({ weights: stBytes({ ...s, data }) })),
      NativeError,
      "tensor 'lm_head.dense.bias' contains NaN or infinite values",
    );
  });
  it('C12 pickled pytorch_model.bin beside no safetensors: refused with a conversion hint, never unpickled', async () => {
    const d = modelDir({ noWeights: true });
    writeFileSync(join(d, 'pytorch_model.bin'), Buffer.from('PK\x03\x04 not really', 'latin1'));
    await expectError(
      () => loadModel(d),
      InputError,
      /: no model.safetensors in the model folder \(it has pytorch_model.bin: lmkernel never unpickles; convert it once/,
    );
  });
  it('C13 a pickled checkpoint renamed model.safetensors', async () => {
    const zip = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(64, 1)]);
    await expectError(
      () => loadModel(modelDir({ weights: zip })),
      NativeError,
      /model\.safetensors: not a safetensors file: it starts like a pickled PyTorch checkpoint \(zip\); lmkernel never unpickles/,
    );
    const pickle = Buffer.concat([Buffer.from([0x80, 0x02, 0x7d, 0x71]), Buffer.alloc(64, 0x41)]);
    await expectError(() => loadModel(modelDir({ weights: pickle })), NativeError, /pickled PyTorch checkpoint \(pickle\)/);
  });
  it('C14 config.json that is not JSON', async () => {
    await expectError(
      () => loadModel(modelDir({ config: '{"model_type": "roberta",' })),
      NativeError,
      /config\.json: invalid JSON at byte \d+: /,
    );
  });
  it('C15 config field missing or unsupported', async () => {
    const { hidden_size: _h, ...cfg } = A.config;
    await expectError(() => loadModel(modelDir({ config: cfg })), NativeError, "config field 'hidden_size' is missing");
    await expectError(
      () => loadModel(modelDir({ config: { ...A.config, hidden_act: 'swish' } })),
      NativeError,
      "config field 'hidden_act' is 'swish'; supported: gelu",
    );
    await expectError(
      () => loadModel(modelDir({ config: { ...A.config, model_type: 'falcon' } })),
      NativeError,
      "config field 'model_type' is 'falcon'; supported: roberta, bert, gpt2, llama, mistral, qwen2",
    );
  });
  it('C16 model folder not found', async () => {
    await expectError(() => loadModel('/nonexistent/model'), InputError, '/nonexistent/model: model folder not found');
  });
  it('C17 bad dtype option', async () => {
    await expectError(
      () => loadModel(fixtureModelDir('roberta'), { dtype: 'float16' as never }),
      OptionError,
      'option \'dtype\': expected one of float32, float64, received "float16"',
    );
  });
  it('C18 --device cuda: refused without CUDA (NativeError naming the device); with CUDA it works', async () => {
    await expectCudaRefusedOrWorking();
  });
});

describe('catalogue: kernel inputs and memory', () => {
  const base = () => ({ train: P.train, test: P.test, labelWordIds: A.label_word_ids });
  it('C19 mask position out of range', async () => {
    const m = await loadModel(fixtureModelDir('roberta'));
    await expectError(
      () => m.kernels({ ...base(), train: [{ ...P.train[0], mask_pos: 500 }] }),
      OptionError,
      `option 'train[0].mask_pos': expected an index in [0, ${P.train[0].input_ids.length}) (prompt mode needs the mask position), received 500`,
    );
  });
  it('C20 token id outside the vocabulary', async () => {
    const m = await loadModel(fixtureModelDir('roberta'));
    await expectError(
      () => m.kernels({ ...base(), test: [{ input_ids: [0, 60000, 50264, 2], mask_pos: 2 }] }),
      NativeError,
      'test[0]: input_ids[1] = 60000 is outside the vocabulary [0, 50265)',
    );
  });
  it('C21 sequence longer than the model positions', async () => {
    const m = await loadModel(fixtureModelDir('roberta'));
    await expectError(
      () => m.kernels({ ...base(), test: [{ input_ids: Array(200).fill(5), mask_pos: 3 }] }),
      NativeError,
      /200 tokens, the model's positions allow at most 128/,
    );
  });
  it('C22 empty train set, zero batch size, unknown formula', async () => {
    const m = await loadModel(fixtureModelDir('roberta'));
    await expectError(
      () => m.kernels({ ...base(), train: [] }),
      OptionError,
      "option 'train': expected a non-empty array of examples, received an array of length 0",
    );
    await expectError(
      () => m.kernels({ ...base(), batchSize: 0 }),
      OptionError,
      "option 'batchSize': expected a positive integer, received 0",
    );
    await expectError(
      () => m.kernels({ ...base(), formulas: ['ntk' as never] }),
      OptionError,
      "option 'formulas': expected a non-empty array of sgd, signgd, asymmetric_signgd",
    );
  });
  it('C23 label word id outside the vocabulary', async () => {
    const m = await loadModel(fixtureModelDir('roberta'));
    await expectError(
      () => m.kernels({ ...base(), labelWordIds: [5, 99999] }),
      NativeError,
      'label_word_ids[1] = 99999 is outside the vocabulary [0, 50265)',
    );
  });
  it('C44 a token id beyond 2^53 (would overflow the native int64 conversion)', async () => {
    const m = await loadModel(fixtureModelDir('roberta'));
    await expectError(
      () => m.kernels({ ...base(), test: [{ input_ids: [0, 1e20, 50264, 2], mask_pos: 2 }] }),
      OptionError,
      "option 'test[0].input_ids': expected a non-empty array of integer token ids, received an array of length 4",
    );
  });
  it('C24 the train store would not fit in memory (LMKERNEL_MEMORY_LIMIT_BYTES): refused before allocating; the addon stays usable', async () => {
    const m = await loadModel(fixtureModelDir('roberta'));
    process.env.LMKERNEL_MEMORY_LIMIT_BYTES = '100000';
    try {
      const e = await expectError(
        () => m.kernels({ ...base(), formulas: ['sgd', 'signgd'] }),
        ResourceError,
        /^not enough memory: the eNTK needs about [\d.]+ MiB on cpu \(for 8 training examples x 2 outputs: layer inputs and output gradients of the linear layers [\d.]+ MiB, gradient store of the other blocks 16 rows x \d+ entries x 4 bytes = [\d.]+ KiB, sign store [\d.]+ KiB/,
      );
      expect(e.message).toContain('only 97.7 KiB is available (LMKERNEL_MEMORY_LIMIT_BYTES)');
      expect(e.message).toMatch(/fewer training examples.*--subset.*--train-tile/);
      expect((e as LmkError).code).toBe('LMK_NO_MEMORY');
    } finally {
      delete process.env.LMKERNEL_MEMORY_LIMIT_BYTES;
    }
    const r = await m.kernels({ ...base() });
    expect(r.nTrain).toBe(P.train.length);
  });
  it('C24b a limit that holds a few training examples: the training set is tiled automatically, same kernels', async () => {
    const m = await loadModel(fixtureModelDir('roberta'), { dtype: 'float64' });
    const whole = await m.kernels({ ...base(), formulas: ['sgd', 'signgd'] });
    // about 18 MiB would hold everything at once (the kernels, one group, the workspaces and transients
    // take about 10.6 MiB whatever the tile, each training example's stores 0.7 MiB)
    process.env.LMKERNEL_MEMORY_LIMIT_BYTES = '14000000';
    try {
      const tiled = await m.kernels({ ...base(), formulas: ['sgd', 'signgd'] });
      expect(tiled.tiling.numTiles).toBeGreaterThan(1);
      for (const f of ['sgd', 'signgd'] as const) {
        const a = tiled.kernels[f]!.trainTest.data;
        const b = whole.kernels[f]!.trainTest.data;
        for (let i = 0; i < b.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(1e-9 * Math.abs(b[i]) + 1e-12);
      }
    } finally {
      delete process.env.LMKERNEL_MEMORY_LIMIT_BYTES;
    }
  });
});

describe('catalogue: data files', () => {
  const dir = tmp('lmk-cat-data-');
  const file = (name: string, content: string | Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  it('C25 TSV row with missing columns', () => {
    const p = file('sst2.tsv', 'sentence\tlabel\nonly text, no label column\n');
    return expectError(
      () => readTaskFile(p, 'SST-2'),
      InputError,
      `${p}:2: expected at least 2 tab-separated columns for task SST-2, found 1`,
    );
  });
  it('C26 unknown label', () => {
    const p = file('sst2b.tsv', 'sentence\tlabel\ngood\t1\nbad\tnegative\n');
    return expectError(
      () => readTaskFile(p, 'SST-2'),
      InputError,
      `${p}:3: unknown label "negative" for task SST-2 (expected one of "0", "1")`,
    );
  });
  it('C27 CSV row longer than the first one, and an unclosed quote', async () => {
    const w = file('wide.csv', '0,a\n1,b,c\n');
    await expectError(() => readTaskFile(w, 'mr'), InputError, `${w}:2: expected 2 fields (as in the first row), saw 3`);
    const q = file('quote.csv', '0,ok\n1,"never closed\n');
    await expectError(() => readTaskFile(q, 'mr'), InputError, /quote\.csv:\d+: malformed csv: Quote Not Closed/);
  });
  it('C28 CSV row with a missing label', () => {
    const p = file('nolabel.csv', '0,a\n,b\n');
    return expectError(() => readTaskFile(p, 'subj'), InputError, `${p}:2: missing label in column 0`);
  });
  it('C29 data file not found / not UTF-8', async () => {
    const p = join(dir, 'absent', 'train.tsv');
    await expectError(() => readTaskFile(p, 'RTE'), InputError, `${p}: RTE data file not found`);
    const l = file('latin1.csv', Buffer.from([0x30, 0x2c, 0xf0, 0x0a]));
    await expectError(() => readTaskFile(l, 'trec'), InputError, `${l}: trec data file is not valid UTF-8`);
  });
});

describe('catalogue: templates and label words', () => {
  it('C30 label word of two tokens', () =>
    expectError(() => labelWordId(tok, 'superb-ish'), InputError, `label word "superb-ish": must be a single token`));
  it('C31 mask truncated away', () => {
    const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    return expectError(
      () => encodePrompt(tok, [long], '*cls**sent_0*_It_was*mask*.*sep+*', { maxLength: 32, example: 7 }),
      InputError,
      /^example 7: the mask was truncated away: the prompt encoding has \d+ tokens with the mask at position \d+, and tail truncation to max_length 32 removed it/,
    );
  });
  it('C32 malformed template', async () => {
    const e = await expectError(() => parseTemplate('*cls**sent_x**mask*'), InputError, /sent_x/);
    expect(e.message).toMatch(/^template /);
  });
  it('C33 template that uses a sentence the example lacks', () =>
    expectError(
      () => encodePrompt(tok, ['only one'], '*cls**sent_0**mask**+sent_2*', { maxLength: 128, example: 0 }),
      InputError,
      /^example 0: template "\*cls\*\*sent_0\*\*mask\*\*\+sent_2\*" uses sentence 2, but the example has 1 text/,
    ));
  it('C34 unknown task / label words that do not cover the labels', async () => {
    await expectError(() => taskPrompt('sst2'), OptionError, /^option 'task': expected one of .*SST-2.*received "sst2"/);
    await expectError(() => taskPrompt('SST-2', { labelWords: { '0': 'bad' } }), InputError, /no word for label "1"/);
  });
});

describe('catalogue: solvers and kernel files', () => {
  const fx = fixtures().roberta;
  const multi = fx.cases[0];
  const trainLabels: number[] = fx.inputs.prompt.train_labels;
  const testLabels: number[] = fx.inputs.prompt.test_labels;
  const input = () => ({
    kernelTrainTrain: multi.kernels.sgd.train_train,
    kernelTrainTest: multi.kernels.sgd.train_test,
    trainLabels,
    testLabels,
    numClasses: 2,
    binary: false,
    solver: 'lstsq' as const,
  });
  it('C35 negative regularisation', () =>
    expectError(
      () => solve({ ...input(), params: { kernelRegularization: -0.1 } }),
      OptionError,
      "option 'kernelRegularization': expected a number >= 0, received -0.1",
    ));
  it('C36 kernel / label shape mismatch', () =>
    expectError(
      () => solve({ ...input(), trainLabels: trainLabels.slice(0, 6) }),
      InputError,
      /shape \[8, 2, 8, 2\].*6 examples.*expected \[6, 2, 6, 2\]/,
    ));
  it('C37 lmkernel solve on a kernel file from another task or split names the file', async () => {
    const dir = tmp();
    const k = {
      num_logits: 2,
      kernels: { sgd: { train_train: multi.kernels.sgd.train_train, train_test: multi.kernels.sgd.train_test } },
    };
    const other = join(dir, 'other-split.json');
    writeFileSync(other, JSON.stringify({ ...k, train_labels: [0, 1, 0, 1, 0, 1], test_labels: testLabels }));
    await expectError(
      () => solveCli(['--input', other, '--out', join(dir, 'o.json'), '--solver', 'lstsq']),
      InputError,
      new RegExp(
        `^${other}: the kernel file does not fit its labels \\(another task or split\\?\\): .*shape \\[8, 2, 8, 2\\].*6 examples`,
      ),
    );
    const sst5 = join(dir, 'sst5-labels.json');
    writeFileSync(sst5, JSON.stringify({ ...k, train_labels: [0, 1, 4, 3, 0, 1, 2, 1], test_labels: testLabels }));
    await expectError(
      () => solveCli(['--input', sst5, '--out', join(dir, 'o.json'), '--solver', 'lstsq']),
      InputError,
      new RegExp(`^${sst5}: the kernel file does not fit its labels .*trainLabels\\[2\\]`),
    );
  });
});

describe('catalogue: CLI arguments, output folders, results files', () => {
  it('C38 unknown CLI flag and a non-numeric number flag', async () => {
    await expectError(
      () => runCli(['--task', 'SST-2', '--kk', '16']),
      LmkError,
      /^run: unknown option '--kk' \(known: --task, --k, /,
    );
    await expectError(
      () => runCli(['--task', 'SST-2', '--k', 'sixteen']),
      LmkError,
      "run: option '--k' expects a number, received 'sixteen'",
    );
  });
  needsData.it('C39 output folder that is not writable: named before any computation', async () => {
    const ro = unwritableDir();
    const out = join(ro, 'results.jsonl');
    const t0 = Date.now();
    await expectError(
      () => runKernelExperiment(runOpts(tmp(), { out })),
      InputError,
      `${ro}: cannot write results.jsonl here: the folder is not writable (EACCES)`,
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    const dir = tmp();
    const kf = join(dir, 'k.json');
    writeFileSync(kf, JSON.stringify({ num_logits: 2, kernels: { sgd: {} }, train_labels: [] }));
    await expectError(
      () => solveCli(['--input', kf, '--out', join(ro, 'sub', 'o.json'), '--solver', 'lstsq']),
      InputError,
      /cannot (create the output folder for|write o\.json here)/,
    );
  });
  needsData.it('C40 results file with a malformed line', async () => {
    const dir = tmp();
    const out = join(dir, 'results.jsonl');
    writeFileSync(out, '{"config_id": "x"}\n{"config_id": "y", trunc\n');
    await expectError(() => runKernelExperiment(runOpts(dir)), InputError, new RegExp(`^${out}:2: not a JSON line \\(`));
  });
  it('C41 results file locked by another live process', async () => {
    const dir = tmp();
    const out = join(dir, 'results.jsonl');
    writeFileSync(`${out}.lock`, `${process.ppid}\n`);
    await expectError(
      () => withFileLock(out, () => 1, 150),
      InputError,
      `${out}.lock: still locked by process ${process.ppid} after 150 ms`,
    );
    // a lock left by a process that is gone is taken over
    writeFileSync(`${out}.lock`, '999999999\n');
    appendLineAtomic(out, '{"a":1}');
    expect(readFileSync(out, 'utf8')).toBe('{"a":1}\n');
  });
  needsData.it('C42 missing k-shot split folder and unknown task in the runner', async () => {
    const dir = tmp();
    await expectError(
      () => runKernelExperiment(runOpts(dir, { seeds: [999] })),
      InputError,
      /k-shot-1k-test\/SST-2\/16-999: k-shot split folder not found/,
    );
    await expectError(
      () => runKernelExperiment(runOpts(dir, { task: 'SST-3' })),
      OptionError,
      /^option 'task': expected one of SST-2, .*received "SST-3"/,
    );
  });
  it('C43 data folder that does not exist', async () => {
    await expectError(
      () => runKernelExperiment(runOpts(tmp(), { dataDir: '/nonexistent/data' })),
      InputError,
      '/nonexistent/data: data folder not found (expected a folder holding <TASK>/<k>-<seed>/)',
    );
  });
});

describe('catalogue: the process survived every entry', () => {
  it('the addon still computes kernels', async () => {
    const m = await loadModel(fixtureModelDir('roberta'));
    const r = await m.kernels({ train: P.train, test: P.test, labelWordIds: A.label_word_ids });
    expect(r.gradDim).toBe(A.cases[0].grad_dim);
    mkdirSync(tmp(), { recursive: true });
  });
});
