import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readOriginal, readSplit, readTaskFile, resolveSplitFile, splitFileName, type Example } from '../lib/tasks/index.js';
import { InputError } from '../lib/errors.js';
import { kshotDataDir, needsData, originalDataDir } from './helpers/fixtures.js';

const original = originalDataDir;
const kshot = kshotDataDir;

function labelCounts(xs: Example[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const x of xs) c[x.label] = (c[x.label] ?? 0) + 1;
  return c;
}

needsData.describe('readOriginal (LM-BFF original layout)', () => {
  it('SST-2: GLUE tsv with header, label from column 1', () => {
    const d = readOriginal(original, 'sst-2');
    expect(d.train).toHaveLength(67349);
    expect(d.dev).toHaveLength(872);
    expect(labelCounts(d.train)).toEqual({ '0': 29780, '1': 37569 });
    expect(d.train[0]).toEqual({ texts: ['hide new secretions from the parental units '], label: '0', labelIndex: 0 });
  });

  it('MRPC: BOM header skipped, texts from columns 3 and 4, label from column 0', () => {
    const d = readOriginal(original, 'MRPC');
    expect(d.train).toHaveLength(3668);
    expect(labelCounts(d.dev)).toEqual({ '0': 129, '1': 279 });
    expect(d.train[0].texts[0]).toMatch(/^Amrozi accused his brother/);
    expect(d.train[0].texts).toHaveLength(2);
  });

  it('MNLI has dev_matched and dev_mismatched; label index follows contradiction/entailment/neutral', () => {
    const d = readOriginal(original, 'MNLI');
    expect(Object.keys(d).sort()).toEqual(['dev_matched', 'dev_mismatched', 'train']);
    expect(labelCounts(d.dev_matched)).toEqual({ contradiction: 349, entailment: 333, neutral: 318 });
    const e = d.dev_mismatched.find((x) => x.label === 'neutral')!;
    expect(e.labelIndex).toBe(2);
  });

  it('RTE and QNLI map not_entailment to index 1; SNLI and QQP read', () => {
    const rte = readOriginal(original, 'RTE');
    expect(labelCounts(rte.train)).toEqual({ entailment: 1249, not_entailment: 1241 });
    expect(rte.train.find((x) => x.label === 'not_entailment')!.labelIndex).toBe(1);
    expect(labelCounts(readOriginal(original, 'SNLI').dev)).toEqual({ contradiction: 341, entailment: 347, neutral: 312 });
    expect(labelCounts(readOriginal(original, 'QQP').dev)).toEqual({ '0': 617, '1': 383 });
    expect(readOriginal(original, 'QNLI').dev).toHaveLength(5463);
  });

  it('csv tasks: label column 0, text column 1; trec labels 0..5; empty text becomes ""', () => {
    const trec = readOriginal(original, 'trec');
    expect(labelCounts(trec.train)).toEqual({ '0': 1162, '1': 1250, '2': 86, '3': 1223, '4': 835, '5': 896 });
    const mpqa = readOriginal(original, 'mpqa');
    expect(mpqa.train).toHaveLength(8606);
    // Line 5415 of mpqa/train.csv is `0,` (pandas reads NaN).
    expect(mpqa.train[5414]).toEqual({ texts: [''], label: '0', labelIndex: 0 });
    expect(labelCounts(readOriginal(original, 'cr').test)).toEqual({ '0': 250, '1': 250 });
  });

  it('ag_news: labels 1..4 at indices 0..3, the description (column 2) only', () => {
    const d = readOriginal(original, 'ag_news');
    expect(d.test).toHaveLength(7600);
    expect(d.test[0].label).toBe('3');
    expect(d.test[0].labelIndex).toBe(2);
    expect(d.test[0].texts).toEqual([
      "Unions representing workers at Turner   Newall say they are 'disappointed' after talks with stricken parent firm Federal Mogul.",
    ]);
  });
});

