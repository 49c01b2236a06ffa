// `lmkernel data download`: LM-Kernel-FT's download_dataset.sh (REFERENCE.md §4.2) in TypeScript. Fetches
// LM-BFF's datasets.tar (resumable), extracts its `original/` folder into a temporary folder beside the
// output, checks it against LM-BFF's published 16-shot checksums (lmkernel's generator on every task
// present), swaps in GLUE SST-2, rebalances CR with the archive's own process.py, and only then renames
// the folder into place: an error at any step leaves no half-extracted output.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError, LmkError } from '../errors.js';
import type { ProgressFn } from '../types.js';
import { downloadResumable } from '../net/download.js';
import { readLmBffChecksums, verifyLmBffSplits, lmBffChecksumsPath, type LmBffChecksums } from './lmbff-check.js';
import { agNewsNote, rebalanceCr, swapInGlueSst2, type CrStatus } from './lmbff-fixups.js';
import { extractTar } from './tar.js';

/** LM-BFF's archive, as download_dataset.sh fetches it. */
export const LMBFF_DATASETS_URL = 'https://nlp.cs.princeton.edu/projects/lm-bff/datasets.tar';

export interface DownloadDataOptions {
  /** The output folder; it receives `original/<TASK>/...`. It must not exist, or be empty. */
  out: string;
  /** Default LMBFF_DATASETS_URL. */
  url?: string;
  /** A datasets.tar already on disk, used instead of downloading (never deleted). */
  archive?: string;
  /** Keep the downloaded archive (beside the output, `.<out>.datasets.tar`) instead of deleting it at the end. */
  keepArchive?: boolean;
  /** The Python for cr/process.py; default $LMKERNEL_PYTHON, else `python3`. */
  python?: string;
  /** LM-BFF's checksum list; default the copy shipped with lmkernel. */
  checksums?: string;
  /** Phases 'download' (bytes), 'extract' (bytes), 'verify' (tasks). */
  onProgress?: ProgressFn;
  /** Attempts after a dropped connection within one call (default 5). */
  retries?: number;
  signal?: AbortSignal;
}

export interface DownloadDataResult {
  /** The output folder and its `original/`. */
  dir: string;
  original: string;
  /** Task folders installed under original/, sorted. */
  tasks: string[];
  /** Tasks whose 16-shot splits matched LM-BFF's checksums, and the tasks of that list absent from the archive. */
  verified: string[];
  absent: string[];
  checkedFiles: number;
  /** Whether GLUE SST-2 replaced LM-BFF's SST-2. */
  glueSst2: boolean;
  cr: CrStatus;
  /** Things the user must know (CR left out, no GLUE SST-2, where AG News goes). */
  notes: string[];
  /** Bytes downloaded by this call (0 when an archive on disk was used), and where a resume started. */
  downloaded: number;
  resumedFrom: number;
}

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `.<name>.partial-<pid>` folders beside `out` left by runs that were killed. */
function removeStalePartials(parent: string, name: string): void {
  const prefix = `.${name}.partial-`;
  for (const entry of readdirSync(parent)) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length));
    if (Number.isInteger(pid) && (pid === process.pid || !processAlive(pid)))
      rmSync(join(parent, entry), { recursive: true, force: true });
  }
}

function checkOut(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new InputError(out, 'the output exists and is not a folder');
  if (readdirSync(out).length > 0)
    throw new InputError(out, 'the output folder exists and is not empty: remove it or choose another --out');
}

/** Downloads the archive (or continues an earlier part); returns its path and byte counts. */
async function fetchArchive(
  opts: DownloadDataOptions,
  archive: string,
): Promise<{ downloaded: number; resumedFrom: number; reused: boolean }> {
  if (existsSync(archive)) return { downloaded: 0, resumedFrom: 0, reused: true };
  const url = opts.url ?? LMBFF_DATASETS_URL;
  const r = await downloadResumable(url, archive, {
    retries: opts.retries,
    signal: opts.signal,
    onProgress: (done, total) => opts.onProgress?.('download', done, total),
  });
  return { downloaded: r.bytes - r.resumedFrom, resumedFrom: r.resumedFrom, reused: false };
}

