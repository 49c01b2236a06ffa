#!/usr/bin/env node
// Width study: RoBERTa MLMs that differ only in width (hidden W, intermediate 4W, W/32 heads so the head
// size stays 32), pre-trained by the same `lmkernel pretrain` command as the shipped model (4 layers,
// 2,000 AdamW steps x 32 sequences of 128 tokens, lr 1e-3, 200 warm-up steps, seed 1, the shipped
// tokenizer; `npm run pretrain:demo` is the W = 128 member, so models/demo is reused for it), then
// measured on the demo task and on SST-2, MR and SST-5 from the paper's k-shot splits with `runDemo`:
// zero-shot prompt accuracy, mean |χ| at initialisation (Def. 5.3: χ = ∂ℓ/∂f = softmax(f(θ0)) − onehot(y)
// over the training examples' label-word logits), the SGD eNTK and Adam's kernel (asymmetric SignGD for
// the binary tasks, SignGD for SST-5) with solvers selected on dev, prompt fine-tuning with SGD and Adam
// (learning rate and best step selected on dev per width and seed, dropout 0.1, recorded), the linearized
// model of the selected run (Linearization: share of fine-tuning's gain it recovers) and the relative
// kernel distance of the optimizer's kernel analog (Fixed Features; SGD eNTK after SGD, SignGD eNTK after
// Adam: the paper's Table 7). Per-example |χ| and per-example correctness are recorded too (the report's
// paired χ comparison across widths and its bootstrap over test examples).
// Results go to <out>/width-study.json one (width, task) at a time (a rerun resumes), then a Markdown
// table and an SVG figure.
//
//   node scripts/width-study.mjs [--out work/width] [--widths 64,128,256] [--tasks brown-genre,SST-2,mr,sst-5]
//        [--seeds 13,21,42,87,100] [--max-test 100] [--ft-steps 30] [--data ../shared/data/k-shot-1k-test]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { runDemo } = await import(join(root, 'dist/demo/run.js'));
const { loadModel } = await import(join(root, 'dist/model.js'));
const { loadTokenizer, taskEncoder } = await import(join(root, 'dist/prompts/index.js'));
const { readSplit } = await import(join(root, 'dist/tasks/index.js'));
const { writeFileAtomic } = await import(join(root, 'dist/io.js'));

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const out = resolve(arg('out', join(root, 'work', 'width')));
const widths = arg('widths', '64,128,256').split(',').map(Number);
const tasks = arg('tasks', 'brown-genre,SST-2,mr,sst-5').split(',');
const seeds = arg('seeds', '13,21,42,87,100').split(',').map(Number);
const maxTest = Number(arg('max-test', '100'));
const ftSteps = Number(arg('ft-steps', '30'));
const sharedData = resolve(arg('data', join(root, '..', 'shared', 'data', 'k-shot-1k-test')));
mkdirSync(out, { recursive: true });
const log = (m) => console.error(`[width-study] ${new Date().toISOString().slice(11, 19)} ${m}`);

// The shipped model's recipe (package.json "pretrain:demo") at width W.
const recipe = (W) =>
  [
    '--hidden',
    W,
    '--layers',
    4,
    '--heads',
    Math.max(1, W / 32),
    '--intermediate',
    4 * W,
    '--max-length',
    128,
    '--steps',
    2000,
    '--batch-size',
    32,
    '--lr',
    1e-3,
    '--warmup',
    200,
    '--seed',
    1,
    '--dropout',
    0, // models/demo (W = 128) was pre-trained without dropout: the same recipe for every width
  ].map(String);
