// The k-shot generator (lib/data/kshot.ts) on small in-memory sources, without the task data (docs/mutation.md):
// every file of a (seed, task) pair against the reference's steps written out here (np.random.seed(seed);
// shuffle; bucket by get_label in order of first appearance; train = first k, dev = next k or 10k), with the
// shuffles drawn from RandomState (numpy's legacy MT19937, checked against numpy in pyformats.test.ts).
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RandomState } from '../lib/pyformats/mt19937.js';
import { readCsvLikePandas, type Cell } from '../lib/pyformats/pandas-csv.js';
import {
  DEFAULT_KSHOT_SEEDS,
  DEFAULT_KSHOT_TASKS,
  KSHOT_LAYOUTS,
  KSHOT_MODES,
  KSHOT_TASK_NAMES,
  kshotTaskName,
  generateForSeed,
  generateKShot,
  writeKShot,
  loadKShotSource,
  type KShotSource,
  type KShotFile,
} from '../lib/data/kshot.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'lmk-kshot-syn-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const byPath = (files: KShotFile[]) => new Map(files.map((f) => [f.path, f.content]));

// The reference's steps for a GLUE task: header split, shuffle, buckets by label, first k / next (rate-1)·k.
function referenceGlue(lines: string[], header: boolean, seed: number, k: number, rate: number, label: (l: string) => string) {
  const head = header ? lines[0] : '';
  const body = (header ? lines.slice(1) : lines).slice();
  new RandomState(seed).shuffle(body);
  const order: string[] = [];
  const buckets = new Map<string, string[]>();
  for (const l of body) {
    const b = label(l);
    if (!buckets.has(b)) {
      buckets.set(b, []);
      order.push(b);
    }
    buckets.get(b)!.push(l);
  }
  const train = head + order.map((b) => buckets.get(b)!.slice(0, k).join('')).join('');
  const dev =
    head +
    order
      .map((b) =>
        buckets
          .get(b)!
          .slice(k, rate * k)
          .join(''),
      )
      .join('');
  return { train, dev, order, sizes: order.map((b) => buckets.get(b)!.length) };
}

const sst2Lines = () => [
  'sentence\tlabel\n',
  ...Array.from({ length: 14 }, (_, i) => `text number ${i}\t${[0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0, 1][i]}\n`),
];
const glue = (task: string, splits: [string, string[]][]): KShotSource => ({ kind: 'glue', task, splits });

describe('k-shot constants', () => {
  it("the reference's default seeds (in order), tasks and layouts", () => {
    expect(DEFAULT_KSHOT_SEEDS).toEqual([100, 13, 21, 42, 87]);
    expect(DEFAULT_KSHOT_TASKS).toEqual([
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
    ]);
    expect(KSHOT_LAYOUTS).toEqual(['k-shot', 'k-shot-10x', 'k-shot-1k-test']);
    expect(KSHOT_MODES).toBe(KSHOT_LAYOUTS);
    expect([...KSHOT_TASK_NAMES].sort()).toEqual(
      ['MNLI', 'MRPC', 'QNLI', 'QQP', 'RTE', 'SNLI', 'SST-2', 'STS-B', 'WNLI', 'CoLA']
        .concat(['sst-5', 'mr', 'cr', 'mpqa', 'subj', 'trec', 'ag_news', 'brown-genre'])
        .sort(),
    );
  });

  it('task names are matched case-insensitively; an unknown one lists the known ones', () => {
    expect(kshotTaskName('sst-2')).toBe('SST-2');
    expect(kshotTaskName('COLA')).toBe('CoLA');
    expect(kshotTaskName('AG_NEWS')).toBe('ag_news');
    expect(() => kshotTaskName('sst-3')).toThrow(`unknown task 'sst-3' (known: ${KSHOT_TASK_NAMES.join(', ')})`);
  });
});

