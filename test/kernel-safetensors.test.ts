// `lmkernel kernel --out K.safetensors`, and `solve` / `merge` on safetensors kernel files: every tensor is
// read back with a minimal safetensors parser written here (independent of lib/kernels/safetensors.ts)
// and compared with the fixture values and with the .json output of the same command.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { run as kernelCli } from '../lib/cli/kernel.js';
import { run as mergeCli } from '../lib/cli/merge.js';
import { run as solveCli } from '../lib/cli/solve.js';
import { InputError } from '../lib/errors.js';
import { decodeSafetensors, encodeSafetensors } from '../lib/kernels/safetensors.js';
import { fixtureModelDir, fixtures, flat, maxRelErr } from './helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'lmk-kst-'));
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

interface Parsed {
  headerLength: number;
  metadata: Record<string, string>;
  tensors: Record<string, { shape: number[]; data: Float64Array }>;
}

/** The safetensors layout, parsed by hand: u64 LE header length, JSON header, F64 little-endian data. */
function parse(path: string): Parsed {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + n));
  const { __metadata__: metadata, ...rest } = header;
  const tensors: Parsed['tensors'] = {};
  let end = 0;
  for (const [name, e] of Object.entries(rest) as [string, { dtype: string; shape: number[]; data_offsets: number[] }][]) {
    expect(e.dtype, name).toBe('F64');
    const [b, f] = e.data_offsets;
    const bytes = Uint8Array.prototype.slice.call(buf, 8 + n + b, 8 + n + f);
    tensors[name] = { shape: e.shape, data: new Float64Array(bytes.buffer) };
    expect(tensors[name].data.length, name).toBe(e.shape.reduce((x, y) => x * y, 1));
    end = Math.max(end, f);
  }
  expect(8 + n + end).toBe(buf.length);
  return { headerLength: n, metadata, tensors };
}

const A = fixtures().roberta;
const cs = A.cases.find(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  (c: any) => c.model_mode === 'prompt' && c.subset === 'all' && !c.binary && !c.tied_word_embeddings && !c.lora,
);
const inPath = join(tmp, 'in.json');
const base = () => [
  '--model',
  fixtureModelDir('roberta'),
  '--input',
  inPath,
  '--formula',
  'sgd,signgd,asymmetric_signgd',
  '--flipped',
  '--dtype',
  'float64',
];
const K = { st: join(tmp, 'K.safetensors'), json: join(tmp, 'K.json') };

beforeAll(async () => {
  const p = A.inputs.prompt;
  writeFileSync(inPath, JSON.stringify({ ...p, label_word_ids: A.label_word_ids }));
  expect(await kernelCli([...base(), '--out', K.st])).toBe(0);
  expect(await kernelCli([...base(), '--out', K.json])).toBe(0);
});

