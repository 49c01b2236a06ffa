// A small, strict argument parser for the CLI: unknown flags and missing values are errors that name the flag.
import { LmkError } from '../errors.js';

export interface FlagSpec {
  [name: string]: { type: 'string' | 'number' | 'boolean' | 'list'; help: string; default?: unknown };
}

export type ParsedArgs = Record<string, string | number | boolean | string[] | undefined> & { _: string[] };

export function parseArgs(argv: string[], spec: FlagSpec, command: string): ParsedArgs {
  const out: ParsedArgs = { _: [] };
  for (const [k, s] of Object.entries(spec)) if (s.default !== undefined) out[k] = s.default as never;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      out._.push(a);
      continue;
    }
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (name === 'help') {
      out.help = true;
      continue;
    }
    const s = spec[name];
    if (!s) throw new LmkError(`${command}: unknown option '--${name}' (known: ${Object.keys(spec).map((k) => '--' + k).join(', ')})`);
    if (s.type === 'boolean') {
      out[name] = value === undefined ? true : value !== 'false';
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new LmkError(`${command}: option '--${name}' needs a value`);
      value = argv[++i];
    }
    if (s.type === 'number') {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n)) throw new LmkError(`${command}: option '--${name}' expects a number, received '${value}'`);
      out[name] = n;
    } else if (s.type === 'list') {
      const prev = Array.isArray(out[name]) && out[name] !== s.default ? (out[name] as string[]) : [];
      out[name] = [...prev, ...value.split(',').map((x) => x.trim()).filter((x) => x.length > 0)];
    } else {
      out[name] = value;
    }
  }
  return out;
}

export function helpText(command: string, synopsis: string, spec: FlagSpec): string {
  const rows = Object.entries(spec).map(([k, s]) => `  --${k.padEnd(24)} ${s.help}${s.default !== undefined ? ` (default ${JSON.stringify(s.default)})` : ''}`);
  return `usage: lmkernel ${command} ${synopsis}\n\n${rows.join('\n')}`;
}

export function requireFlag<T>(args: ParsedArgs, name: string, command: string): T {
  const v = args[name];
  if (v === undefined || v === '') throw new LmkError(`${command}: option '--${name}' is required`);
  return v as T;
}
