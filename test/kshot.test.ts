import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RandomState } from '../lib/pyformats/mt19937.js';
import { readCsvLikePandas, toCsvLikePandas, frameFromRows, pyFloatRepr } from '../lib/pyformats/pandas-csv.js';
import { pyReadlines, pyStrip } from '../lib/pyformats/pytext.js';
import {
  generateKShot,
  writeKShot,
  loadKShotSource,
  generateForSeed,
  kshotTaskName,
  type KShotFile,
  type KShotMode,
} from '../lib/data/kshot.js';
import { run as runDataCli } from '../lib/cli/data.js';
import { dataRoot, needsData, originalDataDir } from './helpers/fixtures.js';

// the task data (LMK_DATA or ../shared/data): its original/ and the md5 of every paper split (MD5SUMS),
// read when a test first needs it (the tests that do are skipped without the data)
const original = originalDataDir;
let md5Table: Map<string, string> | undefined;
const md5s = {
  get: (p: string): string | undefined =>
    (md5Table ??= new Map(
      readFileSync(path.join(dataRoot, 'MD5SUMS'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const [h, p] = l.split(/\s+/);
          return [p, h] as const;
        }),
    )).get(p),
};
const md5 = (s: string | Buffer): string =>
  createHash('md5')
    .update(typeof s === 'string' ? Buffer.from(s, 'utf8') : s)
    .digest('hex');

/** The stored md5 for a generated file; k-shot-1k-test keeps each task's test file once, in the task directory. */
function expectedMd5(relPath: string): string | undefined {
  const direct = md5s.get(relPath);
  if (direct) return direct;
  const [mode, task, , name] = relPath.split('/');
  return name.startsWith('test') ? md5s.get(`${mode}/${task}/${name}`) : undefined;
}

function compare(
  tasks: string[],
  k: number,
  seeds: number[],
  mode: KShotMode = 'k-shot-1k-test',
  only?: (f: KShotFile) => boolean,
) {
  const bad: string[] = [];
  let matched = 0;
  let compared = 0;
  generateKShot({
    dataDir: original,
    tasks,
    k,
    seeds,
    mode,
    onFile: (f) => {
      if (only && !only(f)) return;
      const want = expectedMd5(f.path);
      if (!want) throw new Error(`no stored md5 for ${f.path}`);
      compared++;
      if (md5(f.content) === want) matched++;
      else bad.push(f.path);
    },
  });
  return { matched, compared, bad };
}

const COMPLETE = ['SST-2', 'sst-5', 'mr', 'cr', 'mpqa', 'subj', 'trec', 'RTE', 'MRPC'];
const SUBSET_POOLS = ['MNLI', 'SNLI', 'QNLI', 'QQP'];
const SEEDS = [100, 13, 21, 42, 87];

describe('RandomState (numpy legacy MT19937)', () => {
  it('init_genrand(5489) gives the reference MT19937 outputs (1st = 3499211612, 10000th = 4123659995)', () => {
    const r = new RandomState(5489);
    const first = r.nextUint32();
    let last = first;
    for (let i = 1; i < 10000; i++) last = r.nextUint32();
    expect(first).toBe(3499211612);
    expect(last).toBe(4123659995);
  });

  // Known values from numpy's own test-suite (numpy/random/tests/test_random.py, TestRandomDist, seed 1234567890).
  it('np.random.seed(1234567890); rand(3, 2) matches numpy test_rand', () => {
    const r = new RandomState(1234567890);
    const got = Array.from({ length: 6 }, () => r.randomSample());
    const want = [
      0.61879477158567997, 0.59162362775974664, 0.88868358904449662, 0.89165480011560816, 0.4575674820298663, 0.7781880808593471,
    ];
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 15));
  });

  it('shuffle matches numpy test_shuffle', () => {
    const r = new RandomState(1234567890);
    expect(r.shuffle([1, 2, 3, 4, 5, 6, 7, 8, 9, 0])).toEqual([0, 1, 9, 6, 2, 4, 5, 8, 7, 3]);
  });

  it('choice(4, 3, replace=False) matches numpy test_choice_uniform_noreplace', () => {
    const r = new RandomState(1234567890);
    expect(r.choiceWithoutReplacement(4, 3)).toEqual([0, 1, 3]);
  });

  it('seed() resets the stream; randomInterval stays within [0, max] and max=0 draws nothing', () => {
    const r = new RandomState(7);
    const a = [r.nextUint32(), r.nextUint32()];
    r.seed(7);
    expect(r.randomInterval(0)).toBe(0);
    expect([r.nextUint32(), r.nextUint32()]).toEqual(a);
    for (let i = 0; i < 1000; i++) expect(r.randomInterval(5)).toBeLessThanOrEqual(5);
  });

  it('rejects seeds outside [0, 2**32 - 1]', () => {
    expect(() => new RandomState(-1)).toThrow(/Seed must be between 0 and 2\*\*32 - 1/);
    expect(() => new RandomState(2 ** 32)).toThrow(/Seed must be between/);
    expect(() => new RandomState(1.5)).toThrow(/Seed must be between/);
  });
});

