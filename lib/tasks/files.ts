// Reading task files: strict UTF-8, and errors that name the file.
import { readFileSync, existsSync } from 'node:fs';
import { InputError } from '../errors.js';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Reads a UTF-8 text file; the BOM, if any, is kept. Missing or undecodable files are `InputError`s. */
export function readTextFile(path: string, what: string): string {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(path, `${what} not found`);
    throw new InputError(path, `cannot read ${what}: ${(e as Error).message}`);
  }
  try {
    return decoder.decode(buf);
  } catch {
    throw new InputError(path, `${what} is not valid UTF-8`);
  }
}

export function fileExists(path: string): boolean {
  return existsSync(path);
}
