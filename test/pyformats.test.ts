// lib/pyformats on its own, at the edges (docs/mutation.md): numpy's legacy RandomState at its seed bounds and
// across a state refill, pandas' NA spellings and number spellings one by one, Python's float repr and
// str.strip / readlines. Expected values are numpy 2.4's and CPython 3.11's outputs (the line above each
// says which call), or pandas' documented rules.
import { describe, it, expect } from 'vitest';
import { RandomState } from '../lib/pyformats/mt19937.js';
import {
  PANDAS_NA_VALUES,
  readCsvLikePandas,
  frameFromRows,
  toCsvLikePandas,
  pyFloatRepr,
  parseCsvRecords,
  isMissing,
} from '../lib/pyformats/pandas-csv.js';
import { pyReadlines, pyStrip } from '../lib/pyformats/pytext.js';

describe('RandomState at its bounds', () => {
  it("seeds 0 and 2**32 - 1 give numpy's first draws (randint(0, 2**32, dtype=uint32) = the raw outputs)", () => {
    const a = new RandomState(0);
    expect([a.nextUint32(), a.nextUint32(), a.nextUint32()]).toEqual([2357136044, 2546248239, 3071714933]);
    const b = new RandomState(0xffffffff);
    expect([b.nextUint32(), b.nextUint32(), b.nextUint32()]).toEqual([419326371, 479346978, 3918654476]);
    expect(new RandomState().nextUint32()).toBe(2357136044);
  });

  it('refuses seeds -1, 2**32, non-integers, with the value in the message', () => {
    expect(() => new RandomState(-1)).toThrow('Seed must be between 0 and 2**32 - 1, received -1');
    expect(() => new RandomState(2 ** 32)).toThrow('Seed must be between 0 and 2**32 - 1, received 4294967296');
    expect(() => new RandomState(0.5)).toThrow(RangeError);
  });

  it('randomInterval(2**32 - 1) is the raw draw; bad maxima are refused', () => {
    const r = new RandomState(0);
    expect(r.randomInterval(0xffffffff)).toBe(2357136044);
    expect(r.randomInterval(0)).toBe(0);
    // randomInterval(0) draws nothing: the next draw is numpy's second output
    expect(r.randomInterval(0xffffffff)).toBe(2546248239);
    expect(() => r.randomInterval(-1)).toThrow('randomInterval: bad max -1');
    expect(() => r.randomInterval(1.5)).toThrow('randomInterval: bad max 1.5');
    expect(() => r.randomInterval(2 ** 32)).toThrow('randomInterval: max above 2**32 - 1 needs 64-bit draws (not supported)');
  });

  it('np.random.RandomState(3): permutation(10), choice(5, 5, replace=False), random_sample() x 2', () => {
    expect(new RandomState(3).permutation(10)).toEqual([5, 4, 1, 2, 9, 6, 7, 0, 3, 8]);
    expect(new RandomState(3).choiceWithoutReplacement(5, 5)).toEqual([3, 4, 1, 0, 2]);
    expect(new RandomState(3).choiceWithoutReplacement(5, 0)).toEqual([]);
    const r = new RandomState(3);
    expect([r.randomSample(), r.randomSample()]).toEqual([0.5507979025745755, 0.7081478226181048]);
    expect(() => new RandomState(3).choiceWithoutReplacement(5, 6)).toThrow(
      "Cannot take a larger sample than population when 'replace=False'",
    );
    expect(() => new RandomState(3).choiceWithoutReplacement(5, -1)).toThrow('negative dimensions are not allowed');
  });

  it('the last word of each state block (outputs 623 and 1247) and the first after a refill', () => {
    // np.random.RandomState(0).randint(0, 2**32, size=1300, dtype=np.uint32)[[622, 623, 624, 625, 1247, 1248]]
    const r = new RandomState(0);
    const x = Array.from({ length: 1249 }, () => r.nextUint32());
    expect([x[622], x[623], x[624], x[625], x[1247], x[1248]]).toEqual([
      631131020, 3791854820, 341544762, 1076416385, 1145454359, 4192857288,
    ]);
    // the last word of 8 blocks for seeds 0 and 1 (randint(..., size=624*8)[623::624]): the top bit of the
    // word before the refill reaches these outputs only when it is set
    const last = (seed: number) => {
      const g = new RandomState(seed);
      return Array.from({ length: 624 * 8 }, () => g.nextUint32()).filter((_, i) => i % 624 === 623);
    };
    expect(last(0)).toEqual([3791854820, 1145454359, 1080028749, 1047558821, 877778569, 1991553521, 127945107, 1482922694]);
    expect(last(1)).toEqual([2006116153, 1926754611, 1662252887, 4209250293, 897126583, 2368412453, 4147223087, 646137786]);
  });

  it('np.random.RandomState(0).shuffle(list(range(700))): 699 draws, across a refill of the state', () => {
    const x = new RandomState(0).shuffle(Array.from({ length: 700 }, (_, i) => i));
    expect(x.slice(0, 5)).toEqual([306, 604, 40, 493, 14]);
    expect(x.slice(-5)).toEqual([359, 192, 629, 559, 684]);
  });
});

