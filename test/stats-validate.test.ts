// lib/stats.ts and lib/validate.ts on their own (docs/mutation.md): small inputs with hand-computed answers,
// every check at its bounds, and the exact messages.
import { describe, it, expect } from 'vitest';
import { mean, populationStd, sampleStd, meanStd, l2Norm, relativeDifference, argmaxRows } from '../lib/stats.js';
import { isInt, isNumber, isPlainObject, checkInt, checkNumber, oneOf, checkIntList } from '../lib/validate.js';
import { OptionError } from '../lib/errors.js';

describe('stats', () => {
  it('mean: (1 + 2 + 6) / 3 = 3, typed arrays alike, empty -> NaN', () => {
    expect(mean([1, 2, 6])).toBe(3);
    expect(mean(new Float64Array([-4, 0.5]))).toBe(-1.75);
    expect(mean([7])).toBe(7);
    expect(mean([])).toBeNaN();
  });

  it('population and sample std: [1, 2, 6] has squared deviations 4 + 1 + 9 = 14', () => {
    expect(populationStd([1, 2, 6])).toBe(Math.sqrt(14 / 3));
    expect(sampleStd([1, 2, 6])).toBe(Math.sqrt(14 / 2));
    expect(populationStd([5])).toBe(0);
    expect(populationStd([])).toBeNaN();
    expect(sampleStd([5])).toBeNaN();
    expect(sampleStd([])).toBeNaN();
    expect(sampleStd([3, 5])).toBe(Math.sqrt(2));
    expect(meanStd([2, 4])).toEqual({ mean: 3, std: 1 });
  });

  it('l2Norm: ‖(3, -4)‖ = 5, ‖()‖ = 0', () => {
    expect(l2Norm([3, -4])).toBe(5);
    expect(l2Norm(new Float32Array([1, 2, 2]))).toBe(3);
    expect(l2Norm([])).toBe(0);
  });

  it('relativeDifference ‖s·a − b‖ / ‖b‖ with and without the scale', () => {
    // a = (1, 1), b = (3, 4): ‖a − b‖ = √(4 + 9) = √13, ‖b‖ = 5
    expect(relativeDifference([1, 1], [3, 4])).toBe(Math.sqrt(13) / 5);
    // s = 2: ‖(2, 2) − (3, 4)‖ = √(1 + 4) = √5
    expect(relativeDifference([1, 1], [3, 4], 2)).toBe(Math.sqrt(5) / 5);
    expect(relativeDifference([3, 4], [3, 4])).toBe(0);
    expect(() => relativeDifference([1, 2, 3], [1, 2])).toThrow(
      new OptionError('kernels', 'two kernels of the same size (2)', 3),
    );
    expect(() => relativeDifference([1, 2, 3], [1, 2])).toThrow(
      "option 'kernels': expected two kernels of the same size (2), received 3",
    );
  });

  it('argmaxRows: ties go to the first maximum, one-column and empty rows give 0', () => {
    expect(argmaxRows([[0.1, 0.7, 0.2], [5, 5, 1], [1, 2, 2], [-3], [], [0, -1, 4]])).toEqual([1, 0, 1, 0, 0, 2]);
  });
});

