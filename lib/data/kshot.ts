// The k-shot split generator: LM-Kernel-FT `tools/generate_k_shot_data.py` (REFERENCE.md §4.3), byte for byte.
//
// For each seed (outer loop) and task (inner loop): `np.random.seed(seed)`; shuffle the train lines
// (GLUE: the file's lines after the header; csv: `df.values.tolist()`); write the test split(s); bucket
// the shuffled lines by label (buckets in order of first appearance); train = first k of each bucket,
// dev = the next k (k-shot-10x: next 10k), written bucket after bucket.
// - GLUE tests: each non-train file, `dev` renamed `test`, its own header kept; in the k-shot-1k-test layout a
//   file of more than 1000 rows is shuffled with `np.random.seed(42)` and cut to its first 1000.
// - csv tests: `test.csv` through pandas; in the k-shot-1k-test layout more than 1000 rows become
//   `df.sample(n=1000, random_state=42)` = `RandomState(42).permutation(n)[:1000]`.
// - train/dev of GLUE tasks get the train header; MNLI's dev is `dev_matched.tsv`. csv train/dev are
//   `pd.DataFrame(rows).to_csv(header=False, index=False)`.
// Reference quirks reproduced on purpose:
// - CoLA has no header, so the reference shuffles its loaded train list (and, in the 1k-test layout, its dev list)
//   in place: each seed reshuffles the previous seed's order, so CoLA splits depend on the seed order
//   (default 100, 13, 21, 42, 87). This module keeps the loaded lists across seeds the same way.
// - A label bucket with fewer than k (or 2k, 11k) rows silently yields fewer rows (trec's label 2 has 86
//   rows: 64- and 512-shot splits are short). Such shortfalls are reported; `strict` makes them errors.
// - Labels for bucketing follow the generator's `get_label`, not the processors: the last column for
//   SST-2, MNLI, SNLI, QNLI, QQP, RTE, WNLI; column 0 for MRPC; column 1 for CoLA; STS-B binarised at 2.5.
import { join } from 'node:path';
import { LmkError, InputError } from '../errors.js';
import { writeFileAtomic } from '../io.js';
import { RandomState } from '../pyformats/mt19937.js';
import { pyReadlines, pyStrip } from '../pyformats/pytext.js';
import {
  readCsvLikePandas,
  frameFromRows,
  toCsvLikePandas,
  pyFloatRepr,
  type Cell,
  type Frame,
} from '../pyformats/pandas-csv.js';
import { readTextFile } from '../tasks/files.js';
import { TASKS } from '../tasks/registry.js';
import { isInt } from '../validate.js';

/** The k-shot layout: the output folder and how many dev rows / test rows are kept. */
export type KShotLayout = 'k-shot' | 'k-shot-10x' | 'k-shot-1k-test';
export const KSHOT_LAYOUTS: readonly KShotLayout[] = ['k-shot', 'k-shot-10x', 'k-shot-1k-test'];
/** @deprecated The former name of KShotLayout. */
export type KShotMode = KShotLayout;
/** @deprecated The former name of KSHOT_LAYOUTS. */
export const KSHOT_MODES = KSHOT_LAYOUTS;

/** The reference's default `--seed` list, in its order (the order matters for CoLA, see above). */
export const DEFAULT_KSHOT_SEEDS: readonly number[] = [100, 13, 21, 42, 87];

/** The reference's default `--task` list (no ag_news). */
export const DEFAULT_KSHOT_TASKS: readonly string[] = [
  'SST-2',
  'sst-5',
  'mr',
  'cr',
  'mpqa',
  'subj',
  'trec',
  'CoLA',
  'MRPC',
  'QQP',
  'STS-B',
  'MNLI',
  'SNLI',
  'QNLI',
  'RTE',
];

const GLUE_TASKS = ['MNLI', 'MRPC', 'QNLI', 'QQP', 'RTE', 'SNLI', 'SST-2', 'STS-B', 'WNLI', 'CoLA'];
const CSV_TASKS = TASKS.filter((t) => t.format === 'csv').map((t) => t.name);

