// A small, strict argument parser for the CLI: unknown flags and missing values are errors that name the flag.
import { LmkError } from '../errors.js';

export type FlagType = 'string' | 'number' | 'boolean' | 'list';

export interface Flag {
  type: FlagType;
  help: string;
  default?: unknown;
  /** Old or alternative names that keep working (`--mode` for `--layout`). */
  aliases?: readonly string[];
  /** Missing or empty: an error that names the flag (checked by defineCommand). */
  required?: boolean;
}

export interface FlagSpec {
  [name: string]: Flag;
}

export type ParsedArgs = Record<string, string | number | boolean | string[] | undefined> & { _: string[] };

// The name each flag was given under (an alias when one was used), so that messages name what was typed.
const spelled = new WeakMap<object, Map<string, string>>();

/** `--name` as the user typed it (`--mode` when the alias of `--layout` was used). */
export function flagAsGiven(args: object, name: string): string {
  return '--' + (spelled.get(args)?.get(name) ?? name);
}

/** The flag of `name`, whether it is the flag's name or one of its aliases. */
function lookup(spec: FlagSpec, name: string): [string, Flag] | undefined {
  if (Object.hasOwn(spec, name)) return [name, spec[name]];
  for (const [k, s] of Object.entries(spec)) if (s.aliases?.includes(name)) return [k, s];
  return undefined;
}

function parseValue(command: string, flag: string, s: Flag, value: string, prev: unknown): string | number | string[] {
  if (s.type === 'number') {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n))
      throw new LmkError(`${command}: option '--${flag}' expects a number, received '${value}'`);
    return n;
  }
  if (s.type === 'list') {
    const before = Array.isArray(prev) && prev !== s.default ? (prev as string[]) : [];
    return [
      ...before,
      ...value
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x.length > 0),
    ];
  }
  return value;
}

export function parseArgs(argv: string[], spec: FlagSpec, command: string): ParsedArgs {
  const out: ParsedArgs = { _: [] };
  const given = new Map<string, string>();
  spelled.set(out, given);
  for (const [k, s] of Object.entries(spec)) if (s.default !== undefined) out[k] = s.default as never;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      out._.push(a);
      continue;
    }
    let typed = a.slice(2);
    let value: string | undefined;
    const eq = typed.indexOf('=');
    if (eq >= 0) {
      value = typed.slice(eq + 1);
      typed = typed.slice(0, eq);
    }
    if (typed === 'help') {
      out.help = true;
      continue;
    }
    const found = lookup(spec, typed);
    if (!found)
      throw new LmkError(
        `${command}: unknown option '--${typed}' (known: ${Object.keys(spec)
          .map((k) => '--' + k)
          .join(', ')})`,
      );
    const [name, s] = found;
    given.set(name, typed);
    if (s.type === 'boolean') {
      out[name] = value === undefined ? true : value !== 'false';
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new LmkError(`${command}: option '--${typed}' needs a value`);
      value = argv[++i];
    }
    out[name] = parseValue(command, typed, s, value, out[name]);
  }
  return out;
}

export function helpText(command: string, synopsis: string, spec: FlagSpec): string {
  const rows = Object.entries(spec).map(([k, s]) => {
    const dflt = s.default !== undefined ? ` (default ${JSON.stringify(s.default)})` : '';
    const aliases = s.aliases && s.aliases.length > 0 ? ` (also ${s.aliases.map((x) => '--' + x).join(', ')})` : '';
    return `  --${k.padEnd(24)} ${s.help}${dflt}${aliases}`;
  });
  return `usage: lmkernel ${command} ${synopsis}\n\n${rows.join('\n')}`;
}

export function requireFlag<T>(args: ParsedArgs, name: string, command: string): T {
  const v = args[name];
  if (v === undefined || v === '') throw new LmkError(`${command}: option '--${name}' is required`);
  return v as T;
}