describe('pandas read_csv: missing values and numbers', () => {
  it("every default NA spelling is missing (pandas' STR_NA_VALUES), near-misses are strings", () => {
    const na = ['#N/A', '#N/A N/A', '#NA', '-1.#IND', '-1.#QNAN', '-NaN', '-nan', '1.#IND', '1.#QNAN', '<NA>', 'N/A', 'NA'];
    na.push('NULL', 'NaN', 'None', 'n/a', 'nan', 'null');
    expect([...PANDAS_NA_VALUES].sort()).toEqual(['', ...na].sort());
    for (const s of na) {
      const f = readCsvLikePandas(`a,${s}\nb,1\n`, 'na.csv');
      expect(f.dtypes, s).toEqual(['object', 'float64']);
      expect(isMissing(f.rows[0][1]), s).toBe(true);
      expect(f.rows[1][1], s).toBe(1);
    }
    for (const s of ['nil', 'NA/', 'n.a.', 'none!']) {
      const f = readCsvLikePandas(`a,${s}\nb,1\n`, 'na.csv');
      expect(f.dtypes, s).toEqual(['object', 'object']);
      expect(f.rows[0][1], s).toBe(s);
    }
  });

  it('integer spellings give int64 (bigint), the int64 bounds included', () => {
    const cases: [string, bigint][] = [
      ['1', 1n],
      ['+1', 1n],
      ['-0', 0n],
      ['007', 7n],
      ['12', 12n],
      [' 12 ', 12n],
      ['9223372036854775807', 2n ** 63n - 1n],
      ['-9223372036854775808', -(2n ** 63n)],
    ];
    for (const [s, v] of cases) {
      const f = readCsvLikePandas(`${s}\n3\n`, 'int.csv');
      expect(f.dtypes, s).toEqual(['int64']);
      expect(f.rows[0][0], s).toBe(v);
    }
  });

  it('float spellings give float64; integers beyond int64 fall back to float64', () => {
    const cases: [string, number][] = [
      ['1.5', 1.5],
      ['5.', 5],
      ['.5', 0.5],
      ['-.25', -0.25],
      ['+2.5', 2.5],
      [' 2.5 ', 2.5],
      ['1e5', 1e5],
      ['1E+5', 1e5],
      ['12e10', 12e10],
      ['1.5e-3', 1.5e-3],
      ['.5e2', 50],
      ['.55E-1', 0.055],
      ['.5e12', 5e11],
      ['inf', Infinity],
      ['+inf', Infinity],
      ['INF', Infinity],
      ['-inf', -Infinity],
      ['infinity', Infinity],
      ['-Infinity', -Infinity],
      [' inf ', Infinity],
      [' -Infinity ', -Infinity],
      ['9223372036854775808', 9223372036854775808],
      ['-9223372036854775809', -9223372036854775808],
    ];
    for (const [s, v] of cases) {
      const f = readCsvLikePandas(`${s}\n3\n`, 'float.csv');
      expect(f.dtypes, s).toEqual(['float64']);
      expect(f.rows[0][0], s).toBe(v);
      expect(f.rows[1][0], s).toBe(3);
    }
  });

  it('other spellings stay strings (object)', () => {
    for (const s of [
      '1_0',
      '0x10',
      '1e',
      'e5',
      '.',
      '1.2.3',
      '--1',
      '1 2',
      'a1',
      '1a',
      'infinit',
      'nan5',
      '1.5x',
      'x1.5',
      '1e5x',
      '.e5',
    ]) {
      const f = readCsvLikePandas(`${s}\n3\n`, 'obj.csv');
      expect(f.dtypes, s).toEqual(['object']);
      expect(f.rows[0][0], s).toBe(s);
      expect(f.rows[1][0], s).toBe('3');
    }
  });

  it('a column with every cell missing is float64; int + missing is float64', () => {
    const f = readCsvLikePandas('1,NA\n,null\n', 'm.csv');
    expect(f.dtypes).toEqual(['float64', 'float64']);
    expect(f.rows[0][0]).toBe(1);
    expect(f.rows.flat().filter(isMissing)).toHaveLength(3);
  });

  it('records end at \\n, \\r\\n and \\r; a BOM is skipped; line numbers of multi-line records', () => {
    const recs = parseCsvRecords('\uFEFFa,1\r\nb,2\rc,"3\n4"\n\nd,5\n', 'r.csv');
    expect(recs).toEqual([
      { fields: ['a', '1'], line: 1 },
      { fields: ['b', '2'], line: 2 },
      { fields: ['c', '3\n4'], line: 3 },
      { fields: ['d', '5'], line: 6 },
    ]);
    // two blank lines before a record; a last record of two lines without a final newline
    expect(parseCsvRecords('a,1\n\n\nb,2\n', 'r.csv').map((r) => r.line)).toEqual([1, 4]);
    expect(parseCsvRecords('a,1\nb,"x\ny"', 'r.csv').map((r) => r.line)).toEqual([1, 2]);
    // \r\n inside a quoted field is one line break, as outside (csv-parse's own count has it twice): the
    // start lines by hand, the same as Python's csv.reader line_num of the record before, plus one and the
    // blank lines between
    const crlf = '\r\n\r\na,1\r\n"x\r\ny",2\r\n\r\nb,"p\r\n\r\nq"\r\nc,"r\ns"\r\nd,4\r\n';
    expect(parseCsvRecords(crlf, 'r.csv')).toEqual([
      { fields: ['a', '1'], line: 3 },
      { fields: ['x\r\ny', '2'], line: 4 },
      { fields: ['b', 'p\r\n\r\nq'], line: 7 },
      { fields: ['c', 'r\ns'], line: 10 },
      { fields: ['d', '4'], line: 12 },
    ]);
    // a quote inside an unquoted field is kept (pandas' C tokenizer), not an error
    expect(parseCsvRecords('a"b,1\nc,d"e"\n', 'r.csv').map((r) => r.fields)).toEqual([
      ['a"b', '1'],
      ['c', 'd"e"'],
    ]);
    // the same file with \n line ends has the same lines
    expect(parseCsvRecords(crlf.replace(/\r\n/g, '\n'), 'r.csv').map((r) => r.line)).toEqual([3, 4, 7, 10, 12]);
    expect(readCsvLikePandas('', 'e.csv')).toEqual({ dtypes: [], rows: [], lines: [] });
    expect(readCsvLikePandas('\n\n', 'e.csv')).toEqual({ dtypes: [], rows: [], lines: [] });
  });

  it('a quote never closed is a malformed csv, named by file', () => {
    // the line where the open quote is
    expect(() => parseCsvRecords('a,1\nb,"2\n', 'q.csv')).toThrow(/^q\.csv:2: malformed csv: Quote Not Closed/);
    // the quote runs to the end of the text: the line is the text's last one (5), whatever the line ends,
    // a \r\n inside the earlier quoted field and the open one included; a BOM is not a line
    const open = 'a,"1\nx"\nb,"2\ny\nz\n';
    for (const t of [
      open,
      open.replace(/\n/g, '\r\n'),
      open.replace(/\n/g, '\r'),
      '\uFEFF' + open.replace(/\n/g, '\r\n').slice(0, -2),
    ])
      expect(() => parseCsvRecords(t, 'q.csv'), JSON.stringify(t)).toThrow(
        /^q\.csv:5: malformed csv: Quote Not Closed: the parsing is finished with an opening quote at line 5$/,
      );
    // two-digit lines: 12, where csv-parse counts 13 (the \r\n inside the open quote twice)
    const long = 'a,1\r\n'.repeat(10) + 'b,"2\r\nz\r\n';
    expect(() => parseCsvRecords(long, 'q.csv')).toThrow(
      /^q\.csv:12: malformed csv: Quote Not Closed: the parsing is finished with an opening quote at line 12$/,
    );
  });
});

