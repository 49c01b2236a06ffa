// LM-Kernel-FT's changes to LM-BFF's `original/` folder after extraction (download_dataset.sh,
// REFERENCE.md §4.2): GLUE SST-2 replaces LM-BFF's SST-2, and CR is rebalanced to 250 test examples per
// label by the archive's own cr/process.py after `sed -i 's/1000/250/'`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LmkError } from '../errors.js';

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

/**
 * `mv original/SST-2 original/SST-2-original; mv original/GLUE-SST-2 original/SST-2`. Returns whether the
 * swap happened, and a note when the archive has no GLUE-SST-2 (SST-2 then stays LM-BFF's).
 */
export function swapInGlueSst2(originalDir: string): { swapped: boolean; note?: string } {
  const glue = join(originalDir, 'GLUE-SST-2');
  const sst2 = join(originalDir, 'SST-2');
  if (!isDir(glue))
    return {
      swapped: false,
      note: isDir(sst2)
        ? "the archive has no GLUE-SST-2 folder: original/SST-2 is LM-BFF's SST-2 (6,920 sentences), not the GLUE SST-2 the paper uses"
        : 'the archive has no SST-2 (neither GLUE-SST-2 nor SST-2): SST-2 is not installed',
    };
  const kept = join(originalDir, 'SST-2-original');
  if (existsSync(kept)) rmSync(kept, { recursive: true, force: true });
  if (isDir(sst2)) renameSync(sst2, kept);
  renameSync(glue, sst2);
  return { swapped: true };
}

export type CrStatus = 'rebalanced' | 'left-out' | 'absent';

/** `sed 's/1000/250/'`: the first '1000' of each line becomes '250'. */
export function sedThousandTo250(text: string): string {
  return text
    .split('\n')
    .map((l) => l.replace('1000', '250'))
    .join('\n');
}

function leaveOut(crDir: string, why: string): { status: CrStatus; note: string } {
  rmSync(crDir, { recursive: true, force: true });
  return {
    status: 'left-out',
    note: `cr is left out: ${why}. The other tasks are installed; run the download again once that is fixed to get cr (rebalanced as in the paper: 250 test examples per label)`,
  };
}

/**
 * Rebalances CR as download_dataset.sh does: edits the archive's `original/cr/process.py` (1000 → 250) and
 * runs it with `python` in `original/cr`. Without python (or without the Python modules the script
 * imports, e.g. pandas) CR is removed and a note says why; any other failure of the script is an error.
 */
export function rebalanceCr(originalDir: string, python: string): { status: CrStatus; note?: string } {
  const crDir = join(originalDir, 'cr');
  if (!isDir(crDir)) return { status: 'absent' };
  const script = join(crDir, 'process.py');
  if (!existsSync(script)) return leaveOut(crDir, "the archive's cr folder has no process.py to rebalance it with");
  const text = readFileSync(script, 'utf8');
  if (!text.includes('1000'))
    return leaveOut(crDir, "the archive's cr/process.py has no '1000' for the reference's edit (1000 → 250) to change");
  writeFileSync(script, sedThousandTo250(text));
  const r = spawnSync(python, ['process.py'], {
    cwd: crDir,
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT')
    return leaveOut(crDir, `${python} was not found (cr/process.py needs Python 3; set LMKERNEL_PYTHON to another interpreter)`);
  if (r.error) throw new LmkError(`cr/process.py could not be run with ${python}: ${r.error.message}`, 'LMK_BAD_INPUT');
  if (r.status !== 0) {
    const missing = /No module named '?([\w.]+)'?/.exec(r.stderr ?? '');
    if (missing)
      return leaveOut(
        crDir,
        `cr/process.py needs the Python module '${missing[1]}', which ${python} lacks (pip install pandas numpy)`,
      );
    const tail = (r.stderr ?? '').trim().split('\n').slice(-5).join('\n');
    throw new LmkError(`cr/process.py failed under ${python} (exit ${r.status}):\n${tail}`, 'LMK_BAD_INPUT');
  }
  for (const f of ['train.csv', 'test.csv'])
    if (!existsSync(join(crDir, f)))
      throw new LmkError(`cr/process.py ran but wrote no cr/${f} (not the script download_dataset.sh expects)`, 'LMK_BAD_INPUT');
  return { status: 'rebalanced' };
}

/** Where AG News goes: it is not in LM-BFF's archive. */
export function agNewsNote(originalDir: string): string {
  return (
    `AG News is not in LM-BFF's archive: put the standard AG News CSV (no header; "class","title","description", ` +
    `classes 1-4) at ${join(originalDir, 'ag_news', 'train.csv')} and ${join(originalDir, 'ag_news', 'test.csv')}`
  );
}
