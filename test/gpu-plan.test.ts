// The GPU's plan, the fast mode and several devices through the API, on the CPU, against fixtures-a.json:
// plan 'gpu' (device-sized chunks, batched calls, int8 sign products emulated with the native calls'
// padding and chunking) and 3 CPU pseudo-devices over the 8 or 6 training examples (N % 3 != 0).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run as kernelCli } from '../lib/cli/kernel.js';
import type { Formula } from '../lib/types.js';
import { fixtures, fixtureModelDir, maxRelErr, flat } from './helpers/fixtures.js';
import { caseModel, fixtureCaseKernels, KERNEL_KEYS } from './helpers/fixture-cases.js';

const FORMULAS: Formula[] = ['sgd', 'signgd', 'asymmetric_signgd'];
const RUNS = [
  { name: 'plan gpu, fast', extra: { plan: 'gpu', precision: 'fast' } },
  { name: 'plan cpu, fast, 3 pseudo-devices', extra: { plan: 'cpu', precision: 'fast', devices: ['cpu', 'cpu', 'cpu'] } },
  { name: 'plan gpu, 3 pseudo-devices', extra: { plan: 'gpu', devices: ['cpu', 'cpu', 'cpu'] } },
] as const;

for (const arch of ['roberta', 'bert'] as const) {
  const A = fixtures()[arch];
  describe(`${arch}: GPU plan, fast mode and devices on the CPU match the fixtures`, () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    A.cases.forEach((cs: any, idx: number) => {
      for (const run of RUNS) {
        it(`#${idx} ${cs.model_mode}/${cs.subset}${cs.binary ? '/binary' : ''} ${run.name}`, async () => {
          const model = await caseModel(arch, cs, 'float64');
          const inputs = A.inputs[cs.model_mode];
          const res = await fixtureCaseKernels(A, model, cs, FORMULAS, {
            ...run.extra,
            devices: 'devices' in run.extra ? [...run.extra.devices] : undefined,
          });
          // one tile per device: 8 examples in tiles of 3 (3 + 3 + 2), 6 in tiles of 2
          const n = inputs.train.length;
          const tile = Math.ceil(n / 3);
          if ('devices' in run.extra)
            expect(res.tiling).toMatchObject({ tileSize: tile, numTiles: Math.ceil(n / tile), tiles: [0, 1, 2] });
          expect(maxRelErr(flat(res.f0Train), flat(cs.f0_train))).toBeLessThanOrEqual(1e-13);
          expect(maxRelErr(flat(res.f0Test), flat(cs.f0_test))).toBeLessThanOrEqual(1e-13);
          for (const f of Object.keys(cs.kernels) as Formula[])
            for (const [k, want] of Object.entries(cs.kernels[f])) {
              const err = maxRelErr(res.kernels[f]![KERNEL_KEYS[k]]!.data, flat(want));
              // products of signs are exact in every mode: the sign kernel equals the fixture
              expect(err, `${f}/${k}`).toBeLessThanOrEqual(f === 'signgd' ? 0 : 1e-13);
            }
        });
      }
    });
  });
}

describe('asymmetric_signgd without its flip on the GPU plan and 3 pseudo-devices', () => {
  const A = fixtures().roberta;
  A.cases.forEach((cs: { model_mode: string; subset: string; binary: boolean }, idx: number) => {
    it(`#${idx} ${cs.model_mode}/${cs.subset}${cs.binary ? '/binary' : ''}: the fixture's kernels, no flipped one`, async () => {
      const model = await caseModel('roberta', cs, 'float64');
      const res = await fixtureCaseKernels(A, model, cs, ['asymmetric_signgd'], {
        asymmetricFlipped: false,
        plan: 'gpu',
        devices: ['cpu', 'cpu', 'cpu'],
      });
      const k = res.kernels.asymmetric_signgd!;
      expect(k.trainTestFlipped).toBeUndefined();
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const want = (cs as any).kernels.asymmetric_signgd;
      expect(maxRelErr(k.trainTrain.data, flat(want.train_train))).toBeLessThanOrEqual(1e-13);
      expect(maxRelErr(k.trainTest.data, flat(want.train_test))).toBeLessThanOrEqual(1e-13);
    });
  });
});

describe('precision, plan and devices are checked', () => {
  const A = fixtures().roberta;
  const P = A.inputs.prompt;
  const base = { train: P.train, test: P.test, labelWordIds: A.label_word_ids };
  it('names the option and the bad value', async () => {
    const model = await caseModel('roberta', A.cases[0]);
    // @ts-expect-error a precision that does not exist
    await expect(model.kernels({ ...base, precision: 'turbo' })).rejects.toThrow(/precision/);
    // @ts-expect-error a plan that does not exist
    await expect(model.kernels({ ...base, plan: 'tpu' })).rejects.toThrow(/plan/);
    await expect(model.kernels({ ...base, devices: ['cpu', ''] })).rejects.toThrow(/devices/);
    await expect(model.kernels({ ...base, devices: ['cpu', 'gpu7'] })).rejects.toThrow(/devices\[1\].*gpu7/);
  });
});

describe('lmkernel kernel --device LIST --precision --plan', () => {
  const A = fixtures().roberta;
  const cs = A.cases[0];
  const tmp = mkdtempSync(join(tmpdir(), 'lmk-gpuplan-'));
  const input = join(tmp, 'in.json');
  writeFileSync(
    input,
    JSON.stringify({ train: A.inputs.prompt.train, test: A.inputs.prompt.test, label_word_ids: A.label_word_ids }),
  );
  const base = ['--model', fixtureModelDir('roberta'), '--input', input, '--dtype', 'float64'];
  it('3 CPU pseudo-devices, fast, the GPU plan: the fixture kernels', async () => {
    expect(cs.model_mode).toBe('prompt');
    const out = join(tmp, 'out.json');
    const args = [...base, '--out', out, '--formula', 'sgd,signgd,asymmetric_signgd', '--flipped', '--subset', cs.subset];
    expect(await kernelCli([...args, '--device', 'cpu,cpu,cpu', '--precision', 'fast', '--plan', 'gpu'])).toBe(0);
    const o = JSON.parse(readFileSync(out, 'utf8'));
    for (const f of Object.keys(cs.kernels))
      for (const k of Object.keys(cs.kernels[f]))
        expect(maxRelErr(flat(o.kernels[f][k]), flat(cs.kernels[f][k])), `${f}/${k}`).toBeLessThanOrEqual(
          f === 'signgd' ? 0 : 1e-13,
        );
  });
  it('names a bad flag value', async () => {
    const out = join(tmp, 'bad.json');
    await expect(kernelCli([...base, '--out', out, '--precision', 'turbo'])).rejects.toThrow(
      /--precision: 'turbo' is not one of exact, fast/,
    );
    await expect(kernelCli([...base, '--out', out, '--plan', 'tpu'])).rejects.toThrow(/--plan: 'tpu'/);
    await expect(kernelCli([...base, '--out', out, '--device', 'cpu,'])).rejects.toThrow(/--device/);
  });
});
