// Task readers: the reference processors' view of a task file (LM-BFF `src/processors.py`, REFERENCE.md §4.1).
//
// - GLUE-style tsv (HF `DataProcessor._read_tsv`): read as `utf-8-sig` (a BOM is dropped), universal
//   newlines, every line split on tabs with no quoting; the first line is a header and skipped (not CoLA).
//   Text and label columns per task (registry). A row without the needed columns is an error, except
//   for QQP, whose processor skips such rows. Empty lines are rows without columns.
// - csv tasks (`pd.read_csv(header=None).values.tolist()`): label = column 0, text = column 1 (ag_news:
//   column 2, the description). Missing (NaN) or empty text becomes ''.
// Labels are returned as the processor's label string plus its index in the task's label list.
import { join, dirname } from 'node:path';
import { InputError } from '../errors.js';
import { pyReadlines } from '../pyformats/pytext.js';
import { readCsvLikePandas, pyFloatRepr, type Cell } from '../pyformats/pandas-csv.js';
import { readTextFile, fileExists } from './files.js';
import { getTask, type TaskSpec } from './registry.js';

export interface Example {
  /** One or two texts (sentence, or sentence pair). */
  texts: string[];
  /** The label as the processor reads it ('0', 'entailment', '3', ...). */
  label: string;
  /** Index of `label` in the task's label list (the logit index). */
  labelIndex: number;
}

export type SplitName = 'train' | 'dev' | 'test' | 'test_mismatched';

function resolveTask(task: string | TaskSpec): TaskSpec {
  return typeof task === 'string' ? getTask(task) : task;
}

function labelIndexOf(spec: TaskSpec, label: string, where: string): number {
  const i = spec.labels.indexOf(label);
  if (i < 0) {
    throw new InputError(
      where,
      `unknown label ${JSON.stringify(label)} for task ${spec.name} (expected one of ${spec.labels.map((l) => JSON.stringify(l)).join(', ')})`,
    );
  }
  return i;
}

function col(row: string[], index: number): string {
  return index < 0 ? row[row.length + index] : row[index];
}

/** Reads a GLUE-style tsv file as the task's processor does. */
export function readTsvTask(file: string, task: string | TaskSpec): Example[] {
  const spec = resolveTask(task);
  const text = readTextFile(file, `${spec.name} data file`).replace(/^\uFEFF/, '');
  const lines = pyReadlines(text);
  const needed =
    Math.max(
      ...spec.textColumns.map((c) => (c < 0 ? -c - 1 : c)),
      spec.labelColumn < 0 ? -spec.labelColumn - 1 : spec.labelColumn,
    ) + 1;
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (spec.header && i === 0) continue;
    const body = lines[i].endsWith('\n') ? lines[i].slice(0, -1) : lines[i];
    const row = body.length === 0 ? [] : body.split('\t');
    const where = `${file}:${i + 1}`;
    if (row.length < needed) {
      if (spec.name === 'QQP') continue; // QqpProcessor: `except IndexError: continue`
      throw new InputError(where, `expected at least ${needed} tab-separated columns for task ${spec.name}, found ${row.length}`);
    }
    const label = col(row, spec.labelColumn);
    out.push({ texts: spec.textColumns.map((c) => col(row, c)), label, labelIndex: labelIndexOf(spec, label, where) });
  }
  return out;
}

function cellText(c: Cell | undefined): string {
  if (c === undefined) return '';
  if (typeof c === 'string') return c;
  if (typeof c === 'bigint') return c.toString();
  return Number.isNaN(c) ? '' : pyFloatRepr(c);
}

function cellLabel(c: Cell | undefined): string | undefined {
  if (c === undefined) return undefined;
  if (typeof c === 'bigint') return c.toString();
  if (typeof c === 'number') return Number.isInteger(c) ? String(c) : Number.isNaN(c) ? undefined : pyFloatRepr(c);
  return c;
}

/** Reads a header-less csv task file (sst-5, mr, cr, mpqa, subj, trec, ag_news) as the processor does. */
export function readCsvTask(file: string, task: string | TaskSpec): Example[] {
  const spec = resolveTask(task);
  const frame = readCsvLikePandas(readTextFile(file, `${spec.name} data file`), file);
  const width = frame.dtypes.length;
  const needed = Math.max(spec.labelColumn, ...spec.textColumns) + 1;
  if (frame.rows.length > 0 && width < needed) {
    throw new InputError(
      `${file}:${frame.lines[0]}`,
      `expected at least ${needed} comma-separated columns for task ${spec.name} (label in column ${spec.labelColumn}, text in column ${spec.textColumns.join(', ')}), found ${width}`,
    );
  }
  return frame.rows.map((row, i) => {
    const where = `${file}:${frame.lines[i]}`;
    const label = cellLabel(row[spec.labelColumn]);
    if (label === undefined) throw new InputError(where, `missing label in column ${spec.labelColumn}`);
    return { texts: spec.textColumns.map((c) => cellText(row[c])), label, labelIndex: labelIndexOf(spec, label, where) };
  });
}

/** Reads one task file in the task's format. */
export function readTaskFile(file: string, task: string | TaskSpec): Example[] {
  const spec = resolveTask(task);
  return spec.format === 'csv' ? readCsvTask(file, spec) : readTsvTask(file, spec);
}

/** File name of a split inside a k-shot split directory (`train.tsv`, `dev_matched.tsv`, `test.csv`, ...). */
export function splitFileName(task: string | TaskSpec, split: SplitName): string {
  const spec = resolveTask(task);
  const ext = spec.format === 'csv' ? 'csv' : 'tsv';
  if (split === 'test_mismatched' && spec.name !== 'MNLI') {
    throw new InputError(spec.name, "split 'test_mismatched' exists only for MNLI");
  }
  if (spec.name === 'MNLI' && split !== 'train')
    return `${split === 'dev' ? 'dev_matched' : split === 'test' ? 'test_matched' : split}.${ext}`;
  return `${split}.${ext}`;
}

/**
 * The path of a split file in a k-shot split directory `<TASK>/<k>-<seed>/`. Test files may be stored once
 * per task in the parent directory (as in `k-shot-1k-test/<TASK>/test.*`, where the generator would have
 * written the identical file into every split directory): when the split directory has no test file, the
 * parent's is used.
 */
export function resolveSplitFile(dir: string, task: string | TaskSpec, split: SplitName): string {
  const name = splitFileName(task, split);
  const own = join(dir, name);
  if (split === 'train' || split === 'dev' || fileExists(own)) return own;
  const parent = join(dirname(dir), name);
  return fileExists(parent) ? parent : own;
}

/** Reads `train`, `dev` or `test` (MNLI also `test_mismatched`) of a k-shot split directory. */
export function readSplit(dir: string, task: string | TaskSpec, split: SplitName): Example[] {
  return readTaskFile(resolveSplitFile(dir, task, split), task);
}

/**
 * Reads a task in the LM-BFF `original` layout (`<dataDir>/<TASK>/...`): `train` plus the evaluation files
 * keyed by their stem (`dev`; MNLI `dev_matched`, `dev_mismatched`; csv tasks `test`).
 */
export function readOriginal(dataDir: string, task: string | TaskSpec): Record<string, Example[]> & { train: Example[] } {
  const spec = resolveTask(task);
  const dir = join(dataDir, spec.name);
  const out: Record<string, Example[]> = { train: readTaskFile(join(dir, spec.trainFile), spec) };
  for (const f of spec.evalFiles) out[f.replace(/\.(tsv|csv)$/, '')] = readTaskFile(join(dir, f), spec);
  return out as Record<string, Example[]> & { train: Example[] };
}