describe('validate', () => {
  it('isInt: safe integers only', () => {
    expect([0, -3, 2 ** 53 - 1].map(isInt)).toEqual([true, true, true]);
    expect([2 ** 53, 1.5, NaN, Infinity, '1', null, undefined, 1n].map(isInt)).toEqual(Array(8).fill(false));
  });

  it('isNumber: finite numbers only', () => {
    expect([0, -1.5, 1e308].map(isNumber)).toEqual([true, true, true]);
    expect([NaN, Infinity, -Infinity, '1', null, undefined].map(isNumber)).toEqual(Array(6).fill(false));
  });

  it('isPlainObject: not null, not an array, not a typed array', () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject({ a: 1 })).toBe(true);
    expect(isPlainObject(null)).toBe(false);
    expect(isPlainObject([])).toBe(false);
    expect(isPlainObject(new Float64Array(2))).toBe(false);
    expect(isPlainObject(new DataView(new ArrayBuffer(2)))).toBe(false);
    expect(isPlainObject('x')).toBe(false);
    expect(isPlainObject(undefined)).toBe(false);
  });

  it('checkInt accepts min and max themselves, refuses one beyond, with the expected range in the message', () => {
    expect(checkInt(2, 'k', 2, 5)).toBe(2);
    expect(checkInt(5, 'k', 2, 5)).toBe(5);
    expect(() => checkInt(1, 'k', 2, 5)).toThrow("option 'k': expected an integer in [2, 5], received 1");
    expect(() => checkInt(6, 'k', 2, 5)).toThrow("option 'k': expected an integer in [2, 5], received 6");
    expect(() => checkInt(2.5, 'k', 2, 5)).toThrow("option 'k': expected an integer in [2, 5], received 2.5");
    expect(checkInt(10 ** 12, 'n', 1)).toBe(10 ** 12);
    expect(() => checkInt(0, 'n', 1)).toThrow("option 'n': expected a positive integer, received 0");
    expect(() => checkInt(-1, 'n', 0)).toThrow("option 'n': expected a non-negative integer, received -1");
    expect(() => checkInt(2, 'n', 3)).toThrow("option 'n': expected an integer >= 3, received 2");
    expect(() => checkInt(-6, 'n', -5)).toThrow("option 'n': expected an integer >= -5, received -6");
    expect(() => checkInt('3', 'n', 0)).toThrow(`option 'n': expected a non-negative integer, received "3"`);
    expect(() => checkInt(null, 'n', 0)).toThrow(OptionError);
  });

  it('checkNumber: each bound inclusive or exclusive, each message', () => {
    expect(checkNumber(-1e300, 'x')).toBe(-1e300);
    expect(() => checkNumber(NaN, 'x')).toThrow("option 'x': expected a finite number, received NaN");
    expect(() => checkNumber('1', 'x')).toThrow(`option 'x': expected a finite number, received "1"`);
    expect(checkNumber(0, 'x', { min: 0 })).toBe(0);
    expect(() => checkNumber(-0.5, 'x', { min: 0 })).toThrow("option 'x': expected a number >= 0, received -0.5");
    expect(() => checkNumber(0, 'lr', { min: 0, exclusiveMin: true })).toThrow("option 'lr': expected a number > 0, received 0");
    expect(checkNumber(1e-9, 'lr', { min: 0, exclusiveMin: true })).toBe(1e-9);
    expect(checkNumber(1, 'p', { max: 1 })).toBe(1);
    expect(() => checkNumber(1.5, 'p', { max: 1 })).toThrow("option 'p': expected a number <= 1, received 1.5");
    expect(checkNumber(0, 'p', { min: 0, max: 1 })).toBe(0);
    expect(checkNumber(1, 'p', { min: 0, max: 1 })).toBe(1);
    expect(() => checkNumber(2, 'p', { min: 0, max: 1 })).toThrow("option 'p': expected a number >= 0 and <= 1, received 2");
    expect(() => checkNumber(-1, 'p', { min: 0, max: 1, exclusiveMin: true })).toThrow(
      "option 'p': expected a number > 0 and <= 1, received -1",
    );
    expect(() => checkNumber(Infinity, 'p', { min: 0, max: 1 })).toThrow(
      "option 'p': expected a number >= 0 and <= 1, received Infinity",
    );
  });

  it('oneOf: the allowed strings, the default for undefined only', () => {
    expect(oneOf('b', 'mode', ['a', 'b'])).toBe('b');
    expect(oneOf(undefined, 'mode', ['a', 'b'], 'a')).toBe('a');
    expect(() => oneOf(undefined, 'mode', ['a', 'b'])).toThrow("option 'mode': expected one of a, b, received undefined");
    expect(() => oneOf('c', 'mode', ['a', 'b'], 'a')).toThrow(`option 'mode': expected one of a, b, received "c"`);
    expect(() => oneOf(1, 'mode', ['a', 'b'])).toThrow("option 'mode': expected one of a, b, received 1");
  });

  it('checkIntList: non-empty, every entry checked with its index', () => {
    expect(checkIntList([3, 1], 'seeds', 1)).toEqual([3, 1]);
    expect(() => checkIntList([], 'seeds', 1)).toThrow(
      "option 'seeds': expected a non-empty array of integers >= 1, received an array of length 0",
    );
    expect(() => checkIntList(5, 'seeds', 0)).toThrow("option 'seeds': expected a non-empty array of integers >= 0, received 5");
    expect(() => checkIntList([1, 0], 'seeds', 1)).toThrow("option 'seeds[1]': expected a positive integer, received 0");
  });
});