const sameRecipe = (dir, W) => {
  const t = JSON.parse(readFileSync(join(dir, 'training.json'), 'utf8'));
  const a = t.architecture,
    o = t.optimisation;
  return (
    a.hidden === W &&
    a.layers === 4 &&
    a.heads === W / 32 &&
    a.intermediate === 4 * W &&
    a.maxLength === 128 &&
    o.steps === 2000 &&
    o.batch_size === 32 &&
    o.lr === 1e-3 &&
    o.warmup === 200 &&
    o.seed === 1 &&
    (a.dropout ?? 0) === 0
  );
};
const modelFor = (W) => {
  const shipped = join(root, 'models', 'demo');
  if (sameRecipe(shipped, W)) return shipped;
  const dir = join(out, `w${W}`);
  if (!existsSync(join(dir, 'training.json'))) {
    const a = [
      'pretrain',
      '--out',
      dir,
      '--tokenizer',
      shipped,
      ...recipe(W),
      '--zero-shot-max',
      '0',
      '--checkpoint-every',
      '200',
    ];
    log(`pre-training width ${W}: lmkernel ${a.join(' ')}`);
    const r = spawnSync(join(root, 'bin', 'lmkernel'), a, { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`pretrain width ${W} failed`);
  }
  if (!sameRecipe(dir, W)) throw new Error(`${dir} was not pre-trained with the study's recipe`);
  return dir;
};

// The shipped tokenizer has no single token for SST-5's "okay": " fine" stands in for it.
const labelWordsFor = (task) => (task === 'sst-5' ? ['terrible', 'bad', 'fine', 'good', 'great'] : undefined);
const binaryTask = (task) => task !== 'sst-5';
const adamKernel = (task) =>
  binaryTask(task) ? ['A-SignGD eNTK (asym)', 'asymmetric_signgd'] : ['SignGD eNTK (logistic)', 'signgd'];

/** Mean |χ| per seed and |χ| per example (mean over outputs) per seed, over the training examples. */
async function meanAbsChi(dir, task, dataDir) {
  const model = await loadModel(dir);
  const enc = taskEncoder(loadTokenizer(dir), task, { labelWords: labelWordsFor(task) });
  const chi = [];
  const perExample = [];
  for (const seed of seeds) {
    const xs = readSplit(join(dataDir, task, `16-${seed}`), task, 'train');
    const inputs = xs.map((x, i) => {
      const e = enc.encode(x.texts, i);
      return { input_ids: e.inputIds, mask_pos: e.maskPos };
    });
    const f = await model.outputs({ inputs, labelWordIds: enc.labelWordIds });
    let s = 0,
      n = 0;
    const per = [];
    f.forEach((row, i) => {
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const z = e.reduce((a, b) => a + b, 0);
      let pi = 0;
      e.forEach((p, c) => {
        const v = Math.abs(p / z - (c === xs[i].labelIndex ? 1 : 0));
        s += v;
        pi += v / row.length;
        n++;
      });
      per.push(pi);
    });
    chi.push(s / n);
    perExample.push(per);
  }
  return { chi, perExample };
}

const file = join(out, 'width-study.json');
const state = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : { seeds, maxTest, ftSteps, results: [] };
const save = () => writeFileAtomic(file, JSON.stringify(state, null, 1) + '\n');
for (const W of widths) {
  const dir = modelFor(W);
  const training = JSON.parse(readFileSync(join(dir, 'training.json'), 'utf8'));
  for (const task of tasks) {
    if (state.results.some((r) => r.width === W && r.task === task)) continue;
    const t0 = performance.now();
    const demoTask = task === 'brown-genre';
    const [adamLabel, adamFormula] = adamKernel(task);
    const demo = await runDemo({
      modelDir: dir,
      out: join(out, `w${W}`, task),
      k: 16,
      seeds,
      maxTest,
      ftSteps,
      formulas: ['sgd', adamFormula],
      ...(demoTask ? {} : { task, dataDir: sharedData }),
      labelWords: labelWordsFor(task),
      log: (m) => log(`w${W} ${task}: ${m}`),
    });
    const dataDir = demoTask ? join(out, `w${W}`, task, 'data', 'k-shot-1k-test') : sharedData;
    const { chi, perExample: chiPerExample } = await meanAbsChi(dir, task, dataDir);
    const row = (name) => demo.rows.find((r) => r.method.trim() === name).acc;
    state.results.push({
      width: W,
      task,
      model: dir,
      params: training.architecture.num_params,
      heldout_mlm_acc: training.heldout.at(-1)?.accuracy,
      final_loss: training.final_train_loss,
      pretrain_seconds: training.seconds,
      chi,
      chi_per_example: chiPerExample,
      rows: demo.rows,
      adam_kernel: adamLabel,
      kernel_distance: demo.kernelDistance,
      kernel_distance_formula: demo.kernelDistanceFormula,
      selected: demo.selected,
      linearization_share: demo.linearizationShare,
      gap_sgd: row('SGD fine-tuning').map((a, i) => a - row('SGD eNTK (logistic)')[i]),
      gap_adam: row('Adam fine-tuning').map((a, i) => a - row(adamLabel)[i]),
      seconds: (performance.now() - t0) / 1000,
    });
    save();
    log(`w${W} ${task}: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
}
log(`results: ${file}; table and figure: node scripts/width-report.mjs ${file}`);
