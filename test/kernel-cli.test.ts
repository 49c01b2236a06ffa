// The `lmkernel kernel` and `lmkernel merge` commands (the CLI contract), against the fixtures.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run as kernelCli } from '../lib/cli/kernel.js';
import { run as mergeCli } from '../lib/cli/merge.js';
import { fixtures, fixtureModelDir, maxRelErr, flat } from './helpers/fixtures.js';
import { GHOST_CASES, ghostIsCheaper, kernelRows } from './helpers/ghost.js';

const tmp = mkdtempSync(join(tmpdir(), 'lmk-kcli-'));
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));
// float64 against the fixtures: measured at most 1.6e-15 on these tiny models (float32 accumulation: 1e-8 and more)
const F64_TOL = 1e-13;

function inputFile(arch: 'roberta' | 'bert', mode: 'prompt' | 'standard'): string {
  const A = fixtures()[arch];
  const p = join(tmp, `${arch}-${mode}-in.json`);
  writeFileSync(p, JSON.stringify({ train: A.inputs[mode].train, test: A.inputs[mode].test, label_word_ids: A.label_word_ids }));
  return p;
}

describe('lmkernel kernel', () => {
  for (const arch of ['roberta', 'bert'] as const) {
    const A = fixtures()[arch];
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    A.cases.forEach((cs: any, idx: number) => {
      if (cs.lora) return; // covered below with --lora
      it(`${arch} case ${idx} (${cs.model_mode}/${cs.subset}${cs.binary ? '/binary' : ''}${cs.tied_word_embeddings ? '/tied' : ''}) matches in float64`, async () => {
        const out = join(tmp, `${arch}-${idx}.json`);
        const args = [
          '--model',
          fixtureModelDir(arch),
          '--input',
          inputFile(arch, cs.model_mode),
          '--out',
          out,
          '--formula',
          'sgd,signgd,asymmetric_signgd',
          '--flipped',
          '--mode',
          cs.model_mode,
          '--subset',
          cs.subset,
          '--dtype',
          'float64',
        ];
        if (cs.binary) args.push('--binary');
        if (cs.tied_word_embeddings) args.push('--tie-word-embeddings');
        expect(await kernelCli(args)).toBe(0);
        const o = readJson(out);
        expect(o.grad_dim).toBe(cs.grad_dim);
        expect(o.num_outputs).toBe(cs.num_logits);
        expect(maxRelErr(flat(o.f0_test), flat(cs.f0_test))).toBeLessThan(F64_TOL);
        for (const f of Object.keys(cs.kernels))
          for (const k of Object.keys(cs.kernels[f]))
            if (f === 'signgd') expect(maxRelErr(flat(o.kernels[f][k]), flat(cs.kernels[f][k])), `${f}/${k}`).toBe(0);
            else expect(maxRelErr(flat(o.kernels[f][k]), flat(cs.kernels[f][k])), `${f}/${k}`).toBeLessThan(F64_TOL);
      });
    });
  }

  it('the LoRA case with --subset lora --lora LORA.json', async () => {
    const A = fixtures().roberta;
    const cs = A.cases.find((c: { subset: string }) => c.subset === 'lora');
    const loraPath = join(tmp, 'lora.json');
    writeFileSync(loraPath, JSON.stringify(cs.lora));
    const out = join(tmp, 'lora-out.json');
    expect(
      await kernelCli([
        '--model',
        fixtureModelDir('roberta'),
        '--input',
        inputFile('roberta', 'prompt'),
        '--out',
        out,
        '--formula',
        'sgd,signgd,asymmetric_signgd',
        '--flipped',
        '--subset',
        'lora',
        '--lora',
        loraPath,
        '--dtype',
        'float64',
      ]),
    ).toBe(0);
    const o = readJson(out);
    expect(o.grad_dim).toBe(cs.grad_dim);
    expect(o.num_outputs).toBe(cs.num_logits);
    expect(maxRelErr(flat(o.f0_train), flat(cs.f0_train))).toBeLessThan(F64_TOL);
    expect(maxRelErr(flat(o.f0_test), flat(cs.f0_test))).toBeLessThan(F64_TOL);
    // all 7 arrays of the fixture (sgd and signgd: train_train, train_test; asymmetric_signgd: also
    // train_test_flipped); the sign kernel exactly
    const compared: string[] = [];
    for (const f of Object.keys(cs.kernels))
      for (const k of Object.keys(cs.kernels[f])) {
        const err = maxRelErr(flat(o.kernels[f][k]), flat(cs.kernels[f][k]));
        if (f === 'signgd') expect(err, `${f}/${k}`).toBe(0);
        else expect(err, `${f}/${k}`).toBeLessThan(F64_TOL);
        compared.push(`${f}/${k}`);
      }
    expect(compared).toHaveLength(7);
  });

  for (const { arch, caseIndex, trainRows } of GHOST_CASES) {
    const A = fixtures()[arch];
    const cs = A.cases[caseIndex];
    it(`${arch} case ${caseIndex} (${cs.model_mode}/${cs.subset}${cs.tied_word_embeddings ? '/tied' : ''}), --formula sgd on short examples: the ghost contraction`, async () => {
      const inputs = A.inputs[cs.model_mode];
      const train = trainRows.map((i) => inputs.train[i]);
      expect(ghostIsCheaper(arch, cs.num_logits, train, inputs.test)).toBe(true); // the engine's own choice
      const input = join(tmp, `${arch}-${caseIndex}-ghost-in.json`);
      writeFileSync(input, JSON.stringify({ train, test: inputs.test, label_word_ids: A.label_word_ids }));
      const out = join(tmp, `${arch}-${caseIndex}-ghost.json`);
      const args = ['--model', fixtureModelDir(arch), '--input', input, '--out', out, '--formula', 'sgd'];
      args.push('--mode', cs.model_mode, '--subset', cs.subset, '--dtype', 'float64');
      if (cs.tied_word_embeddings) args.push('--tie-word-embeddings');
      expect(await kernelCli(args)).toBe(0);
      const o = readJson(out);
      expect(o.grad_dim).toBe(cs.grad_dim);
      expect(Object.keys(o.kernels)).toEqual(['sgd']);
      const tt = maxRelErr(flat(o.kernels.sgd.train_train), kernelRows(cs.kernels.sgd.train_train, trainRows, true));
      const te = maxRelErr(flat(o.kernels.sgd.train_test), kernelRows(cs.kernels.sgd.train_test, trainRows, false));
      expect(tt, 'sgd/train_train').toBeLessThan(F64_TOL);
      expect(te, 'sgd/train_test').toBeLessThan(F64_TOL);
    });
  }

  it('--shard i/n over train tiles + merge reproduce a single run', async () => {
    const base = [
      '--model',
      fixtureModelDir('roberta'),
      '--input',
      inputFile('roberta', 'prompt'),
      '--formula',
      'sgd,signgd,asymmetric_signgd',
      '--dtype',
      'float64',
    ];
    const single = join(tmp, 'single.json');
    expect(await kernelCli([...base, '--out', single])).toBe(0);
    const parts = [0, 1].map((i) => join(tmp, `shard-${i}.json`));
    for (let i = 0; i < 2; i++)
      expect(await kernelCli([...base, '--train-tile', '3', '--shard', `${i}/2`, '--out', parts[i]])).toBe(0);
    expect(readJson(parts[0]).tiling.tiles).toEqual([0, 2]);
    const merged = join(tmp, 'merged.json');
    expect(await mergeCli(['--out', merged, ...parts])).toBe(0);
    const a = readJson(single);
    const b = readJson(merged);
    // without --flipped: the asymmetric kernel's two parts, the fixture's, and no flipped one
    const cs = fixtures().roberta.cases.find(
      (c: { model_mode: string; subset: string; binary: boolean; tied_word_embeddings?: boolean; lora?: unknown }) =>
        c.model_mode === 'prompt' && c.subset === 'all' && !c.binary && !c.tied_word_embeddings && !c.lora,
    );
    for (const o of [a, b]) {
      expect(Object.keys(o.kernels.asymmetric_signgd).sort()).toEqual(['train_test', 'train_train']);
      for (const k of ['train_train', 'train_test'])
        expect(maxRelErr(flat(o.kernels.asymmetric_signgd[k]), flat(cs.kernels.asymmetric_signgd[k])), k).toBeLessThan(F64_TOL);
    }
    for (const f of Object.keys(a.kernels))
      for (const k of Object.keys(a.kernels[f]))
        expect(maxRelErr(flat(b.kernels[f][k]), flat(a.kernels[f][k])), `${f}/${k}`).toBeLessThan(1e-12);
    expect(maxRelErr(flat(b.f0_train), flat(a.f0_train))).toBeLessThan(1e-13);

    await expect(mergeCli(['--out', merged, parts[0]])).rejects.toThrow(/tiles 1 of 3 are in no shard file/);
    await expect(mergeCli(['--out', merged, parts[0], parts[0]])).rejects.toThrow(/tile 0 is also in/);
    const other = join(tmp, 'other.json');
    expect(await kernelCli([...base, '--train-tile', '4', '--shard', '1/2', '--out', other])).toBe(0);
    await expect(mergeCli(['--out', merged, parts[0], other])).rejects.toThrow(
      /tiling.tile_size is 4 but .* has 3: shards of different runs/,
    );
    // a shard with the flip does not merge with one without it
    const flippedPart = join(tmp, 'shard-1-flipped.json');
    expect(await kernelCli([...base, '--flipped', '--train-tile', '3', '--shard', '1/2', '--out', flippedPart])).toBe(0);
    await expect(mergeCli(['--out', merged, parts[0], flippedPart])).rejects.toThrow(
      /kernels is .*train_test_flipped.*shards of different runs/,
    );
    const noTiling = join(tmp, 'no-tiling.json');
    const { tiling: _t, ...rest } = a;
    writeFileSync(noTiling, JSON.stringify(rest));
    await expect(mergeCli(['--out', merged, noTiling])).rejects.toThrow(
      /has no "tiling" section: not written by `lmkernel kernel`/,
    );
  });

  it('bad arguments name the flag', async () => {
    const base = ['--model', fixtureModelDir('roberta'), '--input', inputFile('roberta', 'prompt'), '--out', join(tmp, 'x.json')];
    await expect(kernelCli([...base, '--formula', 'ntk'])).rejects.toThrow(
      /--formula: 'ntk' is not one of sgd, signgd, asymmetric_signgd/,
    );
    await expect(kernelCli([...base, '--shard', '2/2'])).rejects.toThrow(/--shard: '2\/2' is not of the form i\/n/);
    await expect(kernelCli([...base, '--formula', 'sgd', '--flipped'])).rejects.toThrow(/--flipped.*asymmetric_signgd/);
    await expect(kernelCli([...base, '--mode', 'cls'])).rejects.toThrow(/--mode: 'cls'/);
    await expect(kernelCli([...base, '--bogus'])).rejects.toThrow(/unknown option '--bogus'/);
    await expect(kernelCli(base.slice(2))).rejects.toThrow(/option '--model' is required/);
    const noLabels = join(tmp, 'nolabels.json');
    writeFileSync(noLabels, JSON.stringify({ train: fixtures().roberta.inputs.prompt.train }));
    await expect(
      kernelCli(['--model', fixtureModelDir('roberta'), '--input', noLabels, '--out', join(tmp, 'y.json')]),
    ).rejects.toThrow(/prompt mode needs "label_word_ids"/);
  });
});