describe('pandas csv semantics', () => {
  it('infers int64 / float64 / object columns and treats NA strings and empty fields as NaN', () => {
    const f = readCsvLikePandas('1,a,1.5\n2,NA,\n3,"x, ""y""",2\n', 'mem.csv');
    expect(f.dtypes).toEqual(['int64', 'object', 'float64']);
    expect(f.rows[1][1]).toBeNaN();
    expect(f.rows[2][1]).toBe('x, "y"');
    expect(f.rows[2][2]).toBe(2);
    expect(toCsvLikePandas(f)).toBe('1,a,1.5\n2,,\n3,"x, ""y""",2.0\n');
  });

  it('keeps quotes inside unquoted fields, skips blank lines, numbers rows by source line', () => {
    const f = readCsvLikePandas('0,say "hi"\n\n1,"two\nlines"\n1,z\n', 'mem.csv');
    expect(f.rows.map((r) => r[1])).toEqual(['say "hi"', 'two\nlines', 'z']);
    expect(f.lines).toEqual([1, 3, 5]);
    expect(toCsvLikePandas(f)).toBe('0,"say ""hi"""\n1,"two\nlines"\n1,z\n');
  });

  it('pads short rows with NaN (int column becomes float64) and rejects long rows', () => {
    const f = readCsvLikePandas('a,1\nb\n', 'mem.csv');
    expect(f.dtypes).toEqual(['object', 'float64']);
    expect(toCsvLikePandas(f)).toBe('a,1.0\nb,\n');
    expect(() => readCsvLikePandas('a,1\nb,2,3\n', 'mem.csv')).toThrow(
      'mem.csv:2: expected 2 fields (as in the first row), saw 3',
    );
  });

  it('DataFrame(rows) re-infers dtypes: ints stay ints, ints mixed with floats print as floats', () => {
    expect(
      toCsvLikePandas(
        frameFromRows([
          [1n, 'a'],
          [2n, 'b'],
        ]),
      ),
    ).toBe('1,a\n2,b\n');
    expect(
      toCsvLikePandas(
        frameFromRows([
          [1n, NaN],
          [2.5, 'b'],
        ]),
      ),
    ).toBe('1.0,\n2.5,b\n');
    expect(toCsvLikePandas(frameFromRows([]))).toBe('');
  });

  it("formats floats like Python's repr", () => {
    expect([1, 0.1, 1e-4, 1e-5, 1e16, 1.5e16, 123456.789, -2, 1e22].map(pyFloatRepr)).toEqual([
      '1.0',
      '0.1',
      '0.0001',
      '1e-05',
      '1e+16',
      '1.5e+16',
      '123456.789',
      '-2.0',
      '1e+22',
    ]);
  });

  needsData.it('round-trips the trec and cr test files byte for byte (pandas rewrites them unchanged)', () => {
    for (const t of ['trec', 'cr']) {
      const buf = readFileSync(path.join(original, t, 'test.csv'));
      expect(md5(toCsvLikePandas(readCsvLikePandas(buf.toString('utf8'), 't')))).toBe(md5(buf));
    }
  });

  it('rewrites all-quoted AG News csv with minimal quoting', () => {
    const f = readCsvLikePandas('"3","Title, here","A ""quoted"" text"\n"1","","plain"\n', 'mem.csv');
    expect(toCsvLikePandas(f)).toBe('3,"Title, here","A ""quoted"" text"\n1,,plain\n');
  });
});

