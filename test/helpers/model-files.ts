// Model folders with one thing wrong, for the model-error tests (errors-catalogue, model-errors): the
// fixture's safetensors file as header + data to edit, the bytes of an edited file, a folder with an
// edited config or weights; and the `--device cuda` case, which depends on whether libtorch sees CUDA.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { NativeError } from '../../lib/errors.js';
import { loadModel } from '../../lib/model.js';
import { hasCuda } from '../../lib/addon/load.js';
import { fixtureModelDir, fixtures, fixturesDir, flat, maxRelErr } from './fixtures.js';

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}
/** A safetensors file split into its JSON header (to edit) and its data section. */
export interface Safetensors {
  header: Record<string, SafetensorsEntry>;
  data: Buffer;
}

/** The RoBERTa fixture's weights file. */
export const fixtureWeights = (): string => join(fixturesDir, fixtures().roberta.weights_file);

export function readSafetensors(path = fixtureWeights()): Safetensors {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  return { header: JSON.parse(buf.subarray(8, 8 + n).toString('utf8')), data: buf.subarray(8 + n) };
}

/** The file bytes: 8-byte little-endian header length, the header (`headerText` or `st.header` as JSON), the data. */
export function safetensorsBytes(st: Safetensors, headerText?: string): Buffer {
  const h = Buffer.from(headerText ?? JSON.stringify(st.header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, st.data]);
}

/**
 * A new model folder: config.json (`config`: an object, or raw text; default the RoBERTa fixture's) and
 * model.safetensors (`weights`, default a copy of the fixture's; none with `noWeights`).
 */
export function modelDir(opts: { weights?: Buffer; config?: object | string; noWeights?: boolean } = {}): string {
  const d = mkdtempSync(join(tmpdir(), 'lmk-bad-model-'));
  const config = opts.config ?? fixtures().roberta.config;
  writeFileSync(join(d, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  if (opts.noWeights) return d;
  if (opts.weights) writeFileSync(join(d, 'model.safetensors'), opts.weights);
  else copyFileSync(fixtureWeights(), join(d, 'model.safetensors'));
  return d;
}

/**
 * `device: 'cuda'`: without CUDA, refused with a NativeError that names the device; with CUDA, the model
 * loads there and the RoBERTa prompt case's grad_dim, f0 and SGD kernel match the fixture in float64.
 */
export async function expectCudaRefusedOrWorking(): Promise<void> {
  if (!hasCuda()) {
    const err = await loadModel(fixtureModelDir('roberta'), { device: 'cuda' }).then(
      () => new Error('loadModel with device cuda resolved without CUDA'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NativeError);
    expect((err as Error).message).toMatch(/device 'cuda' was requested/);
    return;
  }
  const A = fixtures().roberta;
  const cs = A.cases[0];
  const m = await loadModel(fixtureModelDir('roberta'), { device: 'cuda', dtype: 'float64' });
  expect(m.info.device).toMatch(/^cuda/);
  const r = await m.kernels({
    train: A.inputs.prompt.train,
    test: A.inputs.prompt.test,
    labelWordIds: A.label_word_ids,
    formulas: ['sgd'],
  });
  expect(r.gradDim).toBe(cs.grad_dim);
  expect(maxRelErr(r.f0Test.flat(), flat(cs.f0_test))).toBeLessThan(1e-9);
  expect(maxRelErr(r.kernels.sgd!.trainTest.data, flat(cs.kernels.sgd.train_test))).toBeLessThan(1e-9);
}
