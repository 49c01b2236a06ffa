// Errors that name what is wrong and where: the option or file, the expected and the received value.

export class LmkError extends Error {
  constructor(message: string, readonly code: string = 'LMK_ERROR') {
    super(message);
    this.name = 'LmkError';
  }
}

export class OptionError extends LmkError {
  constructor(readonly option: string, expected: string, received: unknown) {
    super(`option '${option}': expected ${expected}, received ${describe(received)}`, 'LMK_BAD_OPTION');
    this.name = 'OptionError';
  }
}

export class InputError extends LmkError {
  constructor(readonly where: string, message: string) {
    super(`${where}: ${message}`, 'LMK_BAD_INPUT');
    this.name = 'InputError';
  }
}

export function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  return typeof v;
}
