// The check of a downloaded LM-BFF archive against LM-BFF's own published checksums: princeton-nlp/LM-BFF
// ships `data/k-shot/checksum`, the md5 of the 230 files (15 tasks) that its generator writes from
// datasets.tar with `--mode k-shot --k 16` and its default seeds. lmkernel's generator (byte-identical to
// the reference's) is run on every task present in the extracted `original/` folder, and each file's md5
// is compared with that list: any difference names the task and the file. Tasks absent from the archive
// are reported, never invented. A copy of the list is shipped as lib/data/LM-BFF-16-SHOT-MD5SUMS.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../addon/load.js';
import { InputError, LmkError } from '../errors.js';
import { DEFAULT_KSHOT_SEEDS, generateForSeed, loadKShotSource } from './kshot.js';

export const LMBFF_CHECKSUMS_NAME = 'LM-BFF-16-SHOT-MD5SUMS';
/** LM-BFF's k and seeds for its published splits (the seed order is the generator's default; it matters for CoLA). */
export const LMBFF_CHECK_K = 16;
export const LMBFF_CHECK_SEEDS: readonly number[] = DEFAULT_KSHOT_SEEDS;

/** The shipped copy of LM-BFF's checksum list (lib/data/ in the package, from lib/ or dist/ alike). */
export function lmBffChecksumsPath(): string {
  return join(packageRoot(), 'lib', 'data', LMBFF_CHECKSUMS_NAME);
}

/** task → (path relative to the k-shot folder, e.g. `mr/16-13/train.csv` → md5), tasks in file order. */
export type LmBffChecksums = Map<string, Map<string, string>>;

/** Reads an md5sum-style list (`<md5>  <TASK>/16-<seed>/<file>` per line). */
export function readLmBffChecksums(path = lmBffChecksumsPath()): LmBffChecksums {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(
      path,
      `cannot read LM-BFF's checksum list (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  const out: LmBffChecksums = new Map();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const m = /^([0-9a-f]{32}) [ *]?([^/\s]+)\/(\S+)$/.exec(line.trim());
    if (!m) throw new InputError(`${path}:${i + 1}`, `not an md5sum line: ${JSON.stringify(line)}`);
    const [, md5, task, rest] = m;
    if (!out.has(task)) out.set(task, new Map());
    out.get(task)!.set(`${task}/${rest}`, md5);
  });
  return out;
}

export interface LmBffCheckResult {
  /** Tasks found in the archive whose every split matched. */
  verified: string[];
  /** Tasks of the checksum list that are not in the archive. */
  absent: string[];
  /** Files compared. */
  files: number;
}

export interface LmBffMismatch {
  task: string;
  file: string;
  /** md5 of lmkernel's file, or undefined when the generator did not produce it. */
  got?: string;
  want?: string;
}

/** A mismatch with LM-BFF's checksums: the archive is not LM-BFF's (or was changed). */
export class ChecksumMismatchError extends LmkError {
  constructor(
    readonly mismatches: LmBffMismatch[],
    message: string,
  ) {
    super(message, 'LMK_BAD_INPUT');
    this.name = 'ChecksumMismatchError';
  }
}

const md5 = (s: string): string => createHash('md5').update(Buffer.from(s, 'utf8')).digest('hex');

function isDir(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

/** The generated files of one task, path (relative to the k-shot folder) → md5. */
function taskMd5s(originalDir: string, task: string): Map<string, string> {
  let source;
  try {
    source = loadKShotSource(originalDir, task);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new InputError(`${task}`, `the archive's ${task} folder is incomplete or not LM-BFF's (${msg})`);
  }
  const got = new Map<string, string>();
  for (const seed of LMBFF_CHECK_SEEDS) {
    const { files } = generateForSeed(source, seed, { k: LMBFF_CHECK_K, layout: 'k-shot' });
    for (const f of files) got.set(f.path.replace(/^k-shot\//, ''), md5(f.content));
  }
  return got;
}

function mismatchesOf(task: string, want: Map<string, string>, got: Map<string, string>): LmBffMismatch[] {
  const out: LmBffMismatch[] = [];
  for (const [file, w] of want) if (got.get(file) !== w) out.push({ task, file, got: got.get(file), want: w });
  for (const [file, g] of got) if (!want.has(file)) out.push({ task, file, got: g });
  return out;
}

function describeMismatch(m: LmBffMismatch): string {
  if (m.got === undefined) return `${m.file}: not produced (LM-BFF's list has md5 ${m.want})`;
  if (m.want === undefined) return `${m.file}: produced, but not in LM-BFF's list`;
  return `${m.file}: md5 ${m.got}, LM-BFF published ${m.want}`;
}

/**
 * Generates LM-BFF's 16-shot splits for every task of `sums` present under `originalDir` and compares
 * their md5s. Throws ChecksumMismatchError listing, per task, the files that differ; InputError when a
 * present task's files cannot be read. `onTask` is called before each task is generated.
 */
export function verifyLmBffSplits(
  originalDir: string,
  sums: LmBffChecksums = readLmBffChecksums(),
  onTask?: (task: string, index: number, total: number) => void,
): LmBffCheckResult {
  const result: LmBffCheckResult = { verified: [], absent: [], files: 0 };
  const bad: LmBffMismatch[] = [];
  const tasks = [...sums.keys()];
  tasks.forEach((task, i) => {
    if (!isDir(join(originalDir, task))) {
      result.absent.push(task);
      return;
    }
    onTask?.(task, i, tasks.length);
    const want = sums.get(task)!;
    const mism = mismatchesOf(task, want, taskMd5s(originalDir, task));
    result.files += want.size;
    if (mism.length === 0) result.verified.push(task);
    else bad.push(...mism);
  });
  if (bad.length > 0) {
    const badTasks = [...new Set(bad.map((m) => m.task))];
    const lines = badTasks.map((t) => {
      const ms = bad.filter((m) => m.task === t);
      const more = ms.length > 3 ? ` (and ${ms.length - 3} more files of ${t})` : '';
      return `  ${t}: ${ms.slice(0, 3).map(describeMismatch).join('; ')}${more}`;
    });
    throw new ChecksumMismatchError(
      bad,
      `the archive's data does not reproduce LM-BFF's published 16-shot splits for ${badTasks.join(', ')} ` +
        `(a changed or foreign archive; nothing was installed):\n${lines.join('\n')}`,
    );
  }
  return result;
}
