// The χ test of Section 5 per example (Definition 5.3 asks χ → 0 as the width grows, for every input):
// for a series of models of increasing width evaluated on the same examples, the paired per-example
// comparison of |χ| (mean over outputs) between consecutive widths and between the narrowest and the
// widest: the share of examples whose |χ| decreased, the exact sign test and Wilcoxon's signed-rank test
// of the differences |χ|_wide − |χ|_narrow (two-sided), and the same per output class (|χ_ic| of output c).
import { OptionError } from '../errors.js';
import { signTest, wilcoxonSignedRank, type SignTest, type WilcoxonTest } from '../stats.js';

export interface ChiSeriesPoint {
  model: string;
  /** The model's width (hidden size); the series is compared in increasing width (ties: given order). */
  width: number;
  /** Per example: mean over outputs of |χ| (ChiStats.perExample). */
  perExample: number[];
  /** Per example and output: |χ_ic| (optional: the per-output comparison needs it). */
  perExampleOutput?: number[][];
}

export interface PairedChange {
  n: number;
  /** Examples whose value fell / rose / stayed equal from the narrower to the wider model. */
  decreased: number;
  increased: number;
  unchanged: number;
  shareDecreased: number;
  /** Mean of wide − narrow (negative: χ falls with width). */
  meanChange: number;
  sign: SignTest;
  wilcoxon: WilcoxonTest;
}

export interface ChiWidthComparison {
  from: string;
  to: string;
  fromWidth: number;
  toWidth: number;
  all: PairedChange;
  /** Per output c (|χ_ic|), when every point has perExampleOutput. */
  byOutput: PairedChange[];
}

export interface ChiWidthSeries {
  /** Consecutive widths, then (with 3 or more models) the narrowest against the widest. */
  comparisons: ChiWidthComparison[];
  /** Share of examples whose |χ| decreases at every step of the series (strictly). */
  shareMonotoneDecrease: number;
  n: number;
}

/** Paired change from `a` (narrower) to `b` (wider) of per-example values. */
export function pairedChange(a: readonly number[], b: readonly number[]): PairedChange {
  if (a.length !== b.length) throw new OptionError('perExample', `two models on the same ${a.length} examples`, b.length);
  const d = b.map((v, i) => v - a[i]);
  const decreased = d.filter((x) => x < 0).length;
  const increased = d.filter((x) => x > 0).length;
  const n = d.length;
  return {
    n,
    decreased,
    increased,
    unchanged: n - decreased - increased,
    shareDecreased: n ? decreased / n : NaN,
    meanChange: n ? d.reduce((s, x) => s + x, 0) / n : NaN,
    sign: signTest(d),
    wilcoxon: wilcoxonSignedRank(d),
  };
}

function compare(a: ChiSeriesPoint, b: ChiSeriesPoint): ChiWidthComparison {
  const withOutputs = a.perExampleOutput && b.perExampleOutput;
  const C = withOutputs ? (a.perExampleOutput![0]?.length ?? 0) : 0;
  return {
    from: a.model,
    to: b.model,
    fromWidth: a.width,
    toWidth: b.width,
    all: pairedChange(a.perExample, b.perExample),
    byOutput: Array.from({ length: C }, (_, c) =>
      pairedChange(
        a.perExampleOutput!.map((r) => r[c]),
        b.perExampleOutput!.map((r) => r[c]),
      ),
    ),
  };
}

/** The per-example comparison of a width series (at least two models on the same examples). */
export function chiWidthSeries(points: readonly ChiSeriesPoint[]): ChiWidthSeries {
  if (points.length < 2) throw new OptionError('models', 'at least two models (a width series)', points.length);
  const n = points[0].perExample.length;
  points.forEach((p, i) => {
    if (p.perExample.length !== n)
      throw new OptionError(
        `models[${i}]`,
        `the same ${n} examples as the first model (${points[0].model})`,
        p.perExample.length,
      );
  });
  const s = points
    .map((p, i) => ({ p, i }))
    .sort((x, y) => x.p.width - y.p.width || x.i - y.i)
    .map((x) => x.p);
  const comparisons = s.slice(1).map((b, i) => compare(s[i], b));
  if (s.length > 2) comparisons.push(compare(s[0], s[s.length - 1]));
  let monotone = 0;
  for (let e = 0; e < n; e++) if (s.slice(1).every((b, i) => b.perExample[e] < s[i].perExample[e])) monotone++;
  return { comparisons, shareMonotoneDecrease: n ? monotone / n : NaN, n };
}

const p3 = (p: number) => (p < 1e-4 ? p.toExponential(1) : p.toPrecision(3));

/** Markdown: one row per comparison (all outputs), then one per output class. */
export function renderChiWidthMarkdown(s: ChiWidthSeries): string {
  const head = '| from → to (width) | output | examples | |χ| fell | share fell | mean change | sign test p | Wilcoxon p |';
  const rows: string[] = [head, '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |'];
  const row = (c: ChiWidthComparison, label: string, x: PairedChange) =>
    `| ${c.from} → ${c.to} (${c.fromWidth} → ${c.toWidth}) | ${label} | ${x.n} | ${x.decreased} | ${(x.shareDecreased * 100).toFixed(1)} % | ${x.meanChange.toExponential(2)} | ${p3(x.sign.p)} | ${p3(x.wilcoxon.p)} (${x.wilcoxon.method}) |`;
  for (const c of s.comparisons) {
    rows.push(row(c, 'all (mean over outputs)', c.all));
    c.byOutput.forEach((x, k) => rows.push(row(c, `output ${k}`, x)));
  }
  return (
    'χ per example across widths (Definition 5.3: χ → 0 as the width grows): paired |χ| of the same examples, ' +
    'wider minus narrower; two-sided exact sign test and Wilcoxon signed-rank test. ' +
    `Examples whose |χ| falls at every step: ${(s.shareMonotoneDecrease * 100).toFixed(1)} % of ${s.n}.\n\n` +
    rows.join('\n') +
    '\n'
  );
}