describe('readSplit (k-shot layout)', () => {
  needsData.it('reads train/dev of a split directory and falls back to the task-level test file', () => {
    const dir = path.join(kshot, 'trec', '64-13');
    expect(readSplit(dir, 'trec', 'train')).toHaveLength(384);
    expect(readSplit(dir, 'trec', 'dev')).toHaveLength(342);
    expect(resolveSplitFile(dir, 'trec', 'test')).toBe(path.join(kshot, 'trec', 'test.csv'));
    expect(readSplit(dir, 'trec', 'test')).toHaveLength(500);
  });

  needsData.it('MNLI: dev_matched.tsv, test_matched.tsv, test_mismatched.tsv', () => {
    const dir = path.join(kshot, 'MNLI', '16-42');
    expect(splitFileName('MNLI', 'dev')).toBe('dev_matched.tsv');
    expect(readSplit(dir, 'MNLI', 'dev')).toHaveLength(48);
    expect(readSplit(dir, 'MNLI', 'test')).toHaveLength(1000);
    expect(readSplit(dir, 'MNLI', 'test_mismatched')).toHaveLength(1000);
    expect(() => splitFileName('RTE', 'test_mismatched')).toThrow("split 'test_mismatched' exists only for MNLI");
  });

  it('prefers a test file inside the split directory over the parent one', () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'lmk-split-'));
    try {
      const dir = path.join(tmp, 'mr', '16-1');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(tmp, 'mr', 'test.csv'), '0,parent\n');
      writeFileSync(path.join(dir, 'test.csv'), '1,own\n1,own2\n');
      expect(readSplit(dir, 'mr', 'test').map((x) => x.texts[0])).toEqual(['own', 'own2']);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('reader edge cases and errors', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'lmk-read-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const file = (name: string, content: string): string => {
    const p = path.join(tmp, name);
    writeFileSync(p, content);
    return p;
  };

  it('QQP rows with too few columns are skipped, as QqpProcessor does', () => {
    const p = file(
      'qqp.tsv',
      'id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t1\t2\tA?\tB?\t1\n2\t3\t4\tbroken row\n3\t5\t6\tC?\tD?\t0\n',
    );
    expect(readTaskFile(p, 'QQP')).toEqual([
      { texts: ['A?', 'B?'], label: '1', labelIndex: 1 },
      { texts: ['C?', 'D?'], label: '0', labelIndex: 0 },
    ]);
  });

  it('CoLA has no header: the first line is an example', () => {
    const p = file('cola.tsv', 'gj04\t1\t\tThe sailors rode the breeze clear of the rocks.\ngj04\t0\t*\tThe more books.\n');
    const xs = readTaskFile(p, 'CoLA');
    expect(xs.map((x) => x.labelIndex)).toEqual([1, 0]);
    expect(xs[1].texts).toEqual(['The more books.']);
  });

  it('csv: NA strings and empty quoted fields read as "" text; multi-line quoted text is kept', () => {
    const p = file('mr.csv', '0,NA\n1,""\n0,"two\nlines"\n');
    expect(readTaskFile(p, 'mr').map((x) => x.texts[0])).toEqual(['', '', 'two\nlines']);
  });

  it('missing file -> InputError naming the file', () => {
    const p = path.join(tmp, 'absent', 'train.tsv');
    expect(() => readTaskFile(p, 'RTE')).toThrow(InputError);
    expect(() => readTaskFile(p, 'RTE')).toThrow(`${p}: RTE data file not found`);
    expect(() => readOriginal(path.join(tmp, 'absent'), 'cr')).toThrow(
      `${path.join(tmp, 'absent', 'cr', 'train.csv')}: cr data file not found`,
    );
  });

  it('unknown label -> InputError with file and line', () => {
    const p = file('rte.tsv', 'index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\tcontradiction\n');
    expect(() => readTaskFile(p, 'RTE')).toThrow(
      `${p}:3: unknown label "contradiction" for task RTE (expected one of "entailment", "not_entailment")`,
    );
    const c = file('sst5.csv', '4,great\n7,what\n');
    expect(() => readTaskFile(c, 'sst-5')).toThrow(`${c}:2: unknown label "7" for task sst-5`);
  });

  it('missing column -> InputError with file and line (tsv rows, csv files)', () => {
    const p = file('mnli.tsv', `${Array.from({ length: 12 }, (_, i) => `h${i}`).join('\t')}\n0\t1\t2\tgenre\tp\th\n`);
    expect(() => readTaskFile(p, 'MNLI')).toThrow(`${p}:2: expected at least 10 tab-separated columns for task MNLI, found 6`);
    const e = file('sst2.tsv', 'sentence\tlabel\n\nok\t1\n');
    expect(() => readTaskFile(e, 'SST-2')).toThrow(`${e}:2: expected at least 2 tab-separated columns for task SST-2, found 0`);
    const c = file('agnews.csv', '"1","title only"\n');
    expect(() => readTaskFile(c, 'ag_news')).toThrow(`${c}:1: expected at least 3 comma-separated columns for task ag_news`);
  });

  it('malformed csv and missing labels -> InputError with file and line', () => {
    const q = file('bad.csv', '0,ok\n1,"never closed\n');
    expect(() => readTaskFile(q, 'subj')).toThrow(/bad\.csv:\d+: malformed csv: Quote Not Closed/);
    const l = file('nolabel.csv', '0,a\n,b\n');
    expect(() => readTaskFile(l, 'subj')).toThrow(`${l}:2: missing label in column 0`);
    const w = file('wide.csv', '0,a\n1,b,c\n');
    expect(() => readTaskFile(w, 'subj')).toThrow(`${w}:2: expected 2 fields (as in the first row), saw 3`);
  });

  it('invalid UTF-8 -> InputError', () => {
    const p = path.join(tmp, 'latin1.csv');
    writeFileSync(p, Buffer.from([0x30, 0x2c, 0xf0, 0x0a]));
    expect(() => readTaskFile(p, 'trec')).toThrow(`${p}: trec data file is not valid UTF-8`);
  });

  it('unknown task names are rejected', () => {
    expect(() => readOriginal(original, 'imdb')).toThrow("unknown task 'imdb'");
  });
});