describe('generateForSeed: GLUE tasks', () => {
  it('SST-2, k = 3, seed 13: test = dev with its header, train/dev bucket after bucket', () => {
    const lines = sst2Lines();
    const dev = ['sentence\tlabel\n', 'a\t0\n', 'b\t1\n'];
    const r = generateForSeed(
      glue('SST-2', [
        ['train', lines.slice()],
        ['dev', dev],
      ]),
      13,
      { k: 3 },
    );
    const want = referenceGlue(lines, true, 13, 3, 2, (l) => l.trim().split('\t')[1]);
    expect(r.files.map((f) => f.path)).toEqual([
      'k-shot/SST-2/3-13/test.tsv',
      'k-shot/SST-2/3-13/train.tsv',
      'k-shot/SST-2/3-13/dev.tsv',
    ]);
    const m = byPath(r.files);
    expect(m.get('k-shot/SST-2/3-13/test.tsv')).toBe(dev.join(''));
    expect(m.get('k-shot/SST-2/3-13/train.tsv')).toBe(want.train);
    expect(m.get('k-shot/SST-2/3-13/dev.tsv')).toBe(want.dev);
    expect(want.train.split('\n')).toHaveLength(1 + 6 + 1);
    expect(r.shortfalls).toEqual([]);
  });

  it('k-shot-10x: dev takes the next 10k of each bucket; a short bucket is a reported shortfall', () => {
    const lines = sst2Lines();
    const r = generateForSeed(
      glue('SST-2', [
        ['train', lines.slice()],
        ['dev', ['h\n']],
      ]),
      21,
      { k: 1, layout: 'k-shot-10x' },
    );
    const want = referenceGlue(lines, true, 21, 1, 11, (l) => l.trim().split('\t')[1]);
    const m = byPath(r.files);
    expect(m.get('k-shot-10x/SST-2/1-21/train.tsv')).toBe(want.train);
    expect(m.get('k-shot-10x/SST-2/1-21/dev.tsv')).toBe(want.dev);
    // 6 zeros and 8 ones, each < 11 = k + 10k
    expect(r.shortfalls).toEqual(
      want.order.map((label, i) => ({ task: 'SST-2', seed: 21, label, available: want.sizes[i], needed: 11 })),
    );
    // exactly enough: no shortfall (7 of each with k = 3 would need 6 ... the bucket of 6 zeros meets 2k = 6)
    expect(
      generateForSeed(
        glue('SST-2', [
          ['train', lines.slice()],
          ['dev', []],
        ]),
        21,
        { k: 3 },
      ).shortfalls,
    ).toEqual([]);
    const short = generateForSeed(
      glue('SST-2', [
        ['train', lines.slice()],
        ['dev', []],
      ]),
      21,
      { k: 4 },
    ).shortfalls;
    expect(short).toEqual([{ task: 'SST-2', seed: 21, label: '0', available: 6, needed: 8 }]);
    expect(() =>
      generateForSeed(
        glue('SST-2', [
          ['train', lines.slice()],
          ['dev', []],
        ]),
        21,
        { k: 4, strict: true },
      ),
    ).toThrow('SST-2 seed 21: label "0" has 6 training rows, k=4 needs 8 (train 4 + dev 4)');
    expect(() =>
      generateForSeed(
        glue('SST-2', [
          ['train', lines.slice()],
          ['dev', []],
        ]),
        21,
        { k: 1, layout: 'k-shot-10x', strict: true },
      ),
    ).toThrow(/has \d+ training rows, k=1 needs 11 \(train 1 \+ dev 10\)$/);
  });

  it('MNLI: dev_matched / dev_mismatched become test_matched / test_mismatched, its dev is dev_matched', () => {
    const head = 'index\ts1\ts2\tgold_label\n';
    const lines = [
      head,
      ...Array.from({ length: 9 }, (_, i) => `${i}\tp${i}\th${i}\t${['entailment', 'neutral', 'contradiction'][i % 3]}\n`),
    ];
    const src = glue('MNLI', [
      ['train', lines.slice()],
      ['dev_matched', [head, '0\ta\tb\tneutral\n']],
      ['dev_mismatched', [head, '1\tc\td\tentailment\n']],
    ]);
    const m = byPath(generateForSeed(src, 42, { k: 1 }).files);
    expect([...m.keys()]).toEqual([
      'k-shot/MNLI/1-42/test_matched.tsv',
      'k-shot/MNLI/1-42/test_mismatched.tsv',
      'k-shot/MNLI/1-42/train.tsv',
      'k-shot/MNLI/1-42/dev_matched.tsv',
    ]);
    expect(m.get('k-shot/MNLI/1-42/test_mismatched.tsv')).toBe(head + '1\tc\td\tentailment\n');
    const want = referenceGlue(lines, true, 42, 1, 2, (l) => l.trim().split('\t')[3]);
    expect(m.get('k-shot/MNLI/1-42/train.tsv')).toBe(want.train);
    expect(m.get('k-shot/MNLI/1-42/dev_matched.tsv')).toBe(want.dev);
  });

  it('MRPC buckets by column 0, CoLA (no header) by column 1, STS-B by score < 2.5 (2.5 itself is 1)', () => {
    const mrpc = [
      'Quality\t#1\t#2\ts1\ts2\n',
      ...Array.from({ length: 8 }, (_, i) => `${i % 3 === 0 ? 0 : 1}\t${i}\t${i + 10}\ta\tb\n`),
    ];
    const m1 = byPath(
      generateForSeed(
        glue('MRPC', [
          ['train', mrpc.slice()],
          ['dev', []],
        ]),
        87,
        { k: 2 },
      ).files,
    );
    expect(m1.get('k-shot/MRPC/2-87/train.tsv')).toBe(referenceGlue(mrpc, true, 87, 2, 2, (l) => l.split('\t')[0]).train);

    const cola = Array.from({ length: 10 }, (_, i) => `src\t${i % 4 === 0 ? 0 : 1}\t\tsentence ${i}\n`);
    const m2 = byPath(
      generateForSeed(
        glue('CoLA', [
          ['train', cola.slice()],
          ['dev', cola.slice(0, 3)],
        ]),
        100,
        { k: 2 },
      ).files,
    );
    const w2 = referenceGlue(cola, false, 100, 2, 2, (l) => l.split('\t')[1]);
    expect(m2.get('k-shot/CoLA/2-100/train.tsv')).toBe(w2.train);
    expect(m2.get('k-shot/CoLA/2-100/dev.tsv')).toBe(w2.dev);
    expect(m2.get('k-shot/CoLA/2-100/test.tsv')).toBe(cola.slice(0, 3).join(''));
    expect(() =>
      generateForSeed(
        glue('CoLA', [
          ['train', ['just one column\n']],
          ['dev', []],
        ]),
        1,
        { k: 1 },
      ),
    ).toThrow('CoLA/train.tsv (a line: "just one column\\n"): CoLA line has no label column (column 1)');
    // two columns are enough; a long line is named by its first 60 characters
    const two = generateForSeed(
      glue('CoLA', [
        ['train', ['src\t1\n']],
        ['dev', []],
      ]),
      1,
      { k: 1 },
    );
    expect(byPath(two.files).get('k-shot/CoLA/1-1/train.tsv')).toBe('src\t1\n');
    const long = 'x'.repeat(70) + '\n';
    expect(() =>
      generateForSeed(
        glue('CoLA', [
          ['train', [long]],
          ['dev', []],
        ]),
        1,
        { k: 1 },
      ),
    ).toThrow(`CoLA/train.tsv (a line: ${JSON.stringify('x'.repeat(60))}): CoLA line has no label column (column 1)`);

    const scores = ['0', '2.4999', '2.5', '5.000', '1.2', '3', ' 4.0 ', '2.50'];
    const stsb = ['h\n', ...scores.map((s, i) => `${i}\ta\tb\t${s}\n`)];
    const m3 = byPath(
      generateForSeed(
        glue('STS-B', [
          ['train', stsb.slice()],
          ['dev', []],
        ]),
        13,
        { k: 4 },
      ).files,
    );
    const w3 = referenceGlue(stsb, true, 13, 4, 2, (l) => (Number(l.trim().split('\t').at(-1)) < 2.5 ? '0' : '1'));
    expect(w3.sizes.slice().sort()).toEqual([3, 5]);
    expect(m3.get('k-shot/STS-B/4-13/train.tsv')).toBe(w3.train);
    // the buckets are named '0' (score < 2.5: 0, 2.4999, 1.2) and '1' (the five others)
    const short = generateForSeed(
      glue('STS-B', [
        ['train', stsb.slice()],
        ['dev', []],
      ]),
      13,
      { k: 4 },
    ).shortfalls;
    expect(short.map((f) => [f.label, f.available]).sort()).toEqual([
      ['0', 3],
      ['1', 5],
    ]);
    // float() refuses these (Python's float('') too: a blank line)
    for (const [line, bad] of [
      ['0\ta\tx\n', 'x'],
      ['0\ta\t1x\n', '1x'],
      ['0\ta\t-\n', '-'],
      ['\n', ''],
    ])
      expect(() =>
        generateForSeed(
          glue('STS-B', [
            ['train', ['h\n', line]],
            ['dev', []],
          ]),
          1,
          { k: 1 },
        ),
      ).toThrow(`STS-B/train.tsv (a line: ${JSON.stringify(line)}): STS-B score ${JSON.stringify(bad)} is not a number`);
  });

  it('RTE and QNLI take the last column; WNLI too', () => {
    for (const task of ['RTE', 'QNLI', 'WNLI']) {
      const lines = ['i\ta\tb\tlabel\n', ...Array.from({ length: 6 }, (_, i) => `${i}\t${i % 2}\tx\t${i < 2 ? 'yes' : 'no'}\n`)];
      const m = byPath(
        generateForSeed(
          glue(task, [
            ['train', lines.slice()],
            ['dev', []],
          ]),
          5,
          { k: 2 },
        ).files,
      );
      expect(m.get(`k-shot/${task}/2-5/train.tsv`)).toBe(
        referenceGlue(lines, true, 5, 2, 2, (l) => l.trim().split('\t')[3]).train,
      );
    }
  });

  it('k-shot-1k-test: a test file of 1001 rows is shuffled with seed 42 and cut to 1000; 1000 rows stay as they are', () => {
    const head = 'sentence\tlabel\n';
    const big = Array.from({ length: 1001 }, (_, i) => `t${i}\t${i % 2}\n`);
    const src = glue('SST-2', [
      ['train', sst2Lines()],
      ['dev', [head, ...big]],
    ]);
    const m = byPath(generateForSeed(src, 13, { k: 2, layout: 'k-shot-1k-test' }).files);
    const shuffled = big.slice();
    new RandomState(42).shuffle(shuffled);
    expect(m.get('k-shot-1k-test/SST-2/2-13/test.tsv')).toBe(head + shuffled.slice(0, 1000).join(''));
    // the train split is drawn before the test shuffle re-seeds the generator
    expect(m.get('k-shot-1k-test/SST-2/2-13/train.tsv')).toBe(
      referenceGlue(sst2Lines(), true, 13, 2, 2, (l) => l.trim().split('\t')[1]).train,
    );
    const exact = Array.from({ length: 1000 }, (_, i) => `t${i}\t${i % 2}\n`);
    const m2 = byPath(
      generateForSeed(
        glue('SST-2', [
          ['train', sst2Lines()],
          ['dev', [head, ...exact]],
        ]),
        13,
        { k: 2, layout: 'k-shot-1k-test' },
      ).files,
    );
    expect(m2.get('k-shot-1k-test/SST-2/2-13/test.tsv')).toBe(head + exact.join(''));
    // the plain layout never cuts
    const m3 = byPath(
      generateForSeed(
        glue('SST-2', [
          ['train', sst2Lines()],
          ['dev', [head, ...big]],
        ]),
        13,
        { k: 2 },
      ).files,
    );
    expect(m3.get('k-shot/SST-2/2-13/test.tsv')).toBe(head + big.join(''));
  });
});