describe('kernel --out K.safetensors', () => {
  it('holds every kernel and f0 in float64: the fixture values, and the .json output', () => {
    const st = parse(K.st);
    const js = readJson(K.json);
    const names = Object.keys(st.tensors).sort();
    expect(names).toEqual(
      [
        'sgd.train_train',
        'sgd.train_test',
        'signgd.train_train',
        'signgd.train_test',
        'asymmetric_signgd.train_train',
        'asymmetric_signgd.train_test',
        'asymmetric_signgd.train_test_flipped',
        'f0_train',
        'f0_test',
      ].sort(),
    );
    const [N, M, C] = [A.inputs.prompt.train.length, A.inputs.prompt.test.length, cs.num_logits];
    for (const f of Object.keys(cs.kernels))
      for (const k of Object.keys(cs.kernels[f])) {
        const t = st.tensors[`${f}.${k}`];
        expect(t.shape, `${f}.${k}`).toEqual([N, C, k === 'train_train' ? N : M, C]);
        const err = maxRelErr(t.data, flat(cs.kernels[f][k]));
        if (f === 'signgd') expect(err, `${f}.${k}`).toBe(0);
        else expect(err, `${f}.${k}`).toBeLessThan(1e-9);
        expect(Array.from(t.data), `${f}.${k} = .json`).toEqual(flat(js.kernels[f][k]));
      }
    expect(st.tensors.f0_train.shape).toEqual([N, C]);
    expect(st.tensors.f0_test.shape).toEqual([M, C]);
    expect(maxRelErr(st.tensors.f0_train.data, flat(cs.f0_train))).toBeLessThan(1e-9);
    expect(maxRelErr(st.tensors.f0_test.data, flat(cs.f0_test))).toBeLessThan(1e-9);
    expect(Array.from(st.tensors.f0_test.data)).toEqual(flat(js.f0_test));
  });

  it('has the metadata as strings, and an 8-byte aligned header', () => {
    const { metadata: m, headerLength } = parse(K.st);
    expect((8 + headerLength) % 8).toBe(0);
    for (const v of Object.values(m)) expect(typeof v).toBe('string');
    expect(Number(m.grad_dim)).toBe(cs.grad_dim);
    expect(Number(m.num_outputs)).toBe(cs.num_logits);
    expect(JSON.parse(m.formulas)).toEqual(['sgd', 'signgd', 'asymmetric_signgd']);
    expect(JSON.parse(m.shapes)['sgd.train_test']).toEqual([8, 2, 8, 2]);
    expect(JSON.parse(m.tiling)).toMatchObject({ num_tiles: 1, tiles: [0], shard: { index: 0, count: 1 } });
    expect(JSON.parse(m.label_word_ids)).toEqual(A.label_word_ids);
    expect(JSON.parse(m.param_names)).toEqual(readJson(K.json).param_names);
    expect(m).toMatchObject({ format: 'lmkernel.kernels', output: 'prompt', dtype: 'float64', subset: 'all', binary: 'false' });
    expect(m.model_id).toMatch(/^[0-9a-f]{64}$/);
    expect(m.lmkernel_version).toBe(readJson(join(__dirname, '..', 'package.json')).version);
    expect(readJson(K.json).metadata.model_id).toBe(m.model_id);
  });
});

