import { describe, it, expect } from 'vitest';
import { accuracy, f1Binary, matthewsCorrcoef, computeMetrics, selectionMetric } from '../lib/metrics.js';
import type { LmkError } from '../lib/errors.js';

describe('accuracy / F1 / MCC', () => {
  it('accuracy is the fraction of equal indices', () => {
    expect(accuracy([0, 1, 1, 2], [0, 1, 2, 2])).toBe(0.75);
  });

  it('binary F1 with positive label 1 (tp=2, fp=1, fn=1 -> 2/3)', () => {
    expect(f1Binary([1, 1, 1, 0, 0], [1, 1, 0, 1, 0])).toBeCloseTo(2 / 3, 15);
    expect(f1Binary([0, 1, 0, 0, 1], [0, 1, 1, 0, 1])).toBeCloseTo(0.8, 15);
  });

  it('F1 is 0 when there are no true and no predicted positives (sklearn zero_division -> 0)', () => {
    expect(f1Binary([0, 0, 0], [0, 0, 0])).toBe(0);
    expect(f1Binary([0, 0], [1, 1])).toBe(0);
  });

  it('MCC matches sklearn (docs example: -1/3), perfect = 1, inverted = -1, constant prediction = 0', () => {
    expect(matthewsCorrcoef([1, 0, 1, 1], [1, 1, 1, 0])).toBeCloseTo(-1 / 3, 15);
    expect(matthewsCorrcoef([0, 1, 1, 0], [0, 1, 1, 0])).toBe(1);
    expect(matthewsCorrcoef([1, 0, 0, 1], [0, 1, 1, 0])).toBe(-1);
    expect(matthewsCorrcoef([1, 1, 1, 1], [0, 1, 1, 0])).toBe(0);
  });

  it('multiclass MCC (sklearn formula: (c*s - sum p_k t_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2)))', () => {
    // labels 0 0 1 1 2 2, preds 0 1 1 2 2 0: c=3, s=6, t=p=(2,2,2) -> (18-12)/(36-12) = 0.25
    expect(matthewsCorrcoef([0, 1, 1, 2, 2, 0], [0, 0, 1, 1, 2, 2])).toBeCloseTo(0.25, 15);
  });
});

describe('computeMetrics / selectionMetric', () => {
  it('MRPC and QQP report acc, f1 and acc_and_f1; selection on f1', () => {
    const m = computeMetrics('MRPC', [1, 1, 0, 0], [1, 0, 0, 1]);
    expect(m).toEqual({ acc: 0.5, f1: 0.5, acc_and_f1: 0.5 });
    expect(selectionMetric('qqp')).toBe('f1');
  });

  it('MNLI reports mnli/acc; CoLA reports mcc; SST-2 and sst-5 report acc only', () => {
    expect(computeMetrics('MNLI', [0, 1, 2, 2], [0, 1, 2, 1])).toEqual({ acc: 0.75, 'mnli/acc': 0.75 });
    expect(selectionMetric('MNLI')).toBe('mnli/acc');
    expect(computeMetrics('CoLA', [0, 1, 1, 0], [0, 1, 1, 0])).toEqual({ acc: 1, mcc: 1 });
    expect(selectionMetric('CoLA')).toBe('mcc');
    expect(computeMetrics('SST-2', [0, 1], [1, 1])).toEqual({ acc: 0.5 });
    expect(computeMetrics('sst-5', [4, 3, 2], [4, 3, 0])).toEqual({ acc: 2 / 3 });
    expect(selectionMetric('trec')).toBe('acc');
  });

  it('rejects empty input, length mismatch and out-of-range label indices', () => {
    expect(() => computeMetrics('RTE', [], [])).toThrow('metrics: no examples (empty predictions and labels)');
    expect(() => accuracy([], [])).toThrow('metrics: no examples');
    expect(() => computeMetrics('RTE', [0, 1], [0])).toThrow('metrics: 2 predictions but 1 labels');
    expect(() => computeMetrics('RTE', [0, 2], [0, 1])).toThrow('metrics: prediction 1 is 2, not a label index in [0, 1]');
    expect(() => computeMetrics('sst-5', [0], [0.5])).toThrow('metrics: label 0 is 0.5, not a label index in [0, 4]');
    expect(() => computeMetrics('nope', [0], [0])).toThrow("unknown task 'nope'");
    // without a task there is no label count: any integer >= 0; a bad value at index 0; the error codes
    const codeOf = (f: () => unknown): string[] => {
      try {
        f();
      } catch (e) {
        return [(e as LmkError).code, (e as Error).message];
      }
      return ['no error'];
    };
    expect(accuracy([7], [7])).toBe(1);
    expect(codeOf(() => accuracy([-1, 0], [0, 0]))).toEqual(['LMK_BAD_INPUT', 'metrics: prediction 0 is -1, not a label index']);
    expect(codeOf(() => f1Binary([0, 0], [0, -2]))).toEqual(['LMK_BAD_INPUT', 'metrics: label 1 is -2, not a label index']);
    expect(codeOf(() => matthewsCorrcoef([0], [0, 1]))).toEqual(['LMK_BAD_INPUT', 'metrics: 1 predictions but 2 labels']);
    expect(codeOf(() => accuracy([], []))).toEqual(['LMK_BAD_INPUT', 'metrics: no examples (empty predictions and labels)']);
  });
});
