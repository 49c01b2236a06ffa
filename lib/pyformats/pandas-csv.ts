// The subset of pandas `read_csv(header=None)` / `DataFrame(rows)` / `to_csv(header=False, index=False)`
// that the k-shot generator and the csv task readers rely on, reproduced byte for byte:
//
// - Parsing (csv-parse, configured like pandas' C tokenizer): `,` delimiter, `"` quotes with `""` escapes,
//   quotes inside an unquoted field kept literally, blank lines skipped, `\n`, `\r\n` and `\r` all end a
//   record, a UTF-8 BOM at the start ignored. Short rows are padded with NaN; a row longer than the first
//   one is an error (pandas: "Expected N fields in line L, saw M").
// - Column dtypes as pandas infers them: int64 if every cell is an integer, float64 if every non-missing
//   cell is numeric (also when an int column has a missing cell, and when every cell is missing), else
//   object (strings kept verbatim). Missing = empty field or one of pandas' default NA strings.
//   Not reproduced: bool columns ("True"/"False"), dates, thousands separators; none occur in the task files.
// - Writing: QUOTE_MINIMAL (a field is quoted when it holds `,`, `"`, `\n` or `\r`; `"` is doubled; a lone
//   `\r` is quoted as CPython >= 3.11.9 / 3.12.3 does (gh-67044), older Pythons leave it bare with pandas'
//   `\n` line ends, which reads back as two records; no task file holds a `\r`),
//   `\n` line ends, NaN as an empty field, int64 as integers, float64 and Python floats as Python's `repr`
//   (`1.0`, `0.0001`, `1e-05`, `1e+16`).
import { parse } from 'csv-parse/sync';
import { InputError } from '../errors.js';

/** A cell as pandas holds it after `values.tolist()`: str, int (bigint), float (number; NaN = missing). */
export type Cell = string | bigint | number;
export type Dtype = 'int64' | 'float64' | 'object';

export interface Frame {
  dtypes: Dtype[];
  rows: Cell[][];
  /** 1-based line number where each row starts in the source file (empty for frames built from rows). */
  lines: number[];
}

/** pandas' default `na_values` (pandas >= 1.0; `<NA>` since 1.0, `None` since 2.0 as well as `n/a`). */
export const PANDAS_NA_VALUES: ReadonlySet<string> = new Set([
  '',
  '#N/A',
  '#N/A N/A',
  '#NA',
  '-1.#IND',
  '-1.#QNAN',
  '-NaN',
  '-nan',
  '1.#IND',
  '1.#QNAN',
  '<NA>',
  'N/A',
  'NA',
  'NULL',
  'NaN',
  'None',
  'n/a',
  'nan',
  'null',
]);

const INT_RE = /^\s*[+-]?\d+\s*$/;
const FLOAT_RE = /^\s*[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|infinity)\s*$/i;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function isMissing(c: Cell): boolean {
  return typeof c === 'number' && Number.isNaN(c);
}

