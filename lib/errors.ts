// Errors that name what is wrong and where: the option or file, the expected and the received value.

export class LmkError extends Error {
  constructor(
    message: string,
    readonly code: string = 'LMK_ERROR',
  ) {
    super(message);
    this.name = 'LmkError';
  }
}

export class OptionError extends LmkError {
  constructor(
    readonly option: string,
    expected: string,
    received: unknown,
  ) {
    super(`option '${option}': expected ${expected}, received ${describe(received)}`, 'LMK_BAD_OPTION');
    this.name = 'OptionError';
  }
}

export class InputError extends LmkError {
  constructor(
    readonly where: string,
    message: string,
  ) {
    super(`${where}: ${message}`, 'LMK_BAD_INPUT');
    this.name = 'InputError';
  }
}

/** An error reported by the native core (libtorch side): the message names the file, tensor or value. */
export class NativeError extends LmkError {
  constructor(message: string, code = 'LMK_NATIVE') {
    super(message, code);
    this.name = 'NativeError';
  }
}

/** The computation would not fit in memory (checked before allocating; the message names the sizes). */
export class ResourceError extends LmkError {
  constructor(message: string) {
    super(message, 'LMK_NO_MEMORY');
    this.name = 'ResourceError';
  }
}

/** Native rejections arrive as plain Errors: give them a typed class (AbortError, TypeError kept). */
export function typedNativeError(e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof LmkError || e.name !== 'Error') return e;
  const err = e.message.startsWith('not enough memory') ? new ResourceError(e.message) : new NativeError(e.message);
  return err;
}

export function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  return typeof v;
}