describe('solve and merge read safetensors', () => {
  it('solve gives the same predictions on the .safetensors as on the .json', async () => {
    for (const args of [
      ['--solver', 'lstsq', '--f0-scaling', '10'],
      ['--solver', 'logistic', '--formula', 'signgd'],
    ]) {
      const outs = [K.st, K.json].map((k, i) => join(tmp, `solve-${i}.json`));
      expect(await solveCli(['--input', K.st, '--labels', inPath, '--out', outs[0], ...args])).toBe(0);
      expect(await solveCli(['--input', K.json, '--labels', inPath, '--out', outs[1], ...args])).toBe(0);
      const [a, b] = outs.map(readJson);
      expect(a.predictions).toEqual(b.predictions);
      expect(a.predicted_labels).toEqual(b.predicted_labels);
      expect(a.metrics).toEqual(b.metrics);
    }
    await expect(solveCli(['--input', K.st, '--out', join(tmp, 's.json'), '--solver', 'lstsq'])).rejects.toThrow(
      /K\.safetensors: a safetensors kernel file has no labels: pass --labels/,
    );
  });

  it('merge of safetensors shards equals the unsharded kernel (written as .safetensors or .json)', async () => {
    const parts = [0, 1].map((i) => join(tmp, `shard-${i}.safetensors`));
    for (let i = 0; i < 2; i++)
      expect(await kernelCli([...base(), '--train-tile', '3', '--shard', `${i}/2`, '--out', parts[i]])).toBe(0);
    expect(JSON.parse(parse(parts[0]).metadata.tiling).tiles).toEqual([0, 2]);
    const merged = { st: join(tmp, 'merged.safetensors'), json: join(tmp, 'merged.json') };
    expect(await mergeCli(['--out', merged.st, ...parts])).toBe(0);
    expect(await mergeCli(['--out', merged.json, parts[0], parts[1]])).toBe(0);
    const single = parse(K.st);
    const got = parse(merged.st);
    expect(Object.keys(got.tensors).sort()).toEqual(Object.keys(single.tensors).sort());
    for (const [name, t] of Object.entries(single.tensors)) {
      expect(got.tensors[name].shape, name).toEqual(t.shape);
      expect(maxRelErr(got.tensors[name].data, t.data), name).toBeLessThan(1e-12);
    }
    expect(JSON.parse(got.metadata.tiling)).toMatchObject({ tiles: [0, 1, 2], shard: { index: 0, count: 1 } });
    const js = readJson(merged.json);
    for (const f of ['sgd', 'asymmetric_signgd'])
      expect(maxRelErr(flat(js.kernels[f].train_train), single.tensors[`${f}.train_train`].data)).toBeLessThan(1e-12);
  });

  it('a truncated or corrupt file is an error naming the file', async () => {
    const bytes = readFileSync(K.st);
    const cases: [string, Buffer, RegExp][] = [
      ['truncated.safetensors', bytes.subarray(0, bytes.length - 100), /truncated: the tensors need \d+ bytes, the file has \d+/],
      ['header-cut.safetensors', bytes.subarray(0, 200), /truncated: the header needs \d+ bytes/],
      ['tiny.safetensors', bytes.subarray(0, 5), /truncated: 5 bytes/],
      ['garbage.safetensors', Buffer.from('this is not a kernel file at all'), /not a safetensors file/],
    ];
    const broken = Buffer.from(bytes);
    broken.write('#', 9, 'latin1'); // the header's first key loses its quote
    cases.push(['bad-header.safetensors', broken, /not a safetensors file \(the header is not JSON/]);
    for (const [name, content, why] of cases) {
      const p = join(tmp, name);
      writeFileSync(p, content);
      const err = await solveCli(['--input', p, '--labels', inPath, '--out', join(tmp, 'x.json'), '--solver', 'lstsq']).catch(
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(InputError);
      expect((err as Error).message.startsWith(`${p}: `), name).toBe(true);
      expect((err as Error).message, name).toMatch(why);
      await expect(mergeCli(['--out', join(tmp, 'm.safetensors'), p]), name).rejects.toThrow(p);
    }
  });
});

describe('lib/kernels/safetensors.ts', () => {
  it('round-trips F64 and F32 tensors, empty tensors and the metadata', () => {
    const buf = encodeSafetensors(
      {
        a: { dtype: 'F64', shape: [2, 3], data: Float64Array.from([1, -2, 3.5, 1e-300, Math.PI, -0]) },
        b: { dtype: 'F32', shape: [3], data: Float64Array.from([0.1, 2, -3]) },
        empty: { dtype: 'F64', shape: [4, 0], data: new Float64Array(0) },
      },
      { note: 'x' },
    );
    expect((8 + Number(buf.readBigUInt64LE(0))) % 8).toBe(0);
    const got = decodeSafetensors(buf, 'mem');
    expect(got.metadata).toEqual({ note: 'x' });
    expect(Array.from(got.tensors.a.data)).toEqual([1, -2, 3.5, 1e-300, Math.PI, -0]);
    expect(got.tensors.b.data).toEqual(Float32Array.from([0.1, 2, -3]));
    expect(got.tensors.empty.shape).toEqual([4, 0]);
  });

  it('refuses overlapping tensors, unsupported dtypes and a safetensors file that is no kernel file', async () => {
    const head = (h: object, data: number) => {
      const j = Buffer.from(JSON.stringify(h));
      const b = Buffer.alloc(8 + j.length + data);
      b.writeBigUInt64LE(BigInt(j.length));
      j.copy(b, 8);
      return b;
    };
    expect(() =>
      decodeSafetensors(
        head(
          { a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] }, b: { dtype: 'F64', shape: [1], data_offsets: [4, 12] } },
          12,
        ),
        'f',
      ),
    ).toThrow(/tensor "b" starts at byte 4 of the data, expected 8/);
    expect(() => decodeSafetensors(head({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8), 'f')).toThrow(
      /"a": dtype "I64" is not supported/,
    );
    const p = join(tmp, 'weights.safetensors');
    writeFileSync(p, encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: Float64Array.from([1]) } }));
    await expect(solveCli(['--input', p, '--labels', inPath, '--out', join(tmp, 'y.json'), '--solver', 'lstsq'])).rejects.toThrow(
      /weights\.safetensors: a safetensors file, but not a kernel file of `lmkernel kernel`/,
    );
  });
});
