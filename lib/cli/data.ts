// `lmkernel data ...`: data tools. `data k-shot` writes the k-shot splits of the LM-BFF layout exactly as
// LM-Kernel-FT's `tools/generate_k_shot_data.py` does (byte-identical files).
import { join } from 'node:path';
import { LmkError, OptionError, InputError } from '../errors.js';
import { writeFileAtomic } from '../io.js';
import { parseArgs, helpText, requireFlag, type FlagSpec } from './args.js';
import {
  generateKShot, kshotTaskName, DEFAULT_KSHOT_SEEDS, DEFAULT_KSHOT_TASKS, KSHOT_MODES, type KShotFile, type KShotMode,
} from '../data/kshot.js';

const KSHOT_FLAGS: FlagSpec = {
  'data-dir': { type: 'string', help: 'the LM-BFF `original` directory (<dir>/<TASK>/train.tsv|csv, ...)' },
  out: { type: 'string', help: 'output directory; files go to <out>/<mode>/<TASK>/<k>-<seed>/' },
  k: { type: 'number', help: 'examples per label in train (and in dev; 10x in k-shot-10x mode)' },
  seeds: { type: 'list', help: 'comma-separated seeds, in order (the order matters for CoLA)', default: [...DEFAULT_KSHOT_SEEDS].map(String) },
  mode: { type: 'string', help: `one of ${KSHOT_MODES.join(', ')}`, default: 'k-shot' },
  task: { type: 'list', help: `task(s), case-insensitive; repeat or comma-separate (default: ${DEFAULT_KSHOT_TASKS.join(' ')})` },
  strict: { type: 'boolean', help: 'fail when a label has fewer rows than train+dev need (the reference silently writes fewer)' },
  quiet: { type: 'boolean', help: 'print nothing but warnings and errors' },
};

function usage(): string {
  return 'usage: lmkernel data <subcommand> [options]\n\nsubcommands:\n' +
    '  k-shot     write k-shot train/dev/test splits from the LM-BFF `original` data\n\n' +
    'Run `lmkernel data k-shot --help` for its options.';
}

function parseSeeds(values: string[]): number[] {
  return values.map((v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n > 0xffffffff) throw new OptionError('--seeds', 'integers in [0, 2**32 - 1]', v);
    return n;
  });
}

async function kshot(argv: string[]): Promise<number> {
  const cmd = 'data k-shot';
  const args = parseArgs(argv, KSHOT_FLAGS, cmd);
  if (args.help) {
    console.log(helpText(cmd, '--data-dir DIR --out DIR --k K [options]', KSHOT_FLAGS));
    return 0;
  }
  if (args._.length > 0) throw new LmkError(`${cmd}: unexpected argument '${args._[0]}' (use --task for tasks)`);
  const dataDir = requireFlag<string>(args, 'data-dir', cmd);
  const outDir = requireFlag<string>(args, 'out', cmd);
  const k = requireFlag<number>(args, 'k', cmd);
  if (!Number.isInteger(k) || k < 1) throw new OptionError('--k', 'a positive integer', k);
  const mode = String(args.mode) as KShotMode;
  if (!KSHOT_MODES.includes(mode)) throw new OptionError('--mode', `one of ${KSHOT_MODES.join(', ')}`, mode);
  const seeds = parseSeeds(args.seeds as string[]);
  if (seeds.length === 0) throw new OptionError('--seeds', 'at least one seed', '');
  const taskArg = args.task as string[] | undefined;
  const tasks = (taskArg && taskArg.length > 0 ? taskArg : [...DEFAULT_KSHOT_TASKS]).map(kshotTaskName);

  // Everything is generated in memory first, so an error leaves no partial output; then each file is
  // written to a temporary name and renamed.
  const files: KShotFile[] = [];
  let result;
  try {
    result = generateKShot({ dataDir, k, seeds, mode, tasks, strict: Boolean(args.strict), onFile: (f) => files.push(f) });
  } catch (e) {
    if (!taskArg && e instanceof InputError && e.message.endsWith('not found')) {
      throw new LmkError(`${(e as Error).message} (no --task given, so the reference's default list was used: ${DEFAULT_KSHOT_TASKS.join(' ')}; pick tasks with --task)`, 'LMK_BAD_INPUT');
    }
    throw e;
  }
  for (const f of files) writeFileAtomic(join(outDir, f.path), f.content);
  const seen = new Set<string>();
  for (const s of result.shortfalls) {
    const key = `${s.task}\u0000${s.label}`;
    if (seen.has(key)) continue;
    seen.add(key);
    console.error(`warning: ${s.task}: label ${JSON.stringify(s.label)} has ${s.available} training rows, fewer than the ${s.needed} that k=${k} needs for train and dev; its splits are short (as in the reference; --strict makes this an error)`);
  }
  if (!args.quiet) {
    console.log(`wrote ${files.length} files under ${join(outDir, mode)} (k=${k}, seeds ${seeds.join(',')}, tasks ${tasks.join(' ')})`);
  }
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(usage());
    return sub ? 0 : 2;
  }
  if (sub === 'k-shot') return kshot(rest);
  console.error(`lmkernel data: unknown subcommand '${sub}'\n\n${usage()}`);
  return 2;
}
