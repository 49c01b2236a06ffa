// One command of the `lmkernel` CLI: its flags, help text and handler. defineCommand does the preamble
// every command shares (parse the flags, print the help on --help, check the required flags) and hands
// the handler its flags typed from the spec.
import { LmkError } from '../errors.js';
import { helpText, parseArgs, type Flag, type FlagSpec } from './args.js';

type ValueOf<F extends Flag> = F['type'] extends 'number'
  ? number
  : F['type'] extends 'boolean'
    ? boolean
    : F['type'] extends 'list'
      ? string[]
      : string;

/** The parsed flags: a flag with a default or `required: true` is always present. */
export type CommandArgs<S extends FlagSpec> = {
  -readonly [K in keyof S]: S[K] extends { default: NonNullable<unknown> } | { required: true }
    ? ValueOf<S[K]>
    : ValueOf<S[K]> | undefined;
} & { _: string[] };

export interface CommandDefinition<S extends FlagSpec> {
  /** The command's name as typed (`kernel`, `data k-shot`). */
  name: string;
  /** What follows the name in the usage line. */
  synopsis: string;
  spec: S;
  /** Positional arguments allowed (default none: an unexpected argument is an error). */
  positionals?: boolean;
  /** Text printed after the flags in `--help`. */
  notes?: string;
  /** The handler: the parsed flags, and the argument vector as given (e.g. to record the command line). */
  run(args: CommandArgs<S>, argv: readonly string[]): Promise<number>;
}

export interface Command {
  name: string;
  /** Text of `--help`. */
  help: string;
  /** Runs the command on its argument vector; resolves with the exit status. */
  run(argv: string[]): Promise<number>;
}

export function defineCommand<const S extends FlagSpec>(def: CommandDefinition<S>): Command {
  const help = helpText(def.name, def.synopsis, def.spec) + (def.notes ? `\n\n${def.notes}` : '');
  return {
    name: def.name,
    help,
    run: async (argv: string[]): Promise<number> => {
      const args = parseArgs(argv, def.spec, def.name);
      if (args.help) {
        console.log(help);
        return 0;
      }
      if (!def.positionals && args._.length > 0) throw new LmkError(`${def.name}: unexpected argument '${args._[0]}'`);
      for (const [k, s] of Object.entries(def.spec))
        if (s.required && (args[k] === undefined || args[k] === ''))
          throw new LmkError(`${def.name}: option '--${k}' is required`);
      return def.run(args as unknown as CommandArgs<S>, argv);
    },
  };
}

/**
 * Runs `job` with an AbortSignal that Ctrl-C (SIGINT) aborts, printing `message` first (what was kept);
 * the handler is removed afterwards.
 */
export async function withInterrupt<T>(job: (signal: AbortSignal) => Promise<T>, message?: string): Promise<T> {
  const ac = new AbortController();
  const onSig = () => {
    if (message) console.error(message);
    ac.abort();
  };
  process.once('SIGINT', onSig);
  try {
    return await job(ac.signal);
  } finally {
    process.removeListener('SIGINT', onSig);
  }
}
