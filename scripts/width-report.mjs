#!/usr/bin/env node
// The width study's report: a Markdown table per task (printed) and a figure (SVG + PNG) from
// scripts/width-study.mjs's width-study.json. Spreads: "mean ± se" with se = the sample std (ddof 1)
// over seeds / √n; absolute accuracies also get a bootstrap over test examples (1,000 resamples): paired
// over the seeds (resampling examples of the shared test set, each example's correctness averaged over
// the seeds) where the study recorded per-example results (zero-shot, fine-tuning, linearized), else
// (kernel rows, and every row of records without per-example results; marked †) the range between the
// two extreme couplings of the seeds (independent seeds .. seeds right on the same examples: lib/stats.ts
// bootstrapSeedMeanAccuracy), which brackets the paired bootstrap. Then per width the learning rate and
// best step that dev selected per seed, the kernel-distance formulas (the optimizer's analog) and, for
// consecutive widths, the per-example paired comparison of |χ| (Definition 5.3).
//   node scripts/width-report.mjs [work/width/width-study.json] [--figure docs/width-study]
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { widthStudySpec, renderSvg, svgToPng } = await import(join(root, 'dist/figures/index.js'));
const { mean, sampleStd, bootstrapMean, bootstrapSeedMeanAccuracy } = await import(join(root, 'dist/stats.js'));
const { chiWidthSeries } = await import(join(root, 'dist/behaviour/chi.js'));
const args = process.argv.slice(2);
const fi = args.indexOf('--figure');
const figure = fi >= 0 ? resolve(args[fi + 1]) : null;
const file = resolve(
  args.find((a, i) => !a.startsWith('--') && (fi < 0 || i !== fi + 1)) ?? join(root, 'work', 'width', 'width-study.json'),
);
const { results, maxTest } = JSON.parse(readFileSync(file, 'utf8'));

const finite = (xs) => (xs ?? []).filter(Number.isFinite);
const se = (ok) => (ok.length > 1 ? sampleStd(ok) / Math.sqrt(ok.length) : NaN);
/** "mean ± se" (se from the sample std, ddof 1), "(n=...)" when non-finite values were left out. */
const ms = (xs, scale = 1, digits = 3) => {
  const ok = finite(xs);
  return ok.length
    ? `${(mean(ok) * scale).toFixed(digits)} ± ${(se(ok) * scale).toFixed(digits)}${ok.length < (xs ?? []).length ? ` (n=${ok.length})` : ''}`
    : 'n/a';
};
const row = (r, name) => r.rows.find((x) => x.method.trim() === name);
const acc = (r, name) => row(r, name)?.acc ?? [];
/** Bootstrap se over test examples of a row's seed-mean accuracy (x100); † = seeds resampled independently. */
const boot = (r, name) => {
  const x = row(r, name);
  if (!x) return 'n/a';
  if (x.correct) {
    const perExample = x.correct[0].map((_, i) => mean(x.correct.map((c) => c[i])));
    return (100 * bootstrapMean(perExample, 1000, 1).se).toFixed(1);
  }
  const lo = bootstrapSeedMeanAccuracy(x.acc, maxTest, 1000, 1, 'independent').se;
  const hi = bootstrapSeedMeanAccuracy(x.acc, maxTest, 1000, 1, 'shared').se;
  return `${(100 * lo).toFixed(1)}–${(100 * hi).toFixed(1)}†`;
};
const pct = (r, name) => `${ms(acc(r, name), 100, 1)} [${boot(r, name)}]`;
const tasks = [...new Set(results.map((r) => r.task))];
const widths = [...new Set(results.map((r) => r.width))].sort((a, b) => a - b);