/** Task names the generator accepts, spelled as the reference spells them. */
export const KSHOT_TASK_NAMES: readonly string[] = [...GLUE_TASKS, ...CSV_TASKS];

/** Canonical spelling of a generator task name (case-insensitive). */
export function kshotTaskName(name: string): string {
  const t = KSHOT_TASK_NAMES.find((x) => x.toLowerCase() === name.toLowerCase());
  if (!t) throw new LmkError(`unknown task '${name}' (known: ${KSHOT_TASK_NAMES.join(', ')})`, 'LMK_BAD_OPTION');
  return t;
}

interface GlueSource {
  kind: 'glue';
  task: string;
  /** Split name (file stem) -> lines, in file order: train first. Mutated in place for CoLA, as in the reference. */
  splits: [string, string[]][];
}

interface CsvSource {
  kind: 'csv';
  task: string;
  train: Frame;
  test: Frame;
}

export type KShotSource = GlueSource | CsvSource;

/** Loads a task's original files as `load_datasets` does (`<dataDir>/<TASK>/...`). */
export function loadKShotSource(dataDir: string, task: string): KShotSource {
  const name = kshotTaskName(task);
  const dir = join(dataDir, name);
  if (GLUE_TASKS.includes(name)) {
    const stems = name === 'MNLI' ? ['train', 'dev_matched', 'dev_mismatched'] : ['train', 'dev'];
    return {
      kind: 'glue',
      task: name,
      splits: stems.map((s) => [s, pyReadlines(readTextFile(join(dir, `${s}.tsv`), `${name} ${s} file`))]),
    };
  }
  const read = (s: string): Frame =>
    readCsvLikePandas(readTextFile(join(dir, `${s}.csv`), `${name} ${s} file`), join(dir, `${s}.csv`));
  return { kind: 'csv', task: name, train: read('train'), test: read('test') };
}

/** `split_header`: header-less CoLA returns the very same list (which is why it is shuffled in place). */
function splitHeader(task: string, lines: string[]): [string[], string[]] {
  if (task === 'CoLA') return [[], lines];
  return [lines.slice(0, 1), lines.slice(1)];
}

/** `get_label` for a GLUE line, as a bucket key. */
function glueLabel(task: string, line: string, where: () => string): string {
  const cols = pyStrip(line).split('\t');
  switch (task) {
    case 'CoLA':
      if (cols.length < 2) throw new InputError(where(), 'CoLA line has no label column (column 1)');
      return cols[1];
    case 'MRPC':
      return cols[0];
    case 'STS-B': {
      const v = Number(pyStrip(cols[cols.length - 1]));
      if (!/\d/.test(cols[cols.length - 1]) || Number.isNaN(v))
        throw new InputError(where(), `STS-B score ${JSON.stringify(cols[cols.length - 1])} is not a number`);
      return v < 2.5 ? '0' : '1';
    }
    default:
      return cols[cols.length - 1];
  }
}

/** Python dict-key identity for a csv label cell (1 == 1.0; '1' differs from 1). */
function csvLabelKey(c: Cell): string {
  if (typeof c === 'bigint') return `n:${c}`;
  if (typeof c === 'number') return Number.isNaN(c) ? 'nan' : `n:${Number.isInteger(c) ? BigInt(c) : c}`;
  return `s:${c}`;
}

function csvLabelText(c: Cell): string {
  return typeof c === 'number' ? (Number.isNaN(c) ? 'NaN' : pyFloatRepr(c)) : String(c);
}

/** `df.values.tolist()`: one common dtype for the whole frame (all int -> ints, all numeric -> floats). */
function valuesToList(frame: Frame): Cell[][] {
  if (frame.dtypes.every((d) => d === 'int64') || frame.dtypes.includes('object')) return frame.rows.map((r) => r.slice());
  return frame.rows.map((r) => r.map((c) => (typeof c === 'bigint' ? Number(c) : c)));
}

