// `lmkernel data ...`: data tools. `data download` installs LM-BFF's `original` data as LM-Kernel-FT's
// download_dataset.sh does (checked against LM-BFF's published checksums); `data k-shot` writes the k-shot
// splits of the LM-BFF layout exactly as LM-Kernel-FT's `tools/generate_k_shot_data.py` does.
import { join } from 'node:path';
import { LmkError, OptionError, InputError } from '../errors.js';
import { writeFileAtomic } from '../io.js';
import {
  generateKShot,
  kshotTaskName,
  DEFAULT_KSHOT_SEEDS,
  DEFAULT_KSHOT_TASKS,
  KSHOT_LAYOUTS,
  type GenerateKShotResult,
  type KShotFile,
  type KShotLayout,
} from '../data/kshot.js';
import { checkInt } from '../validate.js';
import { flagAsGiven } from './args.js';
import { defineCommand } from './command.js';
import { downloadCommand } from './data-download.js';

function usage(): string {
  return (
    'usage: lmkernel data <subcommand> [options]\n\nsubcommands:\n' +
    "  download   fetch LM-BFF's datasets.tar and install its `original` data (GLUE SST-2, rebalanced CR)\n" +
    '  k-shot     write k-shot train/dev/test splits from the LM-BFF `original` data\n\n' +
    'Run `lmkernel data <subcommand> --help` for its options.'
  );
}

function parseSeeds(values: string[]): number[] {
  const seeds = values.map((v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n > 0xffffffff)
      throw new OptionError('--seeds', 'integers in [0, 2**32 - 1]', v);
    return n;
  });
  if (seeds.length === 0) throw new OptionError('--seeds', 'at least one seed', '');
  return seeds;
}

/** One warning per (task, label) whose bucket is shorter than train + dev need. */
function warnShortfalls(result: GenerateKShotResult, k: number): void {
  const seen = new Set<string>();
  for (const s of result.shortfalls) {
    const key = `${s.task}\u0000${s.label}`;
    if (seen.has(key)) continue;
    seen.add(key);
    console.error(
      `warning: ${s.task}: label ${JSON.stringify(s.label)} has ${s.available} training rows, fewer than the ${s.needed} that k=${k} needs for train and dev; its splits are short (as in the reference; --strict makes this an error)`,
    );
  }
}

export const kshotCommand = defineCommand({
  name: 'data k-shot',
  synopsis: '--data-dir DIR --out DIR --k K [options]',
  positionals: true,
  spec: {
    'data-dir': { type: 'string', help: 'the LM-BFF `original` directory (<dir>/<TASK>/train.tsv|csv, ...)', required: true },
    out: { type: 'string', help: 'output directory; files go to <out>/<layout>/<TASK>/<k>-<seed>/', required: true },
    k: { type: 'number', help: 'examples per label in train (and in dev; 10x in the k-shot-10x layout)', required: true },
    seeds: {
      type: 'list',
      help: 'comma-separated seeds, in order (the order matters for CoLA)',
      default: DEFAULT_KSHOT_SEEDS.map(String),
    },
    layout: { type: 'string', help: `one of ${KSHOT_LAYOUTS.join(', ')}`, default: 'k-shot', aliases: ['mode'] },
    task: {
      type: 'list',
      help: `task(s), case-insensitive; repeat or comma-separate (default: ${DEFAULT_KSHOT_TASKS.join(' ')})`,
    },
    strict: {
      type: 'boolean',
      help: 'fail when a label has fewer rows than train+dev need (the reference silently writes fewer)',
    },
    quiet: { type: 'boolean', help: 'print nothing but warnings and errors' },
  },
  async run(args) {
    if (args._.length > 0) throw new LmkError(`data k-shot: unexpected argument '${args._[0]}' (use --task for tasks)`);
    const k = checkInt(args.k, '--k', 1);
    const layout = args.layout as KShotLayout;
    if (!KSHOT_LAYOUTS.includes(layout))
      throw new OptionError(flagAsGiven(args, 'layout'), `one of ${KSHOT_LAYOUTS.join(', ')}`, layout);
    const seeds = parseSeeds(args.seeds);
    const tasks = (args.task && args.task.length > 0 ? args.task : [...DEFAULT_KSHOT_TASKS]).map(kshotTaskName);
    // Everything is generated in memory first, so an error leaves no partial output; then each file is
    // written to a temporary name and renamed.
    const files: KShotFile[] = [];
    let result;
    try {
      result = generateKShot({
        dataDir: args['data-dir'],
        k,
        seeds,
        layout,
        tasks,
        strict: Boolean(args.strict),
        onFile: (f) => files.push(f),
      });
    } catch (e) {
      if (!args.task && e instanceof InputError && e.message.endsWith('not found'))
        throw new LmkError(
          `${e.message} (no --task given, so the reference's default list was used: ${DEFAULT_KSHOT_TASKS.join(' ')}; pick tasks with --task)`,
          'LMK_BAD_INPUT',
        );
      throw e;
    }
    for (const f of files) writeFileAtomic(join(args.out, f.path), f.content);
    warnShortfalls(result, k);
    if (!args.quiet)
      console.log(
        `wrote ${files.length} files under ${join(args.out, layout)} (k=${k}, seeds ${seeds.join(',')}, tasks ${tasks.join(' ')})`,
      );
    return 0;
  },
});

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(usage());
    return sub ? 0 : 2;
  }
  if (sub === 'k-shot') return kshotCommand.run(rest);
  if (sub === 'download') return downloadCommand.run(rest);
  console.error(`lmkernel data: unknown subcommand '${sub}'\n\n${usage()}`);
  return 2;
}
