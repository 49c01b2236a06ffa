// Property-based fuzzing (fast-check) of the parsers that take user text: the template language and
// the prompt/standard encoders (lib/prompts), the task readers (lib/tasks: GLUE tsv, pandas csv) and the
// pandas-compatible csv writer. Properties: only typed errors (LmkError and its subclasses: InputError,
// OptionError) ever escape, and the outputs keep their invariants.
//
// Runs: about 10^4 inputs in total by default; LMK_FC_SCALE=10 (scripts/fuzz-ts) runs about 10^5.
// A failure prints fast-check's seed and shrunk counterexample.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { LmkError } from '../lib/errors.js';
import { frameFromRows, readCsvLikePandas, toCsvLikePandas, PANDAS_NA_VALUES, type Cell } from '../lib/data/pandas-csv.js';
import { encodePrompt, encodeStandard, parseTemplate } from '../lib/prompts/index.js';
import { readCsvTask, readTsvTask } from '../lib/tasks/index.js';
import { loadTokenizer } from '../lib/tokenizer.js';
import { sharedDir } from './helpers/fixtures.js';

const SCALE = Number(process.env.LMK_FC_SCALE ?? '1');
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
const TIMEOUT = 120_000 * SCALE;
export const counts: Record<string, number> = {};

/** Runs `f`; an error must be an LmkError (InputError, OptionError, ...). Returns the result or undefined. */
function typed<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof LmkError)) throw new Error(`untyped error escaped: ${(e as Error)?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack}`);
    expect(e.message.length).toBeGreaterThan(0);
    return undefined;
  }
}

const tok = loadTokenizer(join(sharedDir, 'tokenizers', 'roberta-base'));
const tmp = mkdtempSync(join(tmpdir(), 'lmk-fc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;
const tmpFile = (ext: string, content: string) => {
  const p = join(tmp, `f${fileNo++ % 64}.${ext}`);
  writeFileSync(p, content);
  return p;
};

// text with the awkward characters: quotes, tabs, newlines, BOM, surrogate pairs, <mask> literals
const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', '<mask>', 'a <mask> b', '\uFEFFx', '"q"', 'x\ty', 'l1\nl2', 'c,d', 'NaN', '1', '-2.5e3', '\r', '😀 é'),
);

const PARTS = ['*cls*', '*mask*', '*sep*', '*sep+*', '*sent_0*', '*+sent_0*', '*sent-_0*', '*sentl_0*', '*+sentu_0*', '*sent_1*', '*+sentl_1*',
  '*label_0*', '*label_1*', '*_It_was*', '*.*', '*?*', '**', '*_*', '*mask*.', 'garbage', '*sent_x*', '*label_*', '*', '*sent_0', '*<mask>*'];

describe('template parser and encoders (fast-check)', () => {
  it('parseTemplate: any string parses or throws a typed error', () => {
    const n = runs(3000);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.array(fc.constantFrom(...PARTS), { maxLength: 8 }).map((a) => a.join(''))), (t) => {
        const p = typed(() => parseTemplate(t));
        if (p) expect(Array.isArray(p.parts)).toBe(true);
      }),
      { numRuns: n },
    );
    counts.parseTemplate = n;
  }, TIMEOUT);

  it('encodePrompt: mask position points at the mask id, length <= max_length, typed errors only', () => {
    const n = runs(2000);
    let encoded = 0;
    const arb = fc.record({
      // most templates get a mask part somewhere, so that most inputs reach the encoder's success path
      template: fc
        .tuple(fc.array(fc.constantFrom(...PARTS.slice(0, 20)), { minLength: 1, maxLength: 7 }), fc.nat(7), fc.integer({ min: 0, max: 3 }))
        .map(([a, i, m]) => (m > 0 ? [...a.slice(0, i), '*mask*', ...a.slice(i)] : a).join('')),
      texts: fc.array(nasty, { minLength: 0, maxLength: 3 }),
      maxLength: fc.oneof(fc.integer({ min: 1, max: 48 }), fc.constantFrom(0, -1, 1.5, 512)),
      first: fc.option(fc.integer({ min: 0, max: 20 })),
      other: fc.option(fc.integer({ min: 0, max: 20 })),
      head: fc.boolean(),
      types: fc.boolean(),
      labels: fc.option(fc.array(fc.integer({ min: 0, max: tok.vocabSize - 1 }), { maxLength: 3 })),
    });
    fc.assert(
      fc.property(arb, (a) => {
        const enc = typed(() =>
          encodePrompt(tok, a.texts, a.template, {
            maxLength: a.maxLength,
            firstSentLimit: a.first,
            otherSentLimit: a.other,
            truncateHead: a.head,
            tokenTypeIds: a.types,
            labelWordIds: a.labels ?? undefined,
            example: 0,
          }),
        );
        if (!enc) return;
        encoded++;
        expect(enc.inputIds.length).toBeLessThanOrEqual(a.maxLength);
        expect(enc.maskPos).toBeGreaterThanOrEqual(0);
        expect(enc.inputIds[enc.maskPos]).toBe(tok.maskId);
        expect(enc.inputIds.indexOf(tok.maskId)).toBe(enc.maskPos);
        for (const id of enc.inputIds) expect(Number.isInteger(id) && id >= 0 && id < tok.vocabSize).toBe(true);
        if (a.types) expect(enc.tokenTypeIds!.length).toBe(enc.inputIds.length);
      }),
      { numRuns: n },
    );
    counts.encodePrompt = n;
    counts.encodePromptSucceeded = encoded;
  }, TIMEOUT);

  it('encodeStandard: starts with <s>, length <= max_length, typed errors only', () => {
    const n = runs(1000);
    fc.assert(
      fc.property(fc.array(fc.oneof(nasty, fc.constant(null)), { maxLength: 3 }), fc.integer({ min: -2, max: 40 }), (texts, maxLength) => {
        const enc = typed(() => encodeStandard(tok, texts, maxLength, { tokenTypeIds: true }));
        if (!enc) return;
        expect(enc.inputIds.length).toBeLessThanOrEqual(maxLength);
        expect(enc.inputIds[0]).toBe(tok.clsId);
        expect(enc.tokenTypeIds!.length).toBe(enc.inputIds.length);
      }),
      { numRuns: n },
    );
    counts.encodeStandard = n;
  }, TIMEOUT);
});