describe('python text helpers', () => {
  it('readlines uses universal newlines and keeps line ends and BOM', () => {
    expect(pyReadlines('\uFEFFa\tb\r\nc\rd\ne')).toEqual(['\uFEFFa\tb\n', 'c\n', 'd\n', 'e']);
    expect(pyReadlines('')).toEqual([]);
  });
  it('strip removes Python whitespace only', () => {
    expect(pyStrip('\x1c a\t1 \x85\n')).toBe('a\t1');
    expect(pyStrip('\uFEFFx ')).toBe('\uFEFFx');
  });
});

needsData.describe('k-shot generator: byte-identical to the paper splits (MD5SUMS of the task data)', () => {
  it('k=16, all 5 seeds, train/dev/test of the 9 tasks with complete originals', () => {
    const r = compare(COMPLETE, 16, SEEDS);
    expect(r.bad).toEqual([]);
    expect(r.compared).toBe(9 * 5 * 3);
  });

  it('k=512 seed 42 and k=64 seed 13, train/dev/test of the same 9 tasks', () => {
    const a = compare(COMPLETE, 512, [42]);
    const b = compare(COMPLETE, 64, [13]);
    expect([...a.bad, ...b.bad]).toEqual([]);
    expect(a.compared + b.compared).toBe(2 * 9 * 3);
  });

  it('test files of the subset-pool tasks MNLI (matched + mismatched), SNLI, QNLI, QQP', () => {
    const r = compare(SUBSET_POOLS, 16, [21], 'k-shot-1k-test', (f) => /\/test[^/]*$/.test(f.path));
    expect(r.bad).toEqual([]);
    expect(r.compared).toBe(5);
  });

  it('writeKShot writes the layout <out>/<mode>/<TASK>/<k>-<seed>/ with MNLI names', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'lmk-kshot-'));
    try {
      const r = writeKShot({ dataDir: original, outDir: out, tasks: ['mnli', 'cr'], k: 16, seeds: [87], mode: 'k-shot-1k-test' });
      expect(r.files).toBe(7);
      const d = path.join(out, 'k-shot-1k-test', 'MNLI', '16-87');
      for (const f of ['train.tsv', 'dev_matched.tsv', 'test_matched.tsv', 'test_mismatched.tsv'])
        expect(existsSync(path.join(d, f))).toBe(true);
      expect(md5(readFileSync(path.join(out, 'k-shot-1k-test', 'cr', '16-87', 'train.csv')))).toBe(
        md5s.get('k-shot-1k-test/cr/16-87/train.csv'),
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('k-shot generator: modes, shortfalls, quirks, errors', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'lmk-kshot-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const collect = (opts: Parameters<typeof generateKShot>[0]): Map<string, string> => {
    const m = new Map<string, string>();
    generateKShot({ ...opts, onFile: (f) => m.set(f.path, f.content) });
    return m;
  };

  needsData.it('k-shot mode keeps the whole test file; k-shot-10x takes 10k dev rows per label', () => {
    const a = collect({ dataDir: original, tasks: ['sst-5'], k: 4, seeds: [13], mode: 'k-shot' });
    expect(a.get('k-shot/sst-5/4-13/test.csv')!.trimEnd().split('\n')).toHaveLength(2210);
    const b = collect({ dataDir: original, tasks: ['mr'], k: 4, seeds: [13], mode: 'k-shot-10x' });
    expect(b.get('k-shot-10x/mr/4-13/dev.csv')!.trimEnd().split('\n')).toHaveLength(2 * 40);
    expect(b.get('k-shot-10x/mr/4-13/train.csv')!.trimEnd().split('\n')).toHaveLength(2 * 4);
    // The 10x train split is the k-shot train split of the same seed.
    const c = collect({ dataDir: original, tasks: ['mr'], k: 4, seeds: [13], mode: 'k-shot' });
    expect(b.get('k-shot-10x/mr/4-13/train.csv')).toBe(c.get('k-shot/mr/4-13/train.csv'));
  });

  needsData.it('GLUE train/dev get the train header, tests keep their own header; MRPC keeps its BOM', () => {
    const m = collect({ dataDir: original, tasks: ['MRPC'], k: 2, seeds: [42], mode: 'k-shot' });
    const train = m.get('k-shot/MRPC/2-42/train.tsv')!;
    expect(train.startsWith('\uFEFFQuality\t#1 ID')).toBe(true);
    expect(train.split('\n')).toHaveLength(1 + 4 + 1);
    expect(m.get('k-shot/MRPC/2-42/test.tsv')).toBe(readFileSync(path.join(original, 'MRPC', 'dev.tsv'), 'utf8'));
  });

  needsData.it('reports labels with too few rows (trec label 2 has 86) and fails on them with strict', () => {
    const r = generateKShot({ dataDir: original, tasks: ['trec'], k: 64, seeds: [13] });
    expect(r.shortfalls).toEqual([{ task: 'trec', seed: 13, label: '2', available: 86, needed: 128 }]);
    expect(() => generateKShot({ dataDir: original, tasks: ['trec'], k: 64, seeds: [13], strict: true })).toThrow(
      'trec seed 13: label "2" has 86 training rows, k=64 needs 128 (train 64 + dev 64)',
    );
  });

  it('CoLA (no header) is reshuffled in place seed after seed, as the reference does', () => {
    const dir = path.join(tmp, 'orig', 'CoLA');
    mkdirSync(dir, { recursive: true });
    const rows = Array.from({ length: 40 }, (_, i) => `src\t${i % 2}\t\tsentence ${i}\n`);
    writeFileSync(path.join(dir, 'train.tsv'), rows.join(''));
    writeFileSync(path.join(dir, 'dev.tsv'), rows.slice(0, 6).join(''));
    const both = collect({ dataDir: path.join(tmp, 'orig'), tasks: ['cola'], k: 2, seeds: [100, 13] });
    const alone = collect({ dataDir: path.join(tmp, 'orig'), tasks: ['cola'], k: 2, seeds: [13] });
    const lines = rows.slice();
    new RandomState(100).shuffle(lines);
    new RandomState(13).shuffle(lines);
    const b0 = lines.filter((l) => l.split('\t')[1] === '0');
    const b1 = lines.filter((l) => l.split('\t')[1] === '1');
    const first = lines[0].split('\t')[1] === '0' ? [b0, b1] : [b1, b0];
    expect(both.get('k-shot/CoLA/2-13/train.tsv')).toBe(first.map((b) => b.slice(0, 2).join('')).join(''));
    expect(alone.get('k-shot/CoLA/2-13/train.tsv')).not.toBe(both.get('k-shot/CoLA/2-13/train.tsv'));
  });

  it('STS-B buckets by score < 2.5', () => {
    const dir = path.join(tmp, 'orig', 'STS-B');
    mkdirSync(dir, { recursive: true });
    const head = 'index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n';
    const rows = Array.from({ length: 8 }, (_, i) => `${i}\tg\tf\ty\to\ts\ts\ta${i}\tb${i}\t${(i * 0.7).toFixed(3)}\n`);
    writeFileSync(path.join(dir, 'train.tsv'), head + rows.join(''));
    writeFileSync(path.join(dir, 'dev.tsv'), head + rows.slice(0, 2).join(''));
    const m = collect({ dataDir: path.join(tmp, 'orig'), tasks: ['sts-b'], k: 1, seeds: [42] });
    const train = m.get('k-shot/STS-B/1-42/train.tsv')!.split('\n').slice(1, 3);
    const scores = train.map((l) => Number(l.split('\t')[9]));
    expect(scores.filter((s) => s < 2.5)).toHaveLength(1);
  });

  it('a missing original file is an InputError naming the path', () => {
    expect(() => loadKShotSource(path.join(tmp, 'nowhere'), 'SST-2')).toThrow(
      `${path.join(tmp, 'nowhere', 'SST-2', 'train.tsv')}: SST-2 train file not found`,
    );
  });

  needsData.it('unknown tasks and bad options are rejected', () => {
    expect(() => kshotTaskName('sst-3')).toThrow("unknown task 'sst-3'");
    expect(kshotTaskName('qqp')).toBe('QQP');
    const src = loadKShotSource(original, 'cr');
    expect(() => generateForSeed(src, 1, { k: 0 })).toThrow('k must be a positive integer, received 0');
    expect(() => generateForSeed(src, -3, { k: 2 })).toThrow('seed must be an integer');
    expect(() => generateForSeed(src, 1, { k: 2, mode: 'k-shot-2x' as KShotMode })).toThrow('mode must be one of');
  });
});

needsData.describe('lmkernel data k-shot (CLI)', () => {
  it('writes byte-identical splits; task names are case-insensitive, --task repeats and takes commas', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'lmk-cli-'));
    try {
      const code = await runDataCli([
        'k-shot',
        '--data-dir',
        original,
        '--out',
        out,
        '--k',
        '16',
        '--mode',
        'k-shot-1k-test',
        '--seeds',
        '13,42',
        '--task',
        'rte,SUBJ',
        '--task',
        'Mr',
        '--quiet',
      ]);
      expect(code).toBe(0);
      for (const t of ['RTE', 'subj', 'mr']) {
        for (const s of [13, 42]) {
          const ext = t === 'RTE' ? 'tsv' : 'csv';
          const rel = `k-shot-1k-test/${t}/16-${s}/train.${ext}`;
          expect(md5(readFileSync(path.join(out, rel)))).toBe(md5s.get(rel));
        }
      }
      expect(existsSync(path.join(out, 'k-shot-1k-test', 'RTE', '16-100'))).toBe(false);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('errors: unknown task, missing --out, bad mode, bad seed, unknown subcommand', async () => {
    const base = ['k-shot', '--data-dir', original, '--out', path.join(tmpdir(), 'lmk-never'), '--k', '16'];
    await expect(runDataCli([...base, '--task', 'nope'])).rejects.toThrow("unknown task 'nope'");
    await expect(runDataCli(['k-shot', '--data-dir', original, '--k', '16'])).rejects.toThrow("option '--out' is required");
    await expect(runDataCli([...base, '--mode', 'all'])).rejects.toThrow(
      "option '--mode': expected one of k-shot, k-shot-10x, k-shot-1k-test",
    );
    await expect(runDataCli([...base, '--seeds', '1,x'])).rejects.toThrow("option '--seeds': expected integers");
    await expect(runDataCli([...base, '--task', 'trec', '--k', '512', '--strict'])).rejects.toThrow(
      'label "5" has 896 training rows',
    );
    expect(await runDataCli(['frobnicate'])).toBe(2);
  });

  it('the default task list includes CoLA, whose absence is reported with a hint', async () => {
    const base = ['k-shot', '--data-dir', original, '--out', path.join(tmpdir(), 'lmk-never'), '--k', '16'];
    await expect(runDataCli(base)).rejects.toThrow(/CoLA train file not found \(no --task given.*pick tasks with --task\)/);
  });
});

// The full matrix (13 tasks x k in {16, 64, 512} x 5 seeds), about 5 s.
needsData.describe('k-shot generator: full md5 matrix', () => {
  it('every train/dev/test file of the 9 complete tasks and every test file of MNLI/SNLI/QNLI/QQP', () => {
    const rows: string[] = [];
    let bad: string[] = [];
    let compared = 0;
    let matched = 0;
    for (const [tasks, filter] of [
      [COMPLETE, undefined],
      [SUBSET_POOLS, (f: KShotFile) => /\/test[^/]*$/.test(f.path)],
    ] as const) {
      for (const t of tasks) {
        let m = 0;
        let c = 0;
        for (const k of [16, 64, 512]) {
          const r = compare([t], k, SEEDS, 'k-shot-1k-test', filter);
          m += r.matched;
          c += r.compared;
          bad = bad.concat(r.bad);
        }
        rows.push(`${t}: ${m}/${c}`);
        compared += c;
        matched += m;
      }
    }
    console.log(`k-shot md5 matrix:\n  ${rows.join('\n  ')}`);
    expect(bad).toEqual([]);
    // every file compared: 3 k x 5 seeds x (train, dev, test) for the 9 complete tasks, and the test
    // files of the 4 pools (MNLI has test_matched and test_mismatched)
    expect(compared).toBe(9 * 3 * 5 * 3 + (2 + 1 + 1 + 1) * 3 * 5);
    expect(matched).toBe(compared);
  });
});
