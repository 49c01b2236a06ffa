// Option checks in one place (sharp's is.js style): predicates, and checks that throw an OptionError
// naming the option, what was expected and what was received.
import { OptionError } from './errors.js';

/** A finite safe integer (larger values cannot cross to the native int64 ids exactly). */
export const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/** A finite number (not NaN, not ±Infinity). */
export const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A plain object: not null, not an array. */
export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);

function intExpected(min: number, max?: number): string {
  if (max !== undefined) return `an integer in [${min}, ${max}]`;
  if (min === 1) return 'a positive integer';
  if (min === 0) return 'a non-negative integer';
  return `an integer >= ${min}`;
}

/** An integer in [min, max] (max optional); returns it. */
export function checkInt(value: unknown, option: string, min: number, max?: number): number {
  if (!isInt(value) || value < min || (max !== undefined && value > max))
    throw new OptionError(option, intExpected(min, max), value);
  return value;
}

export interface NumberBounds {
  min?: number;
  max?: number;
  /** The lower bound itself is not allowed (e.g. a learning rate > 0). */
  exclusiveMin?: boolean;
}

/** A finite number within the bounds; returns it. */
export function checkNumber(value: unknown, option: string, bounds: NumberBounds = {}): number {
  const { min, max, exclusiveMin } = bounds;
  const below = min !== undefined && isNumber(value) && (exclusiveMin ? value <= min : value < min);
  const above = max !== undefined && isNumber(value) && value > max;
  if (!isNumber(value) || below || above) {
    const lower = min === undefined ? undefined : `${exclusiveMin ? '>' : '>='} ${min}`;
    let expected = 'a finite number';
    if (lower !== undefined && max !== undefined) expected = `a number ${lower} and <= ${max}`;
    else if (lower !== undefined) expected = `a number ${lower}`;
    else if (max !== undefined) expected = `a number <= ${max}`;
    throw new OptionError(option, expected, value);
  }
  return value;
}

/** One of the allowed strings; `def` (when given) stands in for undefined. */
export function oneOf<T extends string>(value: unknown, option: string, allowed: readonly T[], def?: T): T {
  if (value === undefined && def !== undefined) return def;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value))
    throw new OptionError(option, `one of ${allowed.join(', ')}`, value);
  return value as T;
}

/** A non-empty array of integers >= min; returns it. */
export function checkIntList(values: unknown, option: string, min: number): number[] {
  if (!Array.isArray(values) || values.length === 0)
    throw new OptionError(option, `a non-empty array of integers >= ${min}`, values);
  values.forEach((v, i) => checkInt(v, `${option}[${i}]`, min));
  return values as number[];
}