/** What the steps inside the temporary folder found (the result's fields of the same names). */
type Prepared = Pick<DownloadDataResult, 'verified' | 'absent' | 'checkedFiles' | 'glueSst2' | 'cr' | 'notes'>;

/**
 * Extraction, verification and LM-Kernel-FT's changes, all inside the temporary folder `tmp`. `stage.name`
 * says how far it got (an LmkError before 'fixups' means the archive itself is bad).
 */
function prepare(
  archive: string,
  tmp: string,
  opts: DownloadDataOptions,
  sums: LmBffChecksums,
  stage: { name: string },
): Prepared {
  mkdirSync(tmp, { recursive: true });
  stage.name = 'extract';
  extractTar(archive, tmp, {
    filter: (e) => e.path === 'original' || e.path.startsWith('original/'),
    onProgress: (done, total) => opts.onProgress?.('extract', done, total),
  });
  const original = join(tmp, 'original');
  if (!isDir(original))
    throw new InputError(archive, "not LM-BFF's datasets.tar: it has no original/ folder (a foreign archive)");
  stage.name = 'verify';
  const check = verifyLmBffSplits(original, sums, (task, i, n) => opts.onProgress?.('verify', i, n));
  if (check.verified.length === 0)
    throw new InputError(
      archive,
      `not LM-BFF's datasets.tar: none of LM-BFF's tasks (${[...sums.keys()].join(', ')}) is in its original/ folder (a foreign archive)`,
    );
  opts.onProgress?.('verify', sums.size, sums.size);
  stage.name = 'fixups';
  const notes: string[] = [];
  const sst2 = swapInGlueSst2(original);
  if (sst2.note) notes.push(sst2.note);
  const cr = rebalanceCr(original, opts.python ?? process.env.LMKERNEL_PYTHON ?? 'python3');
  if (cr.note) notes.push(cr.note);
  return {
    verified: check.verified,
    absent: check.absent,
    checkedFiles: check.files,
    glueSst2: sst2.swapped,
    cr: cr.status,
    notes,
  };
}

/**
 * Installs LM-BFF's data (with LM-Kernel-FT's changes) into `opts.out`/original. See the module comment;
 * errors are LmkErrors naming the URL, the archive, or the task and file whose checksum differs.
 */
export async function downloadData(opts: DownloadDataOptions): Promise<DownloadDataResult> {
  const out = resolve(opts.out);
  const parent = dirname(out);
  const name = basename(out);
  checkOut(out);
  const sums = readLmBffChecksums(opts.checksums ?? lmBffChecksumsPath());
  mkdirSync(parent, { recursive: true });
  removeStalePartials(parent, name);
  const archive = opts.archive ? resolve(opts.archive) : join(parent, `.${name}.datasets.tar`);
  if (opts.archive && !existsSync(archive)) throw new InputError(archive, 'the archive given with --archive does not exist');
  const got = opts.archive ? { downloaded: 0, resumedFrom: 0, reused: true } : await fetchArchive(opts, archive);
  const tmp = join(parent, `.${name}.partial-${process.pid}`);
  let prepared: Prepared;
  const stage = { name: 'start' };
  try {
    prepared = prepare(archive, tmp, opts, sums, stage);
    // The steps above are synchronous: a Ctrl-C during them is seen here, before anything is installed.
    if (opts.signal?.aborted) throw new LmkError('data download: interrupted; nothing was installed', 'LMK_ABORTED');
    checkOut(out);
    if (existsSync(out)) rmdirSync(out);
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    // A bad download is deleted, so that the next run fetches it again instead of reusing it.
    const bad = e instanceof LmkError && (stage.name === 'extract' || stage.name === 'verify');
    if (!opts.archive && bad) unlinkSync(archive);
    throw e;
  }
  if (!opts.archive && !opts.keepArchive) unlinkSync(archive);
  const original = join(out, 'original');
  prepared.notes.push(agNewsNote(original));
  return {
    dir: out,
    original,
    tasks: readdirSync(original)
      .filter((t) => isDir(join(original, t)))
      .sort(),
    ...prepared,
    downloaded: got.downloaded,
    resumedFrom: got.resumedFrom,
  };
}
