// lib/kernels/layout.ts on its own (docs/mutation.md): every conversion on a small kernel whose entries are
// their own coordinates, every shape check with the position it names.
import { describe, it, expect } from 'vitest';
import {
  nestedToFlat,
  flatToNested,
  splitColumns,
  concatColumns,
  flatRows,
  rowsOfFlat,
  tileRows,
  shardTiles,
} from '../lib/kernels/layout.js';
import { InputError } from '../lib/errors.js';
import type { Kernel } from '../lib/types.js';

// entry [i][c][j][d] = 1000·i + 100·c + 10·j + d (distinct, and each says where it belongs)
const code = (i: number, c: number, j: number, d: number) => 1000 * i + 100 * c + 10 * j + d;
function nested(N: number, C: number, M: number, C2 = C): number[][][][] {
  return Array.from({ length: N }, (_, i) =>
    Array.from({ length: C }, (_, c) =>
      Array.from({ length: M }, (_, j) => Array.from({ length: C2 }, (_, d) => code(i, c, j, d))),
    ),
  );
}
// the row-major order written out by hand
function rowMajor(N: number, C: number, M: number, C2 = C): number[] {
  const out: number[] = [];
  for (let i = 0; i < N; i++)
    for (let c = 0; c < C; c++) for (let j = 0; j < M; j++) for (let d = 0; d < C2; d++) out.push(code(i, c, j, d));
  return out;
}

describe('nestedToFlat / flatToNested', () => {
  it('row-major [N, C, M, C] and back', () => {
    const k = nestedToFlat(nested(2, 3, 4), 'K');
    expect(k.shape).toEqual([2, 3, 4, 3]);
    expect(Array.from(k.data)).toEqual(rowMajor(2, 3, 4));
    expect(flatToNested(k)).toEqual(nested(2, 3, 4));
    expect(flatToNested({ shape: [1, 2, 1, 2], data: Float64Array.from([1, 2, 3, 4]) })).toEqual([[[[1, 2]], [[3, 4]]]]);
    expect(flatToNested({ shape: [0, 2, 3, 2], data: new Float64Array(0) })).toEqual([]);
  });

  const shapeMsg = 'K: expected a kernel of shape [N][C][M][C] (nested arrays of numbers)';
  it.each([
    ['not an array', { a: 1 }],
    ['empty', []],
    ['depth 1', [1, 2]],
    ['depth 2', [[1, 2]]],
    ['depth 3', [[[1, 2]]]],
    ['a string', 'kernel'],
  ])('refuses a kernel that is %s', (_, k) => {
    expect(() => nestedToFlat(k, 'K')).toThrow(new InputError('K', shapeMsg.slice(3)));
    expect(() => nestedToFlat(k, 'K')).toThrow(shapeMsg);
  });

  it('refuses an array-like object that is not an array', () => {
    expect(() => nestedToFlat({ length: 1, 0: [[[1]]] }, 'K')).toThrow(shapeMsg);
  });

  it('names the ragged entry at each depth, and its length', () => {
    const at = (mutate: (k: unknown[][][][]) => void) => {
      const k = nested(2, 2, 3) as unknown[][][][];
      mutate(k);
      return () => nestedToFlat(k, 'K');
    };
    expect(at((k) => k[1].pop())).toThrow('K: ragged kernel: entry [1] has 1 entries, expected 2');
    expect(at((k) => (k[1] = 5 as never))).toThrow('K: ragged kernel: entry [1] has no entries, expected 2');
    expect(at((k) => k[1][1].push([0, 0]))).toThrow('K: ragged kernel: entry [1][1] has 4 entries, expected 3');
    expect(at((k) => (k[0][1] = 'x' as never))).toThrow('K: ragged kernel: entry [0][1] has no entries, expected 3');
    expect(at((k) => k[1][0][2].pop())).toThrow('K: ragged kernel: entry [1][0][2] has 1 entries, expected 2');
    expect(at((k) => (k[0][1][2] = null as never))).toThrow('K: ragged kernel: entry [0][1][2] has no entries, expected 2');
  });

  it('names the entry that is not a finite number', () => {
    for (const bad of [NaN, Infinity, -Infinity, '1', null]) {
      const k = nested(2, 2, 2) as unknown[][][][];
      k[1][0][1][1] = bad;
      expect(() => nestedToFlat(k, 'K')).toThrow('K: entry [1][0][1][1] is not a finite number');
    }
    const k = nested(1, 1, 1) as unknown[][][][];
    k[0][0][0][0] = -0.5;
    expect(Array.from(nestedToFlat(k, 'K').data)).toEqual([-0.5]);
  });
});