export interface Shortfall {
  task: string;
  seed: number;
  label: string;
  available: number;
  /** Rows needed for train + dev from this bucket (2k, or 11k in the k-shot-10x layout). */
  needed: number;
}

export interface KShotFile {
  /** Path relative to the output directory: `<layout>/<TASK>/<k>-<seed>/<file>`. */
  path: string;
  content: string;
}

export interface KShotOptions {
  k: number;
  seeds?: readonly number[];
  layout?: KShotLayout;
  /** @deprecated The former name of `layout`. */
  mode?: KShotLayout;
  /** Make a bucket smaller than the train+dev need an error instead of a reported shortfall. */
  strict?: boolean;
}

function bucketize<T>(items: T[], key: (x: T, i: number) => string, text: (x: T) => string): { label: string; items: T[] }[] {
  const map = new Map<string, { label: string; items: T[] }>();
  items.forEach((x, i) => {
    const k = key(x, i);
    let b = map.get(k);
    if (!b) {
      b = { label: text(x), items: [] };
      map.set(k, b);
    }
    b.items.push(x);
  });
  return [...map.values()];
}

function checkOptions(o: KShotOptions): { k: number; seeds: readonly number[]; layout: KShotLayout; devRate: number } {
  if (!isInt(o.k) || o.k < 1) throw new LmkError(`k must be a positive integer, received ${o.k}`, 'LMK_BAD_OPTION');
  const seeds = o.seeds ?? DEFAULT_KSHOT_SEEDS;
  for (const s of seeds) {
    if (!isInt(s) || s < 0 || s > 0xffffffff)
      throw new LmkError(`seed must be an integer in [0, 2**32 - 1], received ${s}`, 'LMK_BAD_OPTION');
  }
  const layout = o.layout ?? o.mode ?? 'k-shot';
  const option = o.layout === undefined && o.mode !== undefined ? 'mode' : 'layout';
  if (!KSHOT_LAYOUTS.includes(layout))
    throw new LmkError(`${option} must be one of ${KSHOT_LAYOUTS.join(', ')}, received '${layout}'`, 'LMK_BAD_OPTION');
  return { k: o.k, seeds, layout, devRate: layout.includes('10x') ? 11 : 2 };
}

/**
 * Generates the files of one (seed, task) pair. `source` is mutated for CoLA exactly as the reference
 * mutates its loaded lists, so call it seed after seed on the same source object.
 */