function parseFloatLikePandas(s: string): number {
  const t = s.trim().toLowerCase();
  if (/^[+-]?inf(inity)?$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  return Number(t);
}

const LINE_BREAK = /\r\n|\n|\r/g;

/** Splits a csv text into records the way pandas' C tokenizer does (see the file comment). */
export function parseCsvRecords(text: string, file: string): { fields: string[]; line: number }[] {
  let records: { record: string[]; info: { lines: number }; raw: string }[];
  try {
    records = parse(text, {
      bom: true,
      relax_quotes: true,
      relax_column_count: true,
      skip_empty_lines: true,
      record_delimiter: ['\r\n', '\n', '\r'],
      info: true,
      raw: true,
    });
  } catch (e) {
    const err = e as Error & { lines?: number; code?: string };
    // csv-parse counts a \r\n inside a quoted field as two lines; an unclosed quote runs to the end of the
    // text, so the line it reports is the text's last one: counted here with \r\n as one line break
    let line = err.lines;
    let message = err.message;
    if (err.code === 'CSV_QUOTE_NOT_CLOSED') {
      line = (text.match(LINE_BREAK)?.length ?? 0) + (/(?:\r\n|\n|\r)$/.test(text) ? 0 : 1);
      message = message.replace(/at line \d+/, `at line ${line}`);
    }
    throw new InputError(`${file}${line ? `:${line}` : ''}`, `malformed csv: ${message}`);
  }
  // csv-parse's line count at a record's end counts each \r\n inside a quoted field twice: the start line
  // is that count less the record's inner line breaks and every \r\n inside quotes so far
  let crlfInQuotes = 0;
  return records.map((r) => {
    const body = r.raw.replace(/^(?:\r\n|\n|\r)+/, '').replace(/(?:\r\n|\n|\r)$/, '');
    const inner = body.match(LINE_BREAK)?.length ?? 0;
    crlfInQuotes += body.match(/\r\n/g)?.length ?? 0;
    return { fields: r.record, line: r.info.lines - inner - crlfInQuotes };
  });
}

/** `pd.read_csv(file, header=None)`: records, padded to the first row's width, with inferred dtypes. */
export function readCsvLikePandas(text: string, file: string): Frame {
  const recs = parseCsvRecords(text, file);
  if (recs.length === 0) return { dtypes: [], rows: [], lines: [] };
  const width = recs[0].fields.length;
  for (const r of recs) {
    if (r.fields.length > width) {
      throw new InputError(`${file}:${r.line}`, `expected ${width} fields (as in the first row), saw ${r.fields.length}`);
    }
  }
  const dtypes: Dtype[] = [];
  const columns: Cell[][] = [];
  for (let c = 0; c < width; c++) {
    const raw = recs.map((r) => (c < r.fields.length ? r.fields[c] : undefined));
    const missing = raw.map((s) => s === undefined || PANDAS_NA_VALUES.has(s));
    const present = raw.filter((_, i) => !missing[i]) as string[];
    const anyMissing = missing.some((m) => m);
    let ints = !anyMissing && present.every((s) => INT_RE.test(s));
    if (ints) {
      // Out-of-range integers make pandas fall back to uint64/float/object; treat them as not int64.
      ints = present.every((s) => {
        const v = BigInt(s.trim());
        return v >= INT64_MIN && v <= INT64_MAX;
      });
    }
    if (ints) {
      dtypes.push('int64');
      columns.push(present.map((s) => BigInt(s.trim())));
    } else if (present.every((s) => FLOAT_RE.test(s))) {
      dtypes.push('float64');
      columns.push(raw.map((s, i) => (missing[i] ? NaN : parseFloatLikePandas(s as string))));
    } else {
      dtypes.push('object');
      columns.push(raw.map((s, i) => (missing[i] ? NaN : (s as string))));
    }
  }
  const rows = recs.map((_, i) => columns.map((col) => col[i]));
  return { dtypes, rows, lines: recs.map((r) => r.line) };
}

/** `pd.DataFrame(list_of_rows)`: per column int64 if all ints, float64 if all numbers, else object. */
export function frameFromRows(rows: Cell[][]): Frame {
  const width = rows.reduce((w, r) => Math.max(w, r.length), 0);
  const dtypes: Dtype[] = [];
  for (let c = 0; c < width; c++) {
    const col = rows.map((r) => (c < r.length ? r[c] : NaN));
    if (col.every((x) => typeof x === 'bigint')) dtypes.push('int64');
    else if (col.every((x) => typeof x !== 'string')) dtypes.push('float64');
    else dtypes.push('object');
  }
  const out = rows.map((r) =>
    dtypes.map((d, c): Cell => {
      const x = c < r.length ? r[c] : NaN;
      return d === 'float64' && typeof x === 'bigint' ? Number(x) : x;
    }),
  );
  return { dtypes, rows: out, lines: [] };
}

/** Python's `repr(float)` (also numpy's `str` of a float64): shortest round-trip digits. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expStr] = x.toExponential().split('e');
  const exp = Number(expStr);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  const sign = neg ? '-' : '';
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp).toString().padStart(2, '0');
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const frac = digits.slice(exp + 1);
  return `${sign}${intPart}.${frac.length > 0 ? frac : '0'}`;
}

function formatCell(x: Cell, dtype: Dtype): string {
  if (typeof x === 'string') return x;
  if (typeof x === 'bigint') return dtype === 'float64' ? pyFloatRepr(Number(x)) : x.toString();
  return Number.isNaN(x) ? '' : pyFloatRepr(x);
}

const NEEDS_QUOTES = /[,"\n\r]/;

/** `df.to_csv(path, header=False, index=False)` as a string. */
export function toCsvLikePandas(frame: Frame): string {
  let out = '';
  for (const row of frame.rows) {
    const fields = frame.dtypes.map((d, c) => {
      const s = formatCell(row[c], d);
      return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    });
    // Python's csv writer quotes a lone empty field so that the row is not read back as blank.
    out += (fields.length === 1 && fields[0] === '' ? '""' : fields.join(',')) + '\n';
  }
  return out;
}
