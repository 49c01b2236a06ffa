#!/usr/bin/env node
// Width study: RoBERTa MLMs of identical depth, data, steps and optimiser that differ only in width
// (hidden = W, intermediate = 4W, heads = W/32 so the head size stays 32), pre-trained by the same
// `lmkernel pretrain` command with the shipped demo tokenizer, then measured on the demo task with
// `runDemo` (zero-shot, SGD/SignGD/A-SignGD eNTK with dev-selected solvers, SGD/Adam FT, linearization,
// kernel distance) plus mean |χ| at init, χ = ∂ℓ/∂f = softmax(f(θ0)) − onehot(y) over the training
// examples' label-word logits. Writes <out>/width-study.json and prints a Markdown table.
//
//   node scripts/width-study.mjs [--out work/width-study] [--widths 32,64,128,256] [--steps 600] [--seeds 13,21,42]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { runDemo } = await import(join(root, 'dist/demo.js'));
const { loadModel } = await import(join(root, 'dist/model.js'));
const { loadTokenizer, taskEncoder } = await import(join(root, 'dist/prompts/index.js'));
const { readSplit } = await import(join(root, 'dist/tasks/index.js'));

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const out = arg('out', join(root, 'work', 'width-study'));
const widths = arg('widths', '32,64,128,256').split(',').map(Number);
const steps = Number(arg('steps', '600'));
const seeds = arg('seeds', '13,21,42').split(',').map(Number);
const layers = Number(arg('layers', '2'));
const maxTest = Number(arg('max-test', '100'));
mkdirSync(out, { recursive: true });
const log = (m) => console.error(`[width-study] ${m}`);

const results = [];
for (const W of widths) {
  const dir = join(out, `w${W}`);
  if (!existsSync(join(dir, 'training.json'))) {
    const a = ['pretrain', '--out', dir, '--tokenizer', join(root, 'models', 'demo'), '--hidden', W, '--intermediate', 4 * W, '--heads', Math.max(1, W / 32),
      '--layers', layers, '--max-length', 128, '--steps', steps, '--batch-size', 32, '--lr', 1e-3, '--warmup', Math.round(steps / 10),
      '--eval-every', steps, '--checkpoint-every', 200, '--zero-shot-max', 0, '--seed', 1].map(String);
    log(`pre-training width ${W}: lmkernel ${a.join(' ')}`);
    const r = spawnSync(join(root, 'bin', 'lmkernel'), a, { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`pretrain width ${W} failed`);
  }
  const training = JSON.parse((await import('node:fs')).readFileSync(join(dir, 'training.json'), 'utf8'));
  const demo = await runDemo({ modelDir: dir, out: join(dir, 'demo'), k: 16, seeds, maxTest, ftSteps: 50, log: (m) => log(`w${W}: ${m}`) });
  // mean |χ| at init on the training examples of each seed
  const model = await loadModel(dir);
  const tok = loadTokenizer(dir);
  const enc = taskEncoder(tok, 'brown-genre');
  const chi = [];
  for (const seed of seeds) {
    const xs = readSplit(join(dir, 'demo', 'data', 'k-shot-1k-test', 'brown-genre', `16-${seed}`), 'brown-genre', 'train');
    const inputs = xs.map((x, i) => { const e = enc.encode(x.texts, i); return { input_ids: e.inputIds, mask_pos: e.maskPos }; });
    const f = await model.outputs({ inputs, labelWordIds: enc.labelWordIds });
    let s = 0, n = 0;
    f.forEach((row, i) => {
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const z = e.reduce((a, b) => a + b, 0);
      e.forEach((p, c) => { s += Math.abs(p / z - (c === xs[i].labelIndex ? 1 : 0)); n++; });
    });
    chi.push(s / n);
  }
  const row = (name) => demo.rows.find((r) => r.method.trim() === name);
  results.push({
    width: W, params: training.architecture.num_params, pretrain_seconds: training.seconds, final_loss: training.final_train_loss,
    heldout_mlm_acc: training.heldout.at(-1)?.accuracy, chi, rows: demo.rows, kernel_distance: demo.kernelDistance, linearization_share: demo.linearizationShare,
    gap_sgd: row('SGD fine-tuning').acc.map((a, i) => a - row('SGD eNTK (logistic)').acc[i]),
    gap_adam: row('Adam fine-tuning').acc.map((a, i) => a - row('A-SignGD eNTK (asym)').acc[i]),
  });
  writeFileSync(join(out, 'width-study.json'), JSON.stringify({ steps, layers, seeds, maxTest, results }, null, 1) + '\n');
}
const ms = (xs) => {
  const ok = xs.filter(Number.isFinite);
  if (!ok.length) return 'n/a';
  const m = ok.reduce((a, b) => a + b, 0) / ok.length;
  const sd = Math.sqrt(ok.reduce((a, b) => a + (b - m) ** 2, 0) / ok.length);
  return `${m.toFixed(3)} ± ${sd.toFixed(3)}`;
};
const acc = (r, name) => ms(r.rows.find((x) => x.method.trim() === name).acc);
console.log('| width | params | held-out MLM acc | mean abs χ at init | zero-shot | SGD eNTK | SGD FT | FT − eNTK (SGD) | A-SignGD eNTK | Adam FT | FT − eNTK (Adam vs A-SignGD) | lin. share (SGD) | kernel dist. (SGD) | kernel dist. (Adam) |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of results)
  console.log(`| ${r.width} | ${r.params} | ${(r.heldout_mlm_acc * 100).toFixed(1)}% | ${ms(r.chi)} | ${acc(r, 'zero-shot prompt')} | ${acc(r, 'SGD eNTK (logistic)')} | ${acc(r, 'SGD fine-tuning')} | ${ms(r.gap_sgd)} | ${acc(r, 'A-SignGD eNTK (asym)')} | ${acc(r, 'Adam fine-tuning')} | ${ms(r.gap_adam)} | ${ms(r.linearization_share.sgd ?? [])} | ${ms(r.kernel_distance.sgd ?? [])} | ${ms(r.kernel_distance.adam ?? [])} |`);