describe('generateForSeed: csv tasks', () => {
  const csv = (train: string, test: string): KShotSource => ({
    kind: 'csv',
    task: 'mr',
    train: readCsvLikePandas(train, 'train.csv'),
    test: readCsvLikePandas(test, 'test.csv'),
  });

  it('mr, k = 2, seed 42: rows shuffled, bucketed by column 0, written back by pandas', () => {
    const rows: [number, string][] = Array.from({ length: 10 }, (_, i) => [i % 3 === 0 ? 1 : 0, `review, "${i}"`]);
    const text = rows.map(([l, s]) => `${l},"${s.replace(/"/g, '""')}"`).join('\n') + '\n';
    const r = generateForSeed(csv(text, '0,a\n1,b\n'), 42, { k: 2 });
    const m = byPath(r.files);
    expect([...m.keys()]).toEqual(['k-shot/mr/2-42/test.csv', 'k-shot/mr/2-42/train.csv', 'k-shot/mr/2-42/dev.csv']);
    expect(m.get('k-shot/mr/2-42/test.csv')).toBe('0,a\n1,b\n');
    const order = rows.slice();
    new RandomState(42).shuffle(order);
    const labels = [...new Set(order.map((x) => x[0]))];
    const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
    const pick = (a: number, b: number) =>
      labels
        .flatMap((l) => order.filter((x) => x[0] === l).slice(a, b))
        .map(([l, s]) => `${l},${q(s)}\n`)
        .join('');
    expect(m.get('k-shot/mr/2-42/train.csv')).toBe(pick(0, 2));
    expect(m.get('k-shot/mr/2-42/dev.csv')).toBe(pick(2, 4));
  });

  it('labels 1 and 1.0 share a bucket (a float column), "1" is its own; missing labels bucket together as NaN', () => {
    // a float label column: 1.0 and 1 are one key, written as 1.0
    const r = generateForSeed(csv('1,a\n1.0,b\n0.5,c\n1,d\n', '0,x\n'), 7, { k: 1, layout: 'k-shot-10x' });
    expect(r.shortfalls.map((s) => [s.label, s.available])).toEqual(
      expect.arrayContaining([
        ['1.0', 3],
        ['0.5', 1],
      ]),
    );
    expect(r.shortfalls).toHaveLength(2);
    // strings: 'x' and '1' are labels of their own; NaN (a missing cell) is the label NaN
    const s = generateForSeed(csv('x,a\n1,b\n,c\nx,d\n,e\n', '0,x\n'), 7, { k: 1, layout: 'k-shot-10x' });
    expect(s.shortfalls.map((f) => [f.label, f.available]).sort()).toEqual([
      ['1', 1],
      ['NaN', 2],
      ['x', 2],
    ]);
    // an int64 column: labels are bigint keys, printed as integers
    const t = generateForSeed(csv('2,a\n3,b\n2,c\n', '0,x\n'), 7, { k: 2 });
    expect(t.shortfalls.map((f) => [f.label, f.available, f.needed]).sort()).toEqual([
      ['2', 2, 4],
      ['3', 1, 4],
    ]);
  });

  it('df.values.tolist(): an all-numeric frame becomes floats (1 -> 1.0), with a string column ints stay ints', () => {
    const m = byPath(generateForSeed(csv('1,2.5\n', '0,x\n'), 3, { k: 1 }).files);
    expect(m.get('k-shot/mr/1-3/train.csv')).toBe('1.0,2.5\n');
    const n = byPath(generateForSeed(csv('1,a\n', '0,x\n'), 3, { k: 1 }).files);
    expect(n.get('k-shot/mr/1-3/train.csv')).toBe('1,a\n');
    const o = byPath(generateForSeed(csv('1,2\n', '0,x\n'), 3, { k: 1 }).files);
    expect(o.get('k-shot/mr/1-3/train.csv')).toBe('1,2\n');
  });

  it('k-shot-1k-test: 1001 test rows become RandomState(42).permutation(1001)[:1000]; an empty train file fails', () => {
    const test = Array.from({ length: 1001 }, (_, i) => `${i % 2},row ${i}\n`).join('');
    const m = byPath(generateForSeed(csv('0,a\n1,b\n', test), 3, { k: 1, layout: 'k-shot-1k-test' }).files);
    const idx = new RandomState(42).permutation(1001).slice(0, 1000);
    expect(m.get('k-shot-1k-test/mr/1-3/test.csv')).toBe(idx.map((i) => `${i % 2},row ${i}\n`).join(''));
    expect(() => generateForSeed(csv('', '0,x\n'), 3, { k: 1 })).toThrow('mr/train.csv: no rows');
    // the plain layout keeps all 1001; the 1k-test layout keeps exactly 1000 rows as they are
    expect(byPath(generateForSeed(csv('0,a\n1,b\n', test), 3, { k: 1 }).files).get('k-shot/mr/1-3/test.csv')).toBe(test);
    const t1000 = Array.from({ length: 1000 }, (_, i) => `${i % 2},row ${i}\n`).join('');
    const m2 = byPath(generateForSeed(csv('0,a\n1,b\n', t1000), 3, { k: 1, layout: 'k-shot-1k-test' }).files);
    expect(m2.get('k-shot-1k-test/mr/1-3/test.csv')).toBe(t1000);
  });
});

