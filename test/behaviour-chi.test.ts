// χ per output / label class and the per-example width comparison (Definition 5.3), against hand values.
import { describe, expect, it } from 'vitest';
import { chiWidthSeries, pairedChange, renderChiWidthMarkdown } from '../lib/behaviour/chi.js';
import { chiStatsFromLogits } from '../lib/behaviour/measures.js';

describe('χ per output and per label class', () => {
  it('binary: |χ_i0| = |χ_i1| = 1 − p_y; by label class = the mean over that class', () => {
    // p = (1/2, 1/2), y = 0 -> χ = (−1/2, 1/2); p = (3/4, 1/4), y = 1 -> χ = (3/4, −3/4)
    const s = chiStatsFromLogits(
      [
        [0, 0],
        [Math.log(3), 0],
      ],
      [0, 1],
    );
    expect(s.meanAbsChiByOutput[0]).toBeCloseTo(0.625, 15);
    expect(s.meanAbsChiByOutput[1]).toBeCloseTo(0.625, 15);
    expect(s.meanAbsChiByLabel[0]).toBeCloseTo(0.5, 15);
    expect(s.meanAbsChiByLabel[1]).toBeCloseTo(0.75, 15);
    expect(s.perExampleOutput[1][0]).toBeCloseTo(0.75, 15);
  });
  it('three classes: outputs differ; an absent class is NaN', () => {
    // logits (ln 2, 0, 0): p = (1/2, 1/4, 1/4); y = 0 -> χ = (−1/2, 1/4, 1/4)
    const s = chiStatsFromLogits([[Math.log(2), 0, 0]], [0]);
    expect(s.meanAbsChiByOutput.map((x) => +x.toFixed(15))).toEqual([0.5, 0.25, 0.25]);
    expect(s.meanAbsChiByLabel[0]).toBeCloseTo(1 / 3, 15);
    expect(s.meanAbsChiByLabel[1]).toBeNaN();
  });
});

describe('chiWidthSeries', () => {
  // three models given out of width order; 5 examples
  const narrow = { model: 'w16', width: 16, perExample: [0.5, 0.4, 0.3, 0.2, 0.1] };
  const middle = { model: 'w32', width: 32, perExample: [0.4, 0.3, 0.35, 0.2, 0.05] };
  const wide = { model: 'w64', width: 64, perExample: [0.3, 0.2, 0.1, 0.25, 0.01] };
  const s = chiWidthSeries([wide, narrow, middle]);

  it('compares consecutive widths in increasing order, then the narrowest with the widest', () => {
    expect(s.comparisons.map((c) => `${c.from}->${c.to}`)).toEqual(['w16->w32', 'w32->w64', 'w16->w64']);
  });
  it('counts by hand: 16 -> 32 fell on examples 0, 1, 4, rose on 2, equal on 3', () => {
    const c = s.comparisons[0].all;
    expect([c.decreased, c.increased, c.unchanged, c.n]).toEqual([3, 1, 1, 5]);
    expect(c.shareDecreased).toBe(0.6);
    // sign test: 4 non-zero, 1 positive: p = 2·(1 + 4)/16 = 10/16
    expect(c.sign.p).toBe(10 / 16);
    // mean change: (−0.1 − 0.1 + 0.05 + 0 − 0.05)/5 = −0.04
    expect(c.meanChange).toBeCloseTo(-0.04, 15);
  });
  it('16 -> 64: 4 of 5 fell; monotone share: examples 0, 1, 4 fall at both steps (3 of 5)', () => {
    const c = s.comparisons[2].all;
    expect(c.decreased).toBe(4);
    expect(c.increased).toBe(1);
    // Wilcoxon: |d| = 0.2, 0.2, 0.2, 0.05, 0.09 -> ranks 4, 4, 4, 1 (the +0.05), 2; W+ = 1
    expect(c.wilcoxon.wPlus).toBe(1);
    expect(c.wilcoxon.wMinus).toBe(14);
    expect(s.shareMonotoneDecrease).toBe(0.6);
  });
  it('renders a Markdown table and refuses mismatched example sets or a single model', () => {
    expect(renderChiWidthMarkdown(s)).toContain('| w16 → w64 (16 → 64) | all (mean over outputs) | 5 | 4 | 80.0 %');
    expect(() => chiWidthSeries([narrow])).toThrow(/at least two models/);
    expect(() => chiWidthSeries([narrow, { ...wide, perExample: [1] }])).toThrow(/same 5 examples/);
    expect(() => pairedChange([1, 2], [1])).toThrow(/same 2 examples/);
  });
  it('per output class when the per-output values are given', () => {
    const a = {
      model: 'a',
      width: 8,
      perExample: [0.5, 0.5],
      perExampleOutput: [
        [0.5, 0.5],
        [0.5, 0.5],
      ],
    };
    const b = {
      model: 'b',
      width: 16,
      perExample: [0.4, 0.6],
      perExampleOutput: [
        [0.4, 0.4],
        [0.6, 0.6],
      ],
    };
    const c = chiWidthSeries([a, b]).comparisons[0];
    expect(c.byOutput).toHaveLength(2);
    expect(c.byOutput[0].decreased).toBe(1);
    expect(c.byOutput[1].increased).toBe(1);
  });
});
