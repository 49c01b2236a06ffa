#!/usr/bin/env node
// The width study's report: a Markdown table per task (printed) and a figure (SVG + PNG) from
// scripts/width-study.mjs's width-study.json.
//   node scripts/width-report.mjs [work/width/width-study.json] [--figure docs/width-study]
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { widthStudySpec, renderSvg, svgToPng } = await import(join(root, 'dist/figures/index.js'));
const { mean, populationStd: sd } = await import(join(root, 'dist/stats.js'));
const args = process.argv.slice(2);
const fi = args.indexOf('--figure');
const figure = fi >= 0 ? resolve(args[fi + 1]) : null;
const file = resolve(
  args.find((a, i) => !a.startsWith('--') && (fi < 0 || i !== fi + 1)) ?? join(root, 'work', 'width', 'width-study.json'),
);
const { results } = JSON.parse(readFileSync(file, 'utf8'));

const finite = (xs) => (xs ?? []).filter(Number.isFinite);
const ms = (xs, scale = 1, digits = 3) => {
  const ok = finite(xs);
  return ok.length
    ? `${(mean(ok) * scale).toFixed(digits)} ± ${(sd(ok) * scale).toFixed(digits)}${ok.length < xs.length ? ` (n=${ok.length})` : ''}`
    : 'n/a';
};
const acc = (r, name) => r.rows.find((x) => x.method.trim() === name)?.acc ?? [];
const pct = (xs) => ms(xs, 100, 1);
const tasks = [...new Set(results.map((r) => r.task))];
const widths = [...new Set(results.map((r) => r.width))].sort((a, b) => a - b);

const lines = [];
for (const task of tasks) {
  const rs = results.filter((r) => r.task === task).sort((a, b) => a.width - b.width);
  const adam = rs[0].adam_kernel.replace(' eNTK', '').replace(/ \(.*\)/, '');
  lines.push(`### ${task} (k = 16, ${rs[0].chi.length} seeds; accuracies in %, mean ± std over seeds)`, '');
  lines.push(
    `| W | params | held-out MLM acc | mean abs χ at θ0 | zero-shot | SGD eNTK | SGD FT | FT − eNTK (SGD) | ${adam} eNTK | Adam FT | FT − eNTK (Adam vs ${adam}) | lin. share SGD | lin. share Adam | kernel dist. SGD | kernel dist. Adam |`,
  );
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rs)
    lines.push(
      `| ${r.width} | ${(r.params / 1e6).toFixed(2)} M | ${(r.heldout_mlm_acc * 100).toFixed(1)} | ${ms(r.chi)} | ${pct(acc(r, 'zero-shot prompt'))} | ${pct(acc(r, 'SGD eNTK (logistic)'))} | ${pct(acc(r, 'SGD fine-tuning'))} | ${pct(r.gap_sgd)} | ${pct(acc(r, r.adam_kernel))} | ${pct(acc(r, 'Adam fine-tuning'))} | ${pct(r.gap_adam)} | ${ms(r.linearization_share.sgd)} | ${ms(r.linearization_share.adam)} | ${ms(r.kernel_distance.sgd)} | ${ms(r.kernel_distance.adam)} |`,
    );
  lines.push('');
}
console.log(lines.join('\n'));

if (figure) {
  const data = [];
  const add = (r, metric, xs, scale = 1) => {
    const ok = finite(xs).map((x) => x * scale);
    if (!ok.length) return;
    const m = mean(ok),
      s = sd(ok);
    data.push({ width: r.width, task: r.task, metric, mean: m, lo: m - s, hi: m + s });
  };
  for (const r of results) {
    add(r, 'mean |χ| at θ0', r.chi);
    add(r, 'zero-shot accuracy (%)', acc(r, 'zero-shot prompt'), 100);
    add(r, 'SGD FT − SGD eNTK (points)', r.gap_sgd, 100);
    add(r, "Adam FT − Adam's eNTK (points)", r.gap_adam, 100);
    add(r, 'linearization share (SGD FT)', r.linearization_share.sgd);
    add(r, 'kernel distance (SGD FT)', r.kernel_distance.sgd);
  }
  const svg = await renderSvg(widthStudySpec(data, `Width study: RoBERTa MLMs of 4 layers, W ∈ {${widths.join(', ')}}`));
  writeFileSync(`${figure}.svg`, svg);
  writeFileSync(`${figure}.png`, svgToPng(svg));
  console.error(`figure: ${figure}.svg, ${figure}.png`);
}