const lines = [];
for (const task of tasks) {
  const rs = results.filter((r) => r.task === task).sort((a, b) => a.width - b.width);
  const adam = rs[0].adam_kernel.replace(' eNTK', '').replace(/ \(.*\)/, '');
  const kdf = rs[0].kernel_distance_formula ?? { sgd: 'sgd', adam: 'sgd' };
  lines.push(
    `### ${task} (k = 16, ${rs[0].chi.length} seeds, ${maxTest} test examples; accuracies in %, mean ± se over seeds [bootstrap se over test examples])`,
    '',
  );
  lines.push(
    `| W | params | held-out MLM acc | mean abs χ at θ0 | zero-shot | SGD eNTK | SGD FT | FT − eNTK (SGD) | ${adam} eNTK | Adam FT | FT − eNTK (Adam vs ${adam}) | lin. share SGD | lin. share Adam | kernel dist. SGD FT (${kdf.sgd} eNTK) | kernel dist. Adam FT (${kdf.adam} eNTK) |`,
  );
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rs)
    lines.push(
      `| ${r.width} | ${(r.params / 1e6).toFixed(2)} M | ${(r.heldout_mlm_acc * 100).toFixed(1)} | ${ms(r.chi)} | ${pct(r, 'zero-shot prompt')} | ${pct(r, 'SGD eNTK (logistic)')} | ${pct(r, 'SGD fine-tuning')} | ${ms(r.gap_sgd, 100, 1)} | ${pct(r, r.adam_kernel)} | ${pct(r, 'Adam fine-tuning')} | ${ms(r.gap_adam, 100, 1)} | ${ms(r.linearization_share.sgd)} | ${ms(r.linearization_share.adam)} | ${ms(r.kernel_distance.sgd)} | ${ms(r.kernel_distance.adam)} |`,
    );
  lines.push('');
  if (rs.every((r) => r.selected)) {
    lines.push('Selected on dev per seed: learning rate @ best step.', '');
    lines.push('| W | SGD FT | Adam FT |', '| --- | --- | --- |');
    const sel = (xs) => (xs ?? []).map((x) => `${x.lr} @ ${x.bestStep}`).join(', ');
    for (const r of rs) lines.push(`| ${r.width} | ${sel(r.selected.sgd)} | ${sel(r.selected.adam)} |`);
    lines.push('');
  }
  if (rs.length >= 2 && rs.every((r) => r.chi_per_example)) {
    // every seed's training examples pooled: the same examples at every width
    const series = chiWidthSeries(
      rs.map((r) => ({ model: `W=${r.width}`, width: r.width, perExample: r.chi_per_example.flat() })),
    );
    lines.push(
      `Per-example |χ| across widths (Definition 5.3), the ${series.n} training examples of all seeds paired; ` +
        `${(100 * series.shareMonotoneDecrease).toFixed(1)} % fall at every step.`,
      '',
    );
    lines.push(
      '| widths | |χ| fell | share | mean change | sign test p | Wilcoxon p |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const c of series.comparisons)
      lines.push(
        `| ${c.fromWidth} → ${c.toWidth} | ${c.all.decreased} of ${c.all.n} | ${(100 * c.all.shareDecreased).toFixed(1)} % | ${c.all.meanChange.toExponential(2)} | ${c.all.sign.p.toPrecision(3)} | ${c.all.wilcoxon.p.toPrecision(3)} |`,
      );
    lines.push('');
  }
}
console.log(lines.join('\n'));

if (figure) {
  const data = [];
  const add = (r, metric, xs, scale = 1) => {
    const ok = finite(xs).map((x) => x * scale);
    if (!ok.length) return;
    const m = mean(ok),
      s = ok.length > 1 ? se(ok) : 0;
    data.push({ width: r.width, task: r.task, metric, mean: m, lo: m - s, hi: m + s });
  };
  for (const r of results) {
    add(r, 'mean |χ| at θ0', r.chi);
    add(r, 'zero-shot accuracy (%)', acc(r, 'zero-shot prompt'), 100);
    add(r, 'SGD FT − SGD eNTK (points)', r.gap_sgd, 100);
    add(r, "Adam FT − Adam's eNTK (points)", r.gap_adam, 100);
    add(r, 'linearization share (SGD FT)', r.linearization_share.sgd);
    add(r, `kernel distance (SGD FT, ${r.kernel_distance_formula?.sgd ?? 'sgd'} eNTK)`, r.kernel_distance.sgd);
    add(r, `kernel distance (Adam FT, ${r.kernel_distance_formula?.adam ?? 'sgd'} eNTK)`, r.kernel_distance.adam);
  }
  const svg = await renderSvg(widthStudySpec(data, `Width study: RoBERTa MLMs of 4 layers, W ∈ {${widths.join(', ')}}`));
  writeFileSync(`${figure}.svg`, svg);
  writeFileSync(`${figure}.png`, svgToPng(svg));
  console.error(`figure: ${figure}.svg, ${figure}.png`);
}