describe('options', () => {
  const src = () =>
    glue('SST-2', [
      ['train', sst2Lines()],
      ['dev', []],
    ]);
  it('every option error is LMK_BAD_OPTION, a strict shortfall LMK_BAD_INPUT', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return 'no error';
    };
    expect(code(() => generateForSeed(src(), 1, { k: 0 }))).toBe('LMK_BAD_OPTION');
    expect(code(() => generateForSeed(src(), -1, { k: 1 }))).toBe('LMK_BAD_OPTION');
    expect(code(() => generateForSeed(src(), 1, { k: 1, layout: 'x' as never }))).toBe('LMK_BAD_OPTION');
    expect(code(() => kshotTaskName('nope'))).toBe('LMK_BAD_OPTION');
    expect(code(() => generateForSeed(src(), 1, { k: 8, strict: true }))).toBe('LMK_BAD_INPUT');
  });

  it('k: a positive integer', () => {
    for (const k of [0, -1, 1.5, NaN])
      expect(() => generateForSeed(src(), 1, { k })).toThrow(`k must be a positive integer, received ${k}`);
    expect(generateForSeed(src(), 1, { k: 1 }).files).toHaveLength(3);
  });
  it('seeds: integers in [0, 2**32 - 1]', () => {
    expect(generateForSeed(src(), 0, { k: 1 }).files[1].path).toBe('k-shot/SST-2/1-0/train.tsv');
    expect(generateForSeed(src(), 0xffffffff, { k: 1 }).files[1].path).toBe('k-shot/SST-2/1-4294967295/train.tsv');
    for (const s of [-1, 2 ** 32, 0.5])
      expect(() => generateForSeed(src(), s, { k: 1 })).toThrow(`seed must be an integer in [0, 2**32 - 1], received ${s}`);
    expect(() => generateKShot({ dataDir: tmp, tasks: [], k: 1, seeds: [1, -2] })).toThrow('received -2');
  });
  it('layout (or its former name mode) is one of the three; the message names the option used', () => {
    expect(generateForSeed(src(), 1, { k: 1, mode: 'k-shot-10x' }).files[0].path).toMatch(/^k-shot-10x\//);
    expect(generateForSeed(src(), 1, { k: 1, layout: 'k-shot', mode: 'k-shot-10x' }).files[0].path).toMatch(/^k-shot\//);
    expect(() => generateForSeed(src(), 1, { k: 1, layout: 'k-shot-5x' as never })).toThrow(
      "layout must be one of k-shot, k-shot-10x, k-shot-1k-test, received 'k-shot-5x'",
    );
    expect(() => generateForSeed(src(), 1, { k: 1, mode: 'big' as never })).toThrow(
      "mode must be one of k-shot, k-shot-10x, k-shot-1k-test, received 'big'",
    );
    expect(() => generateForSeed(src(), 1, { k: 1, layout: 'bad' as never, mode: 'k-shot' })).toThrow(/^layout must be/);
  });
});