describe('pandas DataFrame(rows).to_csv', () => {
  it('pads short rows, infers per column, prints ints in float columns as floats', () => {
    const f = frameFromRows([[1n, 'a', 2n], [2n], [3n, 'c', 0.5]]);
    expect(f.dtypes).toEqual(['int64', 'object', 'float64']);
    expect(f.rows[1][1]).toBeNaN();
    expect(f.rows[0][2]).toBe(2);
    expect(f.lines).toEqual([]);
    expect(toCsvLikePandas(f)).toBe('1,a,2.0\n2,,\n3,c,0.5\n');
    expect(frameFromRows([[NaN], [NaN]]).dtypes).toEqual(['float64']);
  });

  it("csv.writer quotes a lone empty field, and a field with ',' or '\"'", () => {
    // csv.writer(s, lineterminator='\n').writerow(['']) -> '""\n'; writerow(['', '']) -> ',\n'
    expect(toCsvLikePandas(frameFromRows([['']]))).toBe('""\n');
    expect(toCsvLikePandas(frameFromRows([[NaN]]))).toBe('""\n');
    expect(toCsvLikePandas(frameFromRows([['', '']]))).toBe(',\n');
    expect(toCsvLikePandas(frameFromRows([['a,b', 'say "x"', 'c\nd']]))).toBe('"a,b","say ""x""","c\nd"\n');
    // a lone \r is quoted as CPython >= 3.11.9 / 3.12.3 does (gh-67044: \r and \n always quoted; older
    // Pythons, 3.11.7 included, write it bare with lineterminator '\n'): read back, the row is the same,
    // where a bare \r would end the record in pandas' tokenizer and csv-parse alike
    const cr = frameFromRows([
      ['a\rb', 'c'],
      ['\r', 'd'],
    ]);
    expect(toCsvLikePandas(cr)).toBe('"a\rb",c\n"\r",d\n');
    expect(readCsvLikePandas(toCsvLikePandas(cr), 'cr.csv').rows).toEqual([
      ['a\rb', 'c'],
      ['\r', 'd'],
    ]);
    expect(parseCsvRecords('a\rb,c\n', 'bare.csv').map((r) => r.fields)).toEqual([['a'], ['b', 'c']]);
  });

  it("Python's repr(float) for each form: 0, -0, the fixed / exponent switch at 1e-4 and 1e16, subnormals", () => {
    const cases: [number, string][] = [
      [NaN, 'nan'],
      [Infinity, 'inf'],
      [-Infinity, '-inf'],
      [0, '0.0'],
      [-0, '-0.0'],
      [1e-5, '1e-05'],
      [-1e-5, '-1e-05'],
      [1.5e-7, '1.5e-07'],
      [1e100, '1e+100'],
      [1e-4, '0.0001'],
      [0.00012, '0.00012'],
      [-0.5, '-0.5'],
      [1234.5, '1234.5'],
      [100, '100.0'],
      [123, '123.0'],
      [1e15, '1000000000000000.0'],
      [5, '5.0'],
      [1.5, '1.5'],
      [9.5e15, '9500000000000000.0'],
      [12345678901234568, '1.2345678901234568e+16'],
      [2.5e-300, '2.5e-300'],
      [5e-324, '5e-324'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
      [0.1 + 0.2, '0.30000000000000004'],
    ];
    for (const [x, s] of cases) expect(pyFloatRepr(x), s).toBe(s);
  });
});

describe('Python text', () => {
  it('str.splitlines(True)-like readlines: a leading newline, blank lines, no final newline', () => {
    // open(...).readlines() of '\na\n\nb' -> ['\n', 'a\n', '\n', 'b']
    expect(pyReadlines('\na\n\nb')).toEqual(['\n', 'a\n', '\n', 'b']);
    expect(pyReadlines('\r\r\n')).toEqual(['\n', '\n']);
    expect(pyReadlines('x\n')).toEqual(['x\n']);
  });

  it('str.strip() removes every Python space, U+FEFF and U+200B excepted', () => {
    // ' \x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000x\u3000 '.strip() -> 'x'
    expect(pyStrip(' \x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000x\u3000 ')).toBe('x');
    const all =
      '\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';
    for (const ch of all) expect(pyStrip(`${ch}a${ch}b${ch}`), ch.codePointAt(0)!.toString(16)).toBe(`a${ch}b`);
    expect(pyStrip('\ufeffx\u200b')).toBe('\ufeffx\u200b');
    expect(pyStrip(all)).toBe('');
    expect(pyStrip('')).toBe('');
  });
});