describe('task readers and the pandas csv writer (fast-check)', () => {
  const cleanText = fc.string({ maxLength: 30 }).map((s) => s.replace(/[\t\n\r\uFEFF\x0b\x0c\x1c-\x1e\x85\u2028\u2029]/g, ' '));

  it('readTsvTask: arbitrary bytes read or throw a typed error; valid rows read back exactly', () => {
    const n = runs(1500);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.array(fc.tuple(nasty, fc.constantFrom('0', '1', '2', '', 'x')).map(([t, l]) => `${t}\t${l}`), { maxLength: 6 }).map((r) => ['sentence\tlabel', ...r].join('\n')),
        ),
        (text) => {
          const xs = typed(() => readTsvTask(tmpFile('tsv', text), 'SST-2'));
          if (xs) for (const x of xs) expect(['0', '1'][x.labelIndex]).toBe(x.label);
        },
      ),
      { numRuns: Math.ceil(n / 2) },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(cleanText, fc.constantFrom('0', '1')), { maxLength: 8 }), (rows) => {
        const text = ['sentence\tlabel', ...rows.map(([t, l]) => `${t}\t${l}`)].join('\n') + '\n';
        const xs = readTsvTask(tmpFile('tsv', text), 'SST-2');
        expect(xs.map((x) => [x.texts[0], x.label])).toEqual(rows);
      }),
      { numRuns: Math.floor(n / 2) },
    );
    counts.readTsvTask = n;
  }, TIMEOUT);

  it('readCsvTask: arbitrary text reads or throws a typed error; labels are in the task label set', () => {
    const n = runs(1500);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.array(fc.tuple(fc.constantFrom('0', '1', '2', '', '1.0', 'NA'), nasty).map(([l, t]) => `${l},"${t.replace(/"/g, '""')}"`), { maxLength: 6 }).map((r) => r.join('\n')),
        ),
        (text) => {
          const xs = typed(() => readCsvTask(tmpFile('csv', text), 'mr'));
          if (xs) for (const x of xs) expect(['0', '1'][x.labelIndex]).toBe(x.label);
        },
      ),
      { numRuns: n },
    );
    counts.readCsvTask = n;
  }, TIMEOUT);

  it('pandas csv: reading back what toCsvLikePandas wrote gives the same dtypes and rows', () => {
    const n = runs(1000);
    const isNumberLike = (s: string) => /^\s*[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|infinity)\s*$/i.test(s);
    // object cells: any text but a pandas NA string or a leading BOM (pandas drops it too)
    const objCell = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((s) => !PANDAS_NA_VALUES.has(s) && !s.startsWith('\uFEFF'));
    const column = fc.oneof(
      fc.constant('int' as const),
      fc.constant('float' as const),
      fc.constant('object' as const),
    );
    const arb = fc.tuple(fc.array(column, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 6 })).chain(([kinds, nrows]) =>
      fc.array(
        fc.tuple(
          ...kinds.map((k): fc.Arbitrary<Cell> =>
            k === 'int'
              ? fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
              : k === 'float'
                ? fc.oneof(fc.double(), fc.constant(NaN))
                : objCell,
          ),
        ),
        { minLength: nrows, maxLength: nrows },
      ).map((rows) => ({ kinds, rows: rows as Cell[][] })),
    );
    fc.assert(
      fc.property(arb, ({ kinds, rows }) => {
        // an object column needs one cell that does not read as a number, or pandas infers a number
        fc.pre(kinds.every((k, c) => k !== 'object' || rows.some((r) => !isNumberLike(r[c] as string))));
        const frame = frameFromRows(rows);
        const text = toCsvLikePandas(frame);
        const back = readCsvLikePandas(text, 'roundtrip.csv');
        expect(back.dtypes).toEqual(frame.dtypes);
        expect(back.rows.length).toBe(frame.rows.length);
        back.rows.forEach((r, i) =>
          r.forEach((x, c) => {
            const want = frame.rows[i][c];
            if (typeof want === 'number' && Number.isNaN(want)) expect(Number.isNaN(x as number)).toBe(true);
            else expect(x).toEqual(want);
          }),
        );
      }),
      { numRuns: n },
    );
    counts.csvRoundTrip = n;
  }, TIMEOUT);

  afterAll(() => {
    const total = Object.entries(counts).filter(([k]) => !k.endsWith('Succeeded')).reduce((a, [, b]) => a + b, 0);
    console.log(`fast-check inputs: ${JSON.stringify(counts)} total ${total}`);
  });
});
