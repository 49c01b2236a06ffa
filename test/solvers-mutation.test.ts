// The addon-free parts of lib/solvers (shapes.ts, gridOf) at their edges (docs/mutation.md): flat and nested
// kernels, logits of either layout with the shape named, targets, decoding, accuracy, grids.
import { describe, it, expect } from 'vitest';
import { isFlatKernel, shapeString, flattenKernel, flattenLogits, targetsOf, decode, accuracy } from '../lib/solvers/shapes.js';
import { gridOf } from '../lib/solvers/select.js';
import type { Kernel } from '../lib/types.js';

describe('solver shapes', () => {
  it('isFlatKernel: an object with a Float64Array data', () => {
    expect(isFlatKernel({ shape: [1, 1, 1, 1], data: new Float64Array(1) })).toBe(true);
    expect(isFlatKernel({ shape: [1, 1, 1, 1], data: [1] })).toBe(false);
    expect(isFlatKernel({ shape: [1, 1, 1, 1], data: new Float32Array(1) })).toBe(false);
    expect(isFlatKernel([[[[1]]]])).toBe(false);
    expect(isFlatKernel(null)).toBe(false);
    expect(isFlatKernel(undefined)).toBe(false);
    expect(shapeString([2, 3])).toBe('[2, 3]');
    expect(shapeString([])).toBe('[]');
  });

  it('flattenKernel: a flat kernel is checked against its shape; a nested one is flattened row-major', () => {
    const k: Kernel = { shape: [1, 2, 1, 2], data: Float64Array.from([1, 2, 3, 4]) };
    expect(flattenKernel(k, 'K')).toBe(k);
    expect(() => flattenKernel({ shape: [1, 2, 2, 2], data: new Float64Array(4) }, 'K')).toThrow(
      'K: a flat kernel of shape [1, 2, 2, 2] needs 8 values, received 4',
    );
    expect(() => flattenKernel({ shape: [4] as never, data: new Float64Array(4) }, 'K')).toThrow(
      'K: a flat kernel of shape [4] needs NaN values, received 4',
    );
    expect(() => flattenKernel({ shape: [1, 2, 2, 1, 1] as never, data: new Float64Array(4) }, 'K')).toThrow(
      'K: a flat kernel of shape [1, 2, 2, 1, 1] needs 4 values, received 4',
    );
    const n = flattenKernel([[[[1, 2]], [[3, 4]]]], 'K');
    expect(n.shape).toEqual([1, 2, 1, 2]);
    expect(Array.from(n.data)).toEqual([1, 2, 3, 4]);
  });

  it('flattenLogits: [N][C] rows or N·C values, index n·C + c; the shape named otherwise', () => {
    expect(
      Array.from(
        flattenLogits(
          [
            [1, 2, 3],
            [4, 5, 6],
          ],
          2,
          3,
          'f0',
        ),
      ),
    ).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(flattenLogits([1, 2, 3, 4, 5, 6], 2, 3, 'f0'))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(flattenLogits(Float64Array.from([7, 8]), 2, 1, 'f0'))).toEqual([7, 8]);
    expect(Array.from(flattenLogits([], 0, 3, 'f0'))).toEqual([]);
    expect(() => flattenLogits([[1, 2]], 2, 2, 'f0')).toThrow('f0: expected shape [2][2], received [1][2]');
    expect(() => flattenLogits([[1, 2], [3]], 2, 2, 'f0')).toThrow('f0: expected shape [2][2], received [2][2]');
    expect(() => flattenLogits([[1, 2], 3 as never], 2, 2, 'f0')).toThrow('f0: expected shape [2][2]');
    expect(() => flattenLogits([], 1, 2, 'f0')).toThrow('f0: expected shape [1][2], received [0][?]');
    expect(() => flattenLogits([1, 2, 3], 2, 2, 'f0')).toThrow('f0: expected 4 values (2 examples x 2 logits), received 3');
  });

  it('targetsOf: ±1 when binary, one-hot rows otherwise', () => {
    expect(Array.from(targetsOf([0, 1, 1], 2, true))).toEqual([-1, 1, 1]);
    expect(Array.from(targetsOf([2, 0], 3, false))).toEqual([0, 0, 1, 1, 0, 0]);
    expect(Array.from(targetsOf([], 3, false))).toEqual([]);
  });

  it('decode: binary scores [-p, p]; multi-class rows; argmax labels (ties to the first)', () => {
    expect(decode([0.5, -2, 0], 3, 2, true)).toEqual({
      scores: [
        [-0.5, 0.5],
        [2, -2],
        [-0, 0],
      ],
      labels: [1, 0, 0],
    });
    expect(decode([1, 3, 2, 5, 5, 0], 2, 3, false)).toEqual({
      scores: [
        [1, 3, 2],
        [5, 5, 0],
      ],
      labels: [1, 0],
    });
  });

  it('accuracy: the fraction equal, NaN without labels', () => {
    expect(accuracy([1, 0, 1, 1], [1, 1, 1, 0])).toBe(0.5);
    expect(accuracy([2], [2])).toBe(1);
    expect(accuracy([], [])).toBeNaN();
  });
});

describe('gridOf', () => {
  it('the cartesian product, the first key varying slowest; an empty or non-array axis refused', () => {
    expect(gridOf({ C: [0.1, 1], f0Scaling: [0, 10, 100] })).toEqual([
      { C: 0.1, f0Scaling: 0 },
      { C: 0.1, f0Scaling: 10 },
      { C: 0.1, f0Scaling: 100 },
      { C: 1, f0Scaling: 0 },
      { C: 1, f0Scaling: 10 },
      { C: 1, f0Scaling: 100 },
    ]);
    expect(gridOf({})).toEqual([{}]);
    expect(() => gridOf({ C: [] })).toThrow("option 'grid.C': expected a non-empty array, received an array of length 0");
    expect(() => gridOf({ C: 1 as never })).toThrow("option 'grid.C': expected a non-empty array, received 1");
  });
});
