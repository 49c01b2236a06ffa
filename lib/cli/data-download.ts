// `lmkernel data download`: LM-BFF's datasets.tar → <out>/original, as LM-Kernel-FT's download_dataset.sh.
import { downloadData, LMBFF_DATASETS_URL, type DownloadDataResult } from '../data/download.js';
import { defineCommand, withInterrupt } from './command.js';
import { cliProgressBar } from './progress.js';

const MB = 1024 * 1024;

function summary(r: DownloadDataResult): string {
  const lines = [`installed ${r.tasks.length} task folders under ${r.original}: ${r.tasks.join(' ')}`];
  lines.push(
    `checked against LM-BFF's published 16-shot checksums: ${r.verified.join(' ')} (${r.checkedFiles} files, all equal)`,
  );
  if (r.absent.length > 0) lines.push(`LM-BFF tasks not in the archive (nothing to check): ${r.absent.join(' ')}`);
  if (r.glueSst2) lines.push("SST-2 is GLUE SST-2 (LM-BFF's own SST-2 kept as original/SST-2-original)");
  if (r.cr === 'rebalanced') lines.push("cr rebalanced by the archive's cr/process.py (250 test examples per label)");
  return lines.join('\n');
}

export const downloadCommand = defineCommand({
  name: 'data download',
  synopsis: '--out DIR [--url URL] [options]',
  spec: {
    out: {
      type: 'string',
      help: 'output folder (must not exist, or be empty); the data goes to <out>/original/<TASK>/',
      required: true,
    },
    url: { type: 'string', help: "where to fetch LM-BFF's datasets.tar", default: LMBFF_DATASETS_URL },
    archive: { type: 'string', help: 'use this datasets.tar on disk instead of downloading' },
    'keep-archive': { type: 'boolean', help: 'keep the downloaded archive (beside <out>, as .<out>.datasets.tar)' },
    python: { type: 'string', help: 'the Python that runs cr/process.py (default $LMKERNEL_PYTHON, else python3)' },
    quiet: { type: 'boolean', help: 'print nothing but notes and errors' },
  },
  notes:
    'An interrupted download continues where it stopped when the command is run again. Nothing is installed\n' +
    "unless every LM-BFF task in the archive reproduces LM-BFF's published 16-shot checksums\n" +
    '(lib/data/LM-BFF-16-SHOT-MD5SUMS). Then, as download_dataset.sh: GLUE SST-2 replaces SST-2 and cr is\n' +
    'rebalanced with `python3 process.py` (needs pandas); without it cr is left out. AG News is not in the\n' +
    'archive: put the standard AG News CSV at <out>/original/ag_news/{train,test}.csv.',
  async run(args) {
    const bar = cliProgressBar('data', !args.quiet && process.stderr.isTTY === true);
    let result: DownloadDataResult;
    try {
      result = await withInterrupt(
        (signal) =>
          downloadData({
            out: args.out,
            url: args.url,
            archive: args.archive,
            keepArchive: Boolean(args['keep-archive']),
            python: args.python,
            signal,
            onProgress: (phase, done, total) =>
              phase === 'verify'
                ? bar.update(phase, done, total)
                : bar.update(`${phase} (MiB)`, Math.floor(done / MB), Math.ceil(total / MB)),
          }),
        'interrupted: the partial download is kept; run the command again to continue',
      );
    } finally {
      bar.stop();
    }
    if (!args.quiet) console.log(summary(result));
    for (const n of result.notes) console.error(`note: ${n}`);
    return 0;
  },
});