describe('generateKShot over files', () => {
  it('seeds outer, tasks inner; every file handed over; MNLI reads its two dev files', () => {
    const dir = path.join(tmp, 'orig');
    const write = (task: string, file: string, text: string) => {
      mkdirSync(path.join(dir, task), { recursive: true });
      writeFileSync(path.join(dir, task, file), text);
    };
    write('SST-2', 'train.tsv', sst2Lines().join(''));
    write('SST-2', 'dev.tsv', 'sentence\tlabel\nz\t1\n');
    write('mr', 'train.csv', '0,a\n1,b\n0,c\n1,d\n');
    write('mr', 'test.csv', '1,t\n');
    write('MNLI', 'train.tsv', 'i\tgold\n0\tneutral\n1\tentailment\n');
    write('MNLI', 'dev_matched.tsv', 'i\tgold\n');
    write('MNLI', 'dev_mismatched.tsv', 'i\tgold\n');
    expect(loadKShotSource(dir, 'mnli')).toEqual({
      kind: 'glue',
      task: 'MNLI',
      splits: [
        ['train', ['i\tgold\n', '0\tneutral\n', '1\tentailment\n']],
        ['dev_matched', ['i\tgold\n']],
        ['dev_mismatched', ['i\tgold\n']],
      ],
    });
    const seen: string[] = [];
    const r = generateKShot({ dataDir: dir, tasks: ['sst-2', 'MR'], k: 1, seeds: [13, 42], onFile: (f) => seen.push(f.path) });
    expect(r.files).toBe(12);
    expect(seen).toEqual([
      'k-shot/SST-2/1-13/test.tsv',
      'k-shot/SST-2/1-13/train.tsv',
      'k-shot/SST-2/1-13/dev.tsv',
      'k-shot/mr/1-13/test.csv',
      'k-shot/mr/1-13/train.csv',
      'k-shot/mr/1-13/dev.csv',
      'k-shot/SST-2/1-42/test.tsv',
      'k-shot/SST-2/1-42/train.tsv',
      'k-shot/SST-2/1-42/dev.tsv',
      'k-shot/mr/1-42/test.csv',
      'k-shot/mr/1-42/train.csv',
      'k-shot/mr/1-42/dev.csv',
    ]);
    expect(r.shortfalls).toEqual([]);
    // without seeds: the default five, in order; shortfalls gathered over seeds
    const d = generateKShot({ dataDir: dir, tasks: ['mr'], k: 2 });
    expect(d.files).toBe(15);
    expect(d.shortfalls.map((s) => s.seed)).toEqual([100, 100, 13, 13, 21, 21, 42, 42, 87, 87]);
    // a missing task file fails before any file is produced
    const none: string[] = [];
    expect(() =>
      generateKShot({ dataDir: dir, tasks: ['mr', 'trec'], k: 1, seeds: [1], onFile: (f) => none.push(f.path) }),
    ).toThrow(`${path.join(dir, 'trec', 'train.csv')}: trec train file not found`);
    expect(none).toEqual([]);
    // writeKShot: the same files under outDir, each also handed to onFile
    const out = path.join(tmp, 'out');
    const written: string[] = [];
    const w = writeKShot({ dataDir: dir, tasks: ['mr'], k: 1, seeds: [13], outDir: out, onFile: (f) => written.push(f.path) });
    expect(w.files).toBe(3);
    expect(written).toEqual(['k-shot/mr/1-13/test.csv', 'k-shot/mr/1-13/train.csv', 'k-shot/mr/1-13/dev.csv']);
    expect(readFileSync(path.join(out, 'k-shot/mr/1-13/test.csv'), 'utf8')).toBe('1,t\n');
    // a malformed csv is named by its path
    write('cr', 'train.csv', '0,a\n1,b,c\n');
    write('cr', 'test.csv', '0,a\n');
    expect(() => loadKShotSource(dir, 'cr')).toThrow(
      `${path.join(dir, 'cr', 'train.csv')}:2: expected 2 fields (as in the first row), saw 3`,
    );
    const c: Cell[] = readCsvLikePandas('1\n', 'x').rows[0];
    expect(c).toEqual([1n]);
  });
});
