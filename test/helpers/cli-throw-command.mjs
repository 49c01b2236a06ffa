// A stand-in command module whose run() throws the error LMK_TEST_THROW names (lmk, option, abort, type,
// error, range), to test the dispatcher's error mapping (test/cli.test.ts).
const { LmkError, OptionError } = await import(new URL('../../dist/errors.js', import.meta.url).href);

export async function run() {
  const kind = process.env.LMK_TEST_THROW;
  if (kind === 'lmk') throw new LmkError('an LmkError from the command');
  if (kind === 'option') throw new OptionError('--x', 'a number', 'y');
  if (kind === 'abort') {
    const e = new Error('the operation was aborted');
    e.name = 'AbortError';
    throw e;
  }
  if (kind === 'type') throw new TypeError('a TypeError from the command');
  if (kind === 'error') throw new Error('a plain Error from the command');
  if (kind === 'range') throw new RangeError('a RangeError from the command');
  return 0;
}
