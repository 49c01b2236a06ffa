// `lmkernel data download` against a loopback HTTP server (never the internet) serving tar archives built
// here from the staged task data: sst-5, mr, mpqa, subj, trec, RTE and MRPC reproduce LM-BFF's published
// 16-shot checksums, and so does LM-BFF's CR (1000 test rows per label), rebuilt from the staged rebalanced
// CR; a fake cr/process.py (the same regrouping, N = 1000 before the reference's edit) rebalances it back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadData, type DownloadDataOptions } from '../lib/data/download.js';
import { ChecksumMismatchError, readLmBffChecksums, lmBffChecksumsPath } from '../lib/data/lmbff-check.js';
import { sedThousandTo250, swapInGlueSst2 } from '../lib/data/lmbff-fixups.js';
import { extractTar } from '../lib/data/tar.js';
import { run as runDataCli } from '../lib/cli/data.js';
import { needsData, originalDataDir } from './helpers/fixtures.js';
import { makeTar, type TarInput } from './helpers/tar.js';

const REPRODUCING = ['sst-5', 'mr', 'mpqa', 'subj', 'trec', 'RTE', 'MRPC'];
const hasPython = spawnSync('python3', ['--version']).status === 0;
const work = mkdtempSync(join(tmpdir(), 'lmk-download-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const FAKE_PROCESS_PY = `# A stand-in for LM-BFF's cr/process.py: rows grouped by label in file order, the first N of each = test.
N = 1000
rows, order = {}, []
for name in ('test.csv', 'train.csv'):
    with open(name, encoding='utf8', newline='') as f:
        for line in f.read().split('\\n')[:-1]:
            label = line.split(',', 1)[0]
            if label not in rows:
                rows[label] = []
                order.append(label)
            rows[label].append(line)
for name, part in (('test.csv', slice(0, N)), ('train.csv', slice(N, None))):
    with open(name, 'w', encoding='utf8', newline='') as f:
        f.write(''.join(l + '\\n' for lab in order for l in rows[lab][part]))
`;

/** The staged files of a task, as archive entries under original/. */
function taskEntries(task: string): TarInput[] {
  const dir = join(originalDataDir, task);
  return [
    { path: `original/${task}/` },
    ...readdirSync(dir)
      .sort()
      .map((f) => ({ path: `original/${task}/${f}`, content: readFileSync(join(dir, f)) })),
  ];
}

/** LM-BFF's cr (first 1000 rows of each label = test), rebuilt from the staged rebalanced cr, + process.py. */
function lmBffCrEntries(script = FAKE_PROCESS_PY): TarInput[] {
  const lines = (f: string) =>
    readFileSync(join(originalDataDir, 'cr', f), 'utf8')
      .split('\n')
      .slice(0, -1);
  const [test, train] = [lines('test.csv'), lines('train.csv')];
  const of = (l: string) => [...test, ...train].filter((x) => x.startsWith(`${l},`));
  const all = [of('0'), of('1')];
  const csv = (rows: string[]) => rows.map((r) => r + '\n').join('');
  return [
    { path: 'original/cr/' },
    { path: 'original/cr/process.py', content: script },
    { path: 'original/cr/test.csv', content: csv(all.flatMap((r) => r.slice(0, 1000))) },
    { path: 'original/cr/train.csv', content: csv(all.flatMap((r) => r.slice(1000))) },
  ];
}

/** A tiny GLUE SST-2 (the staged dev file and the first rows of the staged train file). */
function glueSst2Entries(): TarInput[] {
  const train =
    readFileSync(join(originalDataDir, 'SST-2', 'train.tsv'), 'utf8')
      .split('\n')
      .slice(0, 201)
      .join('\n') + '\n';
  return [
    { path: 'original/GLUE-SST-2/train.tsv', content: train },
    { path: 'original/GLUE-SST-2/dev.tsv', content: readFileSync(join(originalDataDir, 'SST-2', 'dev.tsv')) },
  ];
}

interface Served {
  body: Buffer;
  /** Drop the connection after this many body bytes, for the first `drops` requests. */
  dropAfter?: number;
  drops?: number;
  /** Answer every request with the whole file (200), as a server without Range support does. */
  ignoreRange?: boolean;
}

const served = new Map<string, Served>();
const requests: { url: string; range?: string }[] = [];
let server: Server;
let base = '';

function handle(req: IncomingMessage, res: import('node:http').ServerResponse): void {
  requests.push({ url: req.url ?? '', range: req.headers.range });
  const s = served.get(req.url ?? '');
  if (!s) {
    res.writeHead(404, 'Not Found').end('no such file');
    return;
  }
  const m = s.ignoreRange ? null : /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  if (start >= s.body.length && m) {
    res.writeHead(416, { 'content-range': `bytes */${s.body.length}` }).end();
    return;
  }
  const body = s.body.subarray(start);
  const headers: Record<string, string | number> = { 'content-length': body.length, 'accept-ranges': 'bytes' };
  if (m) headers['content-range'] = `bytes ${start}-${s.body.length - 1}/${s.body.length}`;
  res.writeHead(m ? 206 : 200, headers);
  if (s.dropAfter !== undefined && (s.drops ?? 0) > 0) {
    s.drops = (s.drops ?? 0) - 1;
    res.write(body.subarray(0, s.dropAfter), () => res.socket?.destroy());
    return;
  }
  res.end(body);
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

let counter = 0;
/** Serves `body` at a fresh URL; returns the URL and a fresh output folder under `work`. */
function serve(body: Buffer, extra: Omit<Served, 'body'> = {}): { url: string; out: string } {
  const name = `/d${counter++}/datasets.tar`;
  served.set(name, { body, ...extra });
  return { url: base + name, out: join(work, `out${counter}`, 'data') };
}

const download = (o: DownloadDataOptions) => downloadData({ retries: 2, ...o });
/** What is left beside the output folder (temporary folders, archives, parts). */
const leftovers = (out: string) => readdirSync(join(out, '..')).filter((f) => f !== 'data');

describe('the tar reader', () => {
  const extract = (entries: TarInput[], name: string) => {
    const tar = join(work, `${name}.tar`);
    writeFileSync(tar, makeTar(entries));
    const dest = join(work, `${name}-x`);
    mkdirSync(dest, { recursive: true });
    return { run: () => extractTar(tar, dest), dest, tar };
  };

  it('extracts files, folders, GNU long names and pax paths', () => {
    const long = `original/x/${'n'.repeat(150)}.txt`;
    const t = extract(
      [{ path: 'original/' }, { path: long, content: 'long' }, { path: 'original/p/pax.txt', content: 'pax', pax: true }],
      'ok',
    );
    expect(t.run()).toEqual({ files: 2, directories: 1, bytes: 7 });
    expect(readFileSync(join(t.dest, long), 'utf8')).toBe('long');
    expect(readFileSync(join(t.dest, 'original/p/pax.txt'), 'utf8')).toBe('pax');
  });

  it("refuses '..', absolute paths, links, a foreign file and a truncated archive", () => {
    expect(extract([{ path: 'original/../../evil', content: 'x' }], 'dots').run).toThrow(/'\.\.' component/);
    expect(extract([{ path: '/etc/evil', content: 'x' }], 'abs').run).toThrow(/absolute path/);
    expect(extract([{ path: 'original/l', type: 'symlink', linkname: '/etc' }], 'sym').run).toThrow(/symbolic link/);
    const html = join(work, 'page.tar');
    writeFileSync(html, '<html>' + ' '.repeat(1000) + '</html>');
    expect(() => extractTar(html, work)).toThrow(/not a tar archive/);
    const cut = join(work, 'cut.tar');
    writeFileSync(cut, makeTar([{ path: 'original/a.txt', content: 'x'.repeat(5000) }]).subarray(0, 2048));
    expect(() => extractTar(cut, work)).toThrow(/truncated: it ends inside the file 'original\/a.txt'/);
  });
});

describe('the fixups', () => {
  it("swaps GLUE SST-2 in, keeping LM-BFF's as SST-2-original; sed's 1000 → 250", () => {
    const o = join(work, 'swap', 'original');
    for (const d of ['SST-2', 'GLUE-SST-2']) {
      mkdirSync(join(o, d), { recursive: true });
      writeFileSync(join(o, d, 'train.tsv'), d);
    }
    expect(swapInGlueSst2(o)).toEqual({ swapped: true });
    expect(readFileSync(join(o, 'SST-2', 'train.tsv'), 'utf8')).toBe('GLUE-SST-2');
    expect(readFileSync(join(o, 'SST-2-original', 'train.tsv'), 'utf8')).toBe('SST-2');
    expect(sedThousandTo250('a = 1000, 1000\nb = 10000\n')).toBe('a = 250, 1000\nb = 2500\n');
  });

  it('ships the 230 checksums of 15 tasks', () => {
    const sums = readLmBffChecksums(lmBffChecksumsPath());
    expect(sums.size).toBe(15);
    expect([...sums.values()].reduce((n, m) => n + m.size, 0)).toBe(230);
  });
});

needsData.describe('data download from a loopback server', () => {
  const small = () => makeTar([...taskEntries('trec'), ...taskEntries('mpqa')]);

  it.skipIf(!hasPython)(
    "installs a good archive: every task checked, GLUE SST-2 swapped in, CR rebalanced by the archive's process.py",
    async () => {
      const entries = [...REPRODUCING.flatMap(taskEntries), ...lmBffCrEntries(), ...glueSst2Entries()];
      const { url, out } = serve(makeTar(entries));
      const phases = new Set<string>();
      const r = await download({ out, url, onProgress: (p) => phases.add(p) });
      expect(r.verified.sort()).toEqual([...REPRODUCING, 'cr'].sort());
      expect(r.absent.sort()).toEqual(['CoLA', 'MNLI', 'QNLI', 'QQP', 'SNLI', 'SST-2', 'STS-B']);
      expect(r.checkedFiles).toBe(8 * 15);
      expect(r.tasks).toEqual(['MRPC', 'RTE', 'SST-2', 'cr', 'mpqa', 'mr', 'sst-5', 'subj', 'trec']);
      expect([r.glueSst2, r.cr]).toEqual([true, 'rebalanced']);
      expect([...phases]).toEqual(['download', 'extract', 'verify']);
      for (const t of [...REPRODUCING, 'cr'])
        for (const f of readdirSync(join(originalDataDir, t)))
          expect(readFileSync(join(out, 'original', t, f)).equals(readFileSync(join(originalDataDir, t, f))), `${t}/${f}`).toBe(
            true,
          );
      expect(readFileSync(join(out, 'original', 'cr', 'process.py'), 'utf8')).toMatch(/^N = 250$/m);
      expect(
        readFileSync(join(out, 'original', 'SST-2', 'dev.tsv')).equals(readFileSync(join(originalDataDir, 'SST-2', 'dev.tsv'))),
      ).toBe(true);
      expect(r.notes.join('\n')).toMatch(/AG News is not in LM-BFF's archive: .*ag_news\/train\.csv/);
      expect(leftovers(out)).toEqual([]);
    },
    60_000,
  );

  it('errors on a truncated archive, naming the file it ends in; nothing is installed or kept', async () => {
    const tar = small();
    const { url, out } = serve(tar.subarray(0, Math.floor(tar.length / 3)));
    await expect(download({ out, url })).rejects.toThrow(
      /the archive is truncated: it ends inside the file 'original\/\w+\/\w+\.csv'/,
    );
    expect(existsSync(out)).toBe(false);
    expect(leftovers(out)).toEqual([]);
  });

  it('errors on a changed line, naming the task and the file', async () => {
    const entries = [...taskEntries('trec'), ...taskEntries('mpqa')].map((e) =>
      e.path === 'original/mpqa/test.csv' ? { ...e, content: String(e.content).replace(/^1,/m, '0,') } : e,
    );
    const { url, out } = serve(makeTar(entries));
    const err = await download({ out, url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect((err as Error).message).toMatch(/for mpqa \(a changed or foreign archive/);
    expect((err as Error).message).toMatch(/mpqa\/16-13\/test\.csv: md5 [0-9a-f]{32}, LM-BFF published [0-9a-f]{32}/);
    expect((err as Error).message).not.toMatch(/trec:/);
    expect(existsSync(out)).toBe(false);
    expect(leftovers(out)).toEqual([]);
  });

  it('errors on a foreign archive and on an HTTP error, naming what is wrong', async () => {
    const a = serve(makeTar([{ path: 'data/readme.txt', content: 'hello' }]));
    await expect(download(a)).rejects.toThrow(/not LM-BFF's datasets\.tar: it has no original\/ folder/);
    const b = serve(makeTar([{ path: 'original/foo/train.csv', content: '0,a\n' }]));
    await expect(download(b)).rejects.toThrow(/none of LM-BFF's tasks .* is in its original\/ folder/);
    await expect(download({ out: join(work, 'e404', 'data'), url: `${base}/missing.tar` })).rejects.toThrow(
      /download of http:\/\/127\.0\.0\.1:\d+\/missing\.tar failed: HTTP 404/,
    );
  });

  it('continues a dropped transfer with a Range request, within a call and across calls', async () => {
    const tar = small();
    const a = serve(tar, { dropAfter: 100_000, drops: 2 });
    const before = requests.length;
    const r = await download(a);
    expect(r.verified.sort()).toEqual(['mpqa', 'trec']);
    expect(requests.slice(before).map((q) => q.range)).toEqual([undefined, 'bytes=100000-', 'bytes=200000-']);
    const b = serve(tar, { dropAfter: 150_000, drops: 1 });
    await expect(download({ ...b, retries: 0 })).rejects.toThrow(
      /150000 bytes are kept in .*\.datasets\.tar\.part: run the command again/,
    );
    const r2 = await download(b);
    expect([r2.resumedFrom, r2.downloaded]).toEqual([150_000, tar.length - 150_000]);
    expect(readdirSync(join(b.out, 'original')).sort()).toEqual(['mpqa', 'trec']);
    const c = serve(tar, { dropAfter: 100_000, drops: 1, ignoreRange: true });
    const r3 = await download(c);
    expect([r3.verified.length, r3.downloaded]).toEqual([2, tar.length]);
  });

  it('leaves CR out, saying why, without python3 or without the modules process.py imports', async () => {
    const tar = makeTar([...taskEntries('trec'), ...lmBffCrEntries()]);
    const a = serve(tar);
    const r = await download({ ...a, python: join(work, 'no-such-python3') });
    expect(r.cr).toBe('left-out');
    expect(r.notes.join('\n')).toMatch(/^cr is left out: .*no-such-python3 was not found \(cr\/process\.py needs Python 3/m);
    expect(readdirSync(join(a.out, 'original'))).toEqual(['trec']);
    if (!hasPython) return;
    const b = serve(makeTar([...taskEntries('trec'), ...lmBffCrEntries('import lmk_absent_module\nN = 1000\n')]));
    const r2 = await download(b);
    expect(r2.notes.join('\n')).toMatch(/cr\/process\.py needs the Python module 'lmk_absent_module'/);
  });

  it('`lmkernel data download` prints what it installed; refuses a non-empty --out before downloading', async () => {
    const { url, out } = serve(small());
    const logs: string[] = [];
    const errs: string[] = [];
    const [log, error] = [console.log, console.error];
    console.log = (s: string) => logs.push(s);
    console.error = (s: string) => errs.push(s);
    try {
      expect(await runDataCli(['download', '--out', out, '--url', url])).toBe(0);
    } finally {
      [console.log, console.error] = [log, error];
    }
    expect(errs.join('\n')).toMatch(/note: the archive has no SST-2 \(neither GLUE-SST-2 nor SST-2\)/);
    expect(logs.join('\n')).toMatch(
      /installed 2 task folders under .*: mpqa trec\n.*checksums: mpqa trec \(30 files, all equal\)/,
    );
    const before = requests.length;
    await expect(runDataCli(['download', '--out', out, '--url', url])).rejects.toThrow(/exists and is not empty/);
    expect(requests.length).toBe(before);
  });
});
