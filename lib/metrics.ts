// Evaluation metrics as the reference reports them (REFERENCE.md §8.1): HF `glue_compute_metrics` for
// GLUE tasks (sklearn definitions) and plain accuracy (`text_classification_metrics`) for the rest.
// - acc: mean of prediction == label (every task; MNLI also as `mnli/acc`).
// - f1 (MRPC, QQP): sklearn binary F1 with positive label index 1; 0 when there is no true or predicted
//   positive (sklearn's zero_division default warns and returns 0). `acc_and_f1` = (acc + f1) / 2.
// - mcc (CoLA): sklearn `matthews_corrcoef`; 0 when the denominator is 0.
import { LmkError } from './errors.js';
import { getTask, type MetricName, type TaskSpec } from './tasks/registry.js';
import { isInt } from './validate.js';

export interface Metrics {
  acc: number;
  f1?: number;
  acc_and_f1?: number;
  mcc?: number;
  'mnli/acc'?: number;
}

function check(predictions: readonly number[], labels: readonly number[], numLabels?: number): void {
  if (predictions.length !== labels.length) {
    throw new LmkError(`metrics: ${predictions.length} predictions but ${labels.length} labels`, 'LMK_BAD_INPUT');
  }
  if (labels.length === 0) throw new LmkError('metrics: no examples (empty predictions and labels)', 'LMK_BAD_INPUT');
  const bad = (v: number): boolean => !isInt(v) || v < 0 || (numLabels !== undefined && v >= numLabels);
  const bp = predictions.findIndex(bad);
  if (bp >= 0)
    throw new LmkError(
      `metrics: prediction ${bp} is ${predictions[bp]}, not a label index${numLabels !== undefined ? ` in [0, ${numLabels - 1}]` : ''}`,
      'LMK_BAD_INPUT',
    );
  const bl = labels.findIndex(bad);
  if (bl >= 0)
    throw new LmkError(
      `metrics: label ${bl} is ${labels[bl]}, not a label index${numLabels !== undefined ? ` in [0, ${numLabels - 1}]` : ''}`,
      'LMK_BAD_INPUT',
    );
}

export function accuracy(predictions: readonly number[], labels: readonly number[]): number {
  check(predictions, labels);
  let hit = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) hit++;
  return hit / labels.length;
}

/** Binary F1 of class `positive` (sklearn `f1_score(average='binary', pos_label=positive)`). */
export function f1Binary(predictions: readonly number[], labels: readonly number[], positive = 1): number {
  check(predictions, labels);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = predictions[i] === positive;
    const l = labels[i] === positive;
    if (p && l) tp++;
    else if (p) fp++;
    else if (l) fn++;
  }
  const denom = 2 * tp + fp + fn;
  return denom === 0 ? 0 : (2 * tp) / denom;
}

/** Matthews correlation coefficient, multiclass form (sklearn `matthews_corrcoef`). */
export function matthewsCorrcoef(predictions: readonly number[], labels: readonly number[]): number {
  check(predictions, labels);
  const classes = [...new Set([...labels, ...predictions])];
  const idx = new Map(classes.map((c, i) => [c, i]));
  const n = labels.length;
  const t = new Array<number>(classes.length).fill(0); // true counts per class
  const p = new Array<number>(classes.length).fill(0); // predicted counts per class
  let correct = 0;
  for (let i = 0; i < n; i++) {
    t[idx.get(labels[i])!]++;
    p[idx.get(predictions[i])!]++;
    if (labels[i] === predictions[i]) correct++;
  }
  let tp = 0;
  let pp = 0;
  let tt = 0;
  for (let c = 0; c < classes.length; c++) {
    tp += t[c] * p[c];
    pp += p[c] * p[c];
    tt += t[c] * t[c];
  }
  const cov = correct * n - tp;
  const denom = Math.sqrt((n * n - pp) * (n * n - tt));
  return denom === 0 ? 0 : cov / denom;
}

function spec(task: string | TaskSpec): TaskSpec {
  return typeof task === 'string' ? getTask(task) : task;
}

/** The metrics the reference reports for `task`, plus `acc` always. Inputs are label indices. */
export function computeMetrics(task: string | TaskSpec, predictions: readonly number[], labels: readonly number[]): Metrics {
  const s = spec(task);
  check(predictions, labels, s.labels.length);
  const acc = accuracy(predictions, labels);
  const out: Metrics = { acc };
  const names = new Set<MetricName>([s.metric, ...s.extraMetrics]);
  if (names.has('mnli/acc')) out['mnli/acc'] = acc;
  if (names.has('f1')) {
    out.f1 = f1Binary(predictions, labels, 1);
    out.acc_and_f1 = (acc + out.f1) / 2;
  }
  if (names.has('mcc')) out.mcc = matthewsCorrcoef(predictions, labels);
  return out;
}

/** The metric used to select hyper-parameters on dev and reported on test (a key of `Metrics`). */
export function selectionMetric(task: string | TaskSpec): MetricName {
  return spec(task).metric;
}