export function generateForSeed(
  source: KShotSource,
  seed: number,
  opts: KShotOptions,
): { files: KShotFile[]; shortfalls: Shortfall[] } {
  const { k, layout, devRate } = checkOptions({ ...opts, seeds: [seed] });
  const rng = new RandomState(seed);
  const task = source.task;
  const dir = `${layout}/${task}/${k}-${seed}`;
  const files: KShotFile[] = [];
  const shortfalls: Shortfall[] = [];
  const noteShortfalls = (buckets: { label: string; items: unknown[] }[]): void => {
    for (const b of buckets) {
      if (b.items.length < k * devRate) {
        const s = { task, seed, label: b.label, available: b.items.length, needed: k * devRate };
        if (opts.strict) {
          throw new LmkError(
            `${task} seed ${seed}: label ${JSON.stringify(b.label)} has ${s.available} training rows, k=${k} needs ${s.needed} (train ${k} + dev ${k * (devRate - 1)})`,
            'LMK_BAD_INPUT',
          );
        }
        shortfalls.push(s);
      }
    }
  };

  if (source.kind === 'glue') {
    const [trainHeader, trainLines] = splitHeader(task, source.splits[0][1]);
    rng.shuffle(trainLines);
    for (const [split, lines] of source.splits.slice(1)) {
      const name = split.replace('dev', 'test');
      const [testHeader, testLinesAll] = splitHeader(task, lines);
      let testLines = testLinesAll;
      if (layout.includes('1k-test') && testLines.length > 1000) {
        rng.seed(42);
        rng.shuffle(testLines);
        testLines = testLines.slice(0, 1000);
      }
      files.push({ path: `${dir}/${name}.tsv`, content: testHeader.join('') + testLines.join('') });
    }
    const trainFile = source.splits[0][0];
    const buckets = bucketize(
      trainLines,
      (l) => glueLabel(task, l, () => `${task}/${trainFile}.tsv (a line: ${JSON.stringify(l.slice(0, 60))})`),
      (l) => glueLabel(task, l, () => ''),
    );
    noteShortfalls(buckets);
    const head = trainHeader.join('');
    files.push({ path: `${dir}/train.tsv`, content: head + buckets.map((b) => b.items.slice(0, k).join('')).join('') });
    files.push({
      path: `${dir}/${task === 'MNLI' ? 'dev_matched' : 'dev'}.tsv`,
      content: head + buckets.map((b) => b.items.slice(k, k * devRate).join('')).join(''),
    });
    return { files, shortfalls };
  }

  const trainRows = valuesToList(source.train);
  rng.shuffle(trainRows);
  let test = source.test;
  if (layout.includes('1k-test') && test.rows.length > 1000) {
    const idx = new RandomState(42).choiceWithoutReplacement(test.rows.length, 1000);
    test = { dtypes: test.dtypes, rows: idx.map((i) => test.rows[i]), lines: idx.map((i) => test.lines[i]) };
  }
  files.push({ path: `${dir}/test.csv`, content: toCsvLikePandas(test) });
  if (source.train.dtypes.length === 0) throw new InputError(`${task}/train.csv`, 'no rows');
  const buckets = bucketize(
    trainRows,
    (r) => csvLabelKey(r[0]),
    (r) => csvLabelText(r[0]),
  );
  noteShortfalls(buckets);
  const pick = (a: number, b: number): Cell[][] => buckets.flatMap((bk) => bk.items.slice(a, b));
  files.push({ path: `${dir}/train.csv`, content: toCsvLikePandas(frameFromRows(pick(0, k))) });
  files.push({ path: `${dir}/dev.csv`, content: toCsvLikePandas(frameFromRows(pick(k, k * devRate))) });
  return { files, shortfalls };
}

export interface GenerateKShotOptions extends KShotOptions {
  dataDir: string;
  /** Task names (case-insensitive); default: the reference's default list. */
  tasks?: readonly string[];
  /** Called with every file as it is produced (e.g. to write it). */
  onFile?: (file: KShotFile) => void;
}

export interface GenerateKShotResult {
  files: number;
  shortfalls: Shortfall[];
}

/**
 * Runs the generator over seeds (outer loop) and tasks (inner loop), handing every file to `onFile`.
 * All tasks are loaded first, as the reference does, so a missing file fails before anything is produced.
 */
export function generateKShot(opts: GenerateKShotOptions): GenerateKShotResult {
  const { seeds } = checkOptions(opts);
  const names = (opts.tasks ?? DEFAULT_KSHOT_TASKS).map(kshotTaskName);
  const sources = names.map((t) => loadKShotSource(opts.dataDir, t));
  let count = 0;
  const shortfalls: Shortfall[] = [];
  for (const seed of seeds) {
    for (const src of sources) {
      const r = generateForSeed(src, seed, opts);
      for (const f of r.files) {
        opts.onFile?.(f);
        count++;
      }
      shortfalls.push(...r.shortfalls);
    }
  }
  return { files: count, shortfalls };
}

/** `generateKShot` writing every file atomically under `outDir` (`<outDir>/<layout>/<TASK>/<k>-<seed>/...`). */
export function writeKShot(opts: GenerateKShotOptions & { outDir: string }): GenerateKShotResult {
  return generateKShot({
    ...opts,
    onFile: (f) => {
      writeFileAtomic(join(opts.outDir, f.path), f.content);
      opts.onFile?.(f);
    },
  });
}
