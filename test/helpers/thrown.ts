// The message of an error a call throws, after checking the error's class (the tests of named refusals).
import { expect } from 'vitest';

/** f()'s error message, checked to be an instance of `type`; 'no error' when f returns. */
export function thrownMessage(f: () => unknown, type: new (...args: never[]) => Error): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(type);
    return (e as Error).message;
  }
  return 'no error';
}
