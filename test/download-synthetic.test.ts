// lib/data/download.ts without the task data (docs/mutation.md): a synthetic archive (an 'mr' folder of 40
// rows, GLUE-SST-2 and SST-2 folders, a CR folder without process.py) verified against a checksum list
// written here from the k-shot generator's md5s, so the download's own steps are what is tested: the
// output checks, the archive on disk or from a loopback HTTP server, the temporary folder, stale partial
// folders, what is deleted or kept after success and failure, the result and its notes, the progress.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadData, LMBFF_DATASETS_URL } from '../lib/data/download.js';
import { generateForSeed, loadKShotSource } from '../lib/data/kshot.js';
import { LMBFF_CHECK_SEEDS } from '../lib/data/lmbff-check.js';
import { LmkError } from '../lib/errors.js';
import { makeTar, type TarInput } from './helpers/tar.js';

const work = mkdtempSync(join(tmpdir(), 'lmk-dl-synth-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(work, `w${n++}`, 'data');
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

const MR_TRAIN = Array.from({ length: 40 }, (_, i) => `${i % 2},review ${i}`).join('\n') + '\n';
const MR_TEST = '0,t0\n1,t1\n';
const mrEntries: TarInput[] = [
  { path: 'original/' },
  { path: 'original/mr/train.csv', content: MR_TRAIN },
  { path: 'original/mr/test.csv', content: MR_TEST },
];
const extras: TarInput[] = [
  { path: 'original/SST-2/train.tsv', content: 'lm-bff\n' },
  { path: 'original/GLUE-SST-2/train.tsv', content: 'glue\n' },
  { path: 'original/cr/readme.txt', content: 'no process.py here' },
  { path: 'other/ignored.txt', content: 'outside original/' },
  { path: 'original/README.txt', content: 'a file, not a task folder' },
];

// the checksum list: mr's 15 generated files, and a task the archive does not hold
let sums = '';
beforeAll(() => {
  const src = join(work, 'src');
  mkdirSync(join(src, 'mr'), { recursive: true });
  writeFileSync(join(src, 'mr', 'train.csv'), MR_TRAIN);
  writeFileSync(join(src, 'mr', 'test.csv'), MR_TEST);
  const lines: string[] = [];
  const s = loadKShotSource(src, 'mr');
  for (const seed of LMBFF_CHECK_SEEDS)
    for (const f of generateForSeed(s, seed, { k: 16 }).files) lines.push(`${md5(f.content)}  ${f.path.replace('k-shot/', '')}`);
  lines.push(`${'a'.repeat(32)}  trec/16-13/train.csv`);
  sums = join(work, 'SUMS');
  writeFileSync(sums, lines.join('\n') + '\n');
});

const archiveFile = (entries: TarInput[]) => {
  const p = join(work, `a${n++}.tar`);
  writeFileSync(p, makeTar(entries));
  return p;
};
/** What is left beside the output folder. */
const beside = (out: string) => (existsSync(join(out, '..')) ? readdirSync(join(out, '..')).filter((f) => f !== 'data') : []);

describe('downloadData with an archive on disk', () => {
  it('installs original/: mr verified, trec absent, GLUE SST-2 swapped in, CR left out; the archive kept', async () => {
    const archive = archiveFile([...mrEntries, ...extras]);
    const out = fresh();
    const phases: string[] = [];
    const r = await downloadData({ out, archive, checksums: sums, onProgress: (p) => phases.push(p) });
    expect(r).toEqual({
      dir: out,
      original: join(out, 'original'),
      tasks: ['SST-2', 'SST-2-original', 'mr'],
      verified: ['mr'],
      absent: ['trec'],
      checkedFiles: 15,
      glueSst2: true,
      cr: 'left-out',
      notes: [
        "cr is left out: the archive's cr folder has no process.py to rebalance it with. The other tasks are installed; run the download again once that is fixed to get cr (rebalanced as in the paper: 250 test examples per label)",
        `AG News is not in LM-BFF's archive: put the standard AG News CSV (no header; "class","title","description", classes 1-4) at ${join(out, 'original', 'ag_news', 'train.csv')} and ${join(out, 'original', 'ag_news', 'test.csv')}`,
      ],
      downloaded: 0,
      resumedFrom: 0,
    });
    expect(readdirSync(out)).toEqual(['original']);
    expect(readFileSync(join(out, 'original', 'SST-2', 'train.tsv'), 'utf8')).toBe('glue\n');
    expect(readFileSync(join(out, 'original', 'mr', 'train.csv'), 'utf8')).toBe(MR_TRAIN);
    expect(existsSync(archive)).toBe(true);
    expect(beside(out)).toEqual([]);
    expect(phases.includes('extract') && phases.includes('verify') && !phases.includes('download')).toBe(true);
    // verify: one call per task found (mr, index 0 of the 2 in the list), then the total
    const calls: [string, number, number][] = [];
    await downloadData({ out: fresh(), archive, checksums: sums, onProgress: (p, d, t) => calls.push([p, d, t!]) });
    expect(calls.filter(([p]) => p === 'verify')).toEqual([
      ['verify', 0, 2],
      ['verify', 2, 2],
    ]);
    // an empty output folder is accepted
    const empty = fresh();
    mkdirSync(empty, { recursive: true });
    expect((await downloadData({ out: empty, archive, checksums: sums })).verified).toEqual(['mr']);
    // a tar entry 'original' without a trailing '/' and no SST-2 at all
    const noSst = await downloadData({ out: fresh(), archive: archiveFile(mrEntries), checksums: sums });
    expect([noSst.glueSst2, noSst.cr, noSst.tasks]).toEqual([false, 'absent', ['mr']]);
    expect(noSst.notes[0]).toBe('the archive has no SST-2 (neither GLUE-SST-2 nor SST-2): SST-2 is not installed');
  });

  it('refuses a non-empty output, a file as output, a missing archive; nothing is left behind', async () => {
    const archive = archiveFile(mrEntries);
    const full = fresh();
    mkdirSync(full, { recursive: true });
    writeFileSync(join(full, 'x'), '');
    await expect(downloadData({ out: full, archive, checksums: sums })).rejects.toThrow(
      `${full}: the output folder exists and is not empty: remove it or choose another --out`,
    );
    const file = fresh();
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, '');
    await expect(downloadData({ out: file, archive, checksums: sums })).rejects.toThrow(
      `${file}: the output exists and is not a folder`,
    );
    const out = fresh();
    const missing = join(work, 'missing.tar');
    await expect(downloadData({ out, archive: missing, checksums: sums })).rejects.toThrow(
      `${missing}: the archive given with --archive does not exist`,
    );
    expect(beside(out)).toEqual([]);
  });

  it('a foreign archive, or one with none of the tasks: an error naming it; the given archive is not deleted', async () => {
    const foreign = archiveFile([{ path: 'data/readme.txt', content: 'hello' }]);
    const out = fresh();
    await expect(downloadData({ out, archive: foreign, checksums: sums })).rejects.toThrow(
      `${foreign}: not LM-BFF's datasets.tar: it has no original/ folder (a foreign archive)`,
    );
    const other = archiveFile([{ path: 'original/foo/train.csv', content: '0,a\n' }]);
    await expect(downloadData({ out, archive: other, checksums: sums })).rejects.toThrow(
      `${other}: not LM-BFF's datasets.tar: none of LM-BFF's tasks (mr, trec) is in its original/ folder (a foreign archive)`,
    );
    expect([existsSync(foreign), existsSync(other), existsSync(out)]).toEqual([true, true, false]);
    expect(beside(out)).toEqual([]);
  });

  it("removes a stale partial folder of a dead run (and this process's own), keeps a live one's", async () => {
    const out = fresh();
    const parent = join(out, '..');
    mkdirSync(parent, { recursive: true });
    // pid 2**22 + 1 is above Linux's pid_max limit: never a live process
    for (const pid of [4194305, process.pid, process.ppid, 'x'])
      mkdirSync(join(parent, `.data.partial-${pid}`, 'junk'), { recursive: true });
    mkdirSync(join(parent, '.other.partial-4194305'));
    await downloadData({ out, archive: archiveFile(mrEntries), checksums: sums });
    expect(beside(out).sort()).toEqual([`.data.partial-${process.ppid}`, '.data.partial-x', '.other.partial-4194305'].sort());
    // this process's own stale folder was removed before its new one was made: no junk in the output
    expect(readdirSync(out)).toEqual(['original']);
  });

  it('an aborted signal: nothing installed, the temporary folder removed', async () => {
    const out = fresh();
    const ac = new AbortController();
    ac.abort();
    const err = await downloadData({ out, archive: archiveFile(mrEntries), checksums: sums, signal: ac.signal }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LmkError);
    expect([(err as LmkError).code, (err as Error).message]).toEqual([
      'LMK_ABORTED',
      'data download: interrupted; nothing was installed',
    ]);
    expect(existsSync(out)).toBe(false);
    expect(beside(out)).toEqual([]);
  });
});

describe('downloadData from a loopback server', () => {
  let server: Server;
  let base = '';
  const served = new Map<string, Buffer>();
  beforeAll(async () => {
    server = createServer((req, res) => {
      const body = served.get(req.url ?? '');
      if (!body) res.writeHead(404).end();
      else res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));
  const serve = (body: Buffer) => {
    const path = `/t${n++}/datasets.tar`;
    served.set(path, body);
    return base + path;
  };

  it('the default URL is LM-BFF’s', () => {
    expect(LMBFF_DATASETS_URL).toBe('https://nlp.cs.princeton.edu/projects/lm-bff/datasets.tar');
  });

  it('downloads beside the output and deletes the archive, or keeps it with keepArchive', async () => {
    const tar = makeTar(mrEntries);
    const out = fresh();
    const r = await downloadData({ out, url: serve(tar), checksums: sums });
    expect([r.downloaded, r.resumedFrom, r.verified]).toEqual([tar.length, 0, ['mr']]);
    expect(beside(out)).toEqual([]);
    const kept = fresh();
    await downloadData({ out: kept, url: serve(tar), checksums: sums, keepArchive: true });
    expect(beside(kept)).toEqual(['.data.datasets.tar']);
    expect(readFileSync(join(kept, '..', '.data.datasets.tar')).equals(tar)).toBe(true);
    // the kept archive is reused by the next call into a fresh folder beside it: nothing is downloaded
    rmSync(kept, { recursive: true });
    const again = await downloadData({ out: kept, url: `${base}/nothing-here.tar`, checksums: sums });
    expect([again.downloaded, again.verified]).toEqual([0, ['mr']]);
    expect(beside(kept)).toEqual([]);
  });

  it("progress of the download phase; CR's python: python3 by default, else $LMKERNEL_PYTHON, else the option", async () => {
    const py = `open('train.csv', 'w').write('1000')\nopen('test.csv', 'w').write('x')\n`;
    const tar = makeTar([...mrEntries, { path: 'original/cr/process.py', content: py }]);
    const out = fresh();
    const seen: [string, number, number | undefined][] = [];
    const saved = process.env.LMKERNEL_PYTHON;
    delete process.env.LMKERNEL_PYTHON;
    try {
      const r = await downloadData({ out, url: serve(tar), checksums: sums, onProgress: (p, d, t) => seen.push([p, d, t]) });
      expect(r.cr).toBe('rebalanced');
      expect(readFileSync(join(out, 'original', 'cr', 'train.csv'), 'utf8')).toBe('250');
      expect(seen.filter(([p]) => p === 'download').at(-1)).toEqual(['download', tar.length, tar.length]);
      process.env.LMKERNEL_PYTHON = join(work, 'env-python');
      const e = await downloadData({ out: fresh(), url: serve(tar), checksums: sums });
      expect(e.notes.join('\n')).toMatch(/^cr is left out: .*env-python was not found/m);
      const o = await downloadData({ out: fresh(), url: serve(tar), checksums: sums, python: join(work, 'opt-python') });
      expect(o.notes.join('\n')).toMatch(/^cr is left out: .*opt-python was not found/m);
    } finally {
      if (saved === undefined) delete process.env.LMKERNEL_PYTHON;
      else process.env.LMKERNEL_PYTHON = saved;
    }
  });

  it('a failing cr/process.py is an error after a good download: the download is kept for the next run', async () => {
    const tar = makeTar([...mrEntries, { path: 'original/cr/process.py', content: 'import sys  # 1000\nsys.exit(3)\n' }]);
    const out = fresh();
    await expect(downloadData({ out, url: serve(tar), checksums: sums, python: 'python3' })).rejects.toThrow(
      /cr\/process\.py failed under python3 \(exit 3\)/,
    );
    expect(beside(out)).toEqual(['.data.datasets.tar']);
    // a changed line: a checksum mismatch while verifying deletes the download
    const bad = makeTar(
      mrEntries.map((e) =>
        e.path === 'original/mr/train.csv' ? { ...e, content: MR_TRAIN.replace('review 0', 'review zero') } : e,
      ),
    );
    const out2 = fresh();
    await expect(downloadData({ out: out2, url: serve(bad), checksums: sums })).rejects.toThrow(/mr\/16-\d+\/\w+\.csv: md5/);
    expect(beside(out2)).toEqual([]);
  });

  it('a bad download (foreign, truncated) is deleted so that the next run fetches it again; an HTTP error names the URL', async () => {
    const out = fresh();
    await expect(downloadData({ out, url: serve(makeTar([{ path: 'x.txt', content: 'x' }])), checksums: sums })).rejects.toThrow(
      /not LM-BFF's datasets\.tar: it has no original\/ folder/,
    );
    expect(beside(out)).toEqual([]);
    const tar = makeTar(mrEntries);
    await expect(downloadData({ out, url: serve(tar.subarray(0, 1024)), checksums: sums })).rejects.toThrow(
      /the archive is truncated/,
    );
    expect(beside(out)).toEqual([]);
    const url = `${base}/missing.tar`;
    await expect(downloadData({ out, url, checksums: sums, retries: 0 })).rejects.toThrow(`download of ${url} failed: HTTP 404`);
  });
});