describe('splitColumns / concatColumns', () => {
  it('splits at every example and joins back', () => {
    const k = nestedToFlat(nested(2, 2, 3), 'K');
    for (let m1 = 0; m1 <= 3; m1++) {
      const [a, b] = splitColumns(k, m1);
      expect(a.shape).toEqual([2, 2, m1, 2]);
      expect(b.shape).toEqual([2, 2, 3 - m1, 2]);
      // a holds columns j < m1, b the others, each in row-major order
      expect(flatToNested(a)).toEqual(nested(2, 2, 3).map((x) => x.map((y) => y.slice(0, m1))));
      expect(flatToNested(b)).toEqual(nested(2, 2, 3).map((x) => x.map((y) => y.slice(m1))));
      const back = concatColumns(a, b);
      expect(back.shape).toEqual([2, 2, 3, 2]);
      expect(Array.from(back.data)).toEqual(Array.from(k.data));
    }
  });

  it('refuses a split outside [0, M] or not at an integer', () => {
    const k = nestedToFlat(nested(1, 2, 3), 'K');
    for (const m1 of [-1, 4, 1.5, NaN])
      expect(() => splitColumns(k, m1)).toThrow(new InputError('kernel', `cannot split 3 columns at ${m1}`));
  });

  it('joins only kernels with the same rows and outputs', () => {
    const a: Kernel = { shape: [2, 2, 1, 2], data: new Float64Array(8) };
    const shapes: Kernel['shape'][] = [
      [3, 2, 1, 2],
      [2, 1, 1, 2],
      [2, 2, 1, 1],
    ];
    for (const shape of shapes)
      expect(() => concatColumns(a, { shape, data: new Float64Array(shape.reduce((x, y) => x * y)) })).toThrow(
        `kernel: cannot join kernels of shapes [2, 2, 1, 2] and [${shape.join(', ')}] along the columns`,
      );
    // rows [N·C] = 2, columns 1 + 2: row r is a's row r then b's row r
    const x: Kernel = { shape: [2, 1, 1, 1], data: Float64Array.from([1, 2]) };
    const y: Kernel = { shape: [2, 1, 2, 1], data: Float64Array.from([3, 4, 5, 6]) };
    const j = concatColumns(x, y);
    expect(j.shape).toEqual([2, 1, 3, 1]);
    expect(Array.from(j.data)).toEqual([1, 3, 4, 2, 5, 6]);
  });
});

describe('rows, tiles and shards', () => {
  it('flatRows / rowsOfFlat', () => {
    expect(
      Array.from(
        flatRows([
          [1, 2, 3],
          [4, 5, 6],
        ]),
      ),
    ).toEqual([1, 2, 3, 4, 5, 6]);
    expect(flatRows([])).toEqual(new Float64Array(0));
    expect(rowsOfFlat([1, 2, 3, 4, 5, 6], 3)).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(rowsOfFlat(Float64Array.from([1, 2, 3, 4, 5, 6]), 2)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(rowsOfFlat([], 0)).toEqual([]);
    expect(rowsOfFlat([1, 2], 0)).toEqual([]);
  });

  it('tileRows: [t·size, min(N, (t + 1)·size))', () => {
    expect(tileRows(0, 3, 8)).toEqual([0, 3]);
    expect(tileRows(1, 3, 8)).toEqual([3, 6]);
    expect(tileRows(2, 3, 8)).toEqual([6, 8]);
    expect(tileRows(0, 10, 8)).toEqual([0, 8]);
  });

  it('shardTiles: t ≡ index (mod count)', () => {
    expect(shardTiles(7, { index: 1, count: 3 })).toEqual([1, 4]);
    expect(shardTiles(7, { index: 0, count: 3 })).toEqual([0, 3, 6]);
    expect(shardTiles(6, { index: 2, count: 3 })).toEqual([2, 5]);
    expect(shardTiles(2, { index: 2, count: 3 })).toEqual([]);
    expect(shardTiles(3, { index: 0, count: 1 })).toEqual([0, 1, 2]);
  });
});
