// lib/data/tar.ts at its edges (docs/mutation.md): headers written byte by byte here (ustar prefix, GNU base-256
// size, pax and global pax records, checksums), every refused entry type with its name, filters, progress,
// and each way an archive can end early.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractTar, safeTarPath } from '../lib/data/tar.js';
import { makeTar } from './helpers/tar.js';

const tmp = mkdtempSync(join(tmpdir(), 'lmk-tar-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const archive = (bytes: Buffer) => {
  const p = join(tmp, `a${n++}.tar`);
  writeFileSync(p, bytes);
  return p;
};
const dest = () => {
  const d = join(tmp, `x${n++}`);
  mkdirSync(d);
  return d;
};

// One 512-byte header: name, size (octal, or a Buffer for a raw size field), type, optional ustar prefix.
function header(name: string, size: number | Buffer, type: string, prefix = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'ascii');
  if (Buffer.isBuffer(size)) size.copy(h, 124);
  else h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  h.write(type, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  return sign(h);
}
// the checksum: the sum of all bytes with the checksum field itself read as 8 spaces, in octal
function sign(h: Buffer): Buffer {
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}
const body = (s: string | Buffer) => {
  const b = Buffer.from(s);
  return Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
};
const end = Buffer.alloc(1024);
const pax = (records: [string, string][]) =>
  records
    .map(([k, v]) => {
      const rest = ` ${k}=${v}\n`;
      let len = rest.length + 1;
      while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
      return `${len}${rest}`;
    })
    .join('');

describe('extractTar', () => {
  it('ustar prefix + name; base-256 size; a type-0 NUL flag and type 7 are files', () => {
    const big = Buffer.alloc(12);
    big[0] = 0x80;
    big[11] = 5; // 5 bytes in GNU base-256
    const nul = header('old.txt', 3, '\0');
    const a = archive(
      Buffer.concat([
        header('deep/file.txt', 2, '0', 'original/some/prefix'),
        body('hi'),
        header('b256.txt', big, '0'),
        body('12345'),
        nul,
        body('abc'),
        header('contig.txt', 1, '7'),
        body('z'),
        end,
      ]),
    );
    const d = dest();
    expect(extractTar(a, d)).toEqual({ files: 4, directories: 0, bytes: 11 });
    expect(readFileSync(join(d, 'original/some/prefix/deep/file.txt'), 'utf8')).toBe('hi');
    expect(readFileSync(join(d, 'b256.txt'), 'utf8')).toBe('12345');
    expect(readFileSync(join(d, 'old.txt'), 'utf8')).toBe('abc');
    expect(readFileSync(join(d, 'contig.txt'), 'utf8')).toBe('z');
  });

  it('pax: a per-entry path and size; a global path applies until an entry has its own; an empty size field is 0', () => {
    const a = archive(
      Buffer.concat([
        header(
          'pax/x',
          pax([
            ['path', 'from-pax.txt'],
            ['size', '4'],
            ['comment', 'ignored'],
            ['novalue', ''],
          ]).length,
          'x',
        ),
        body(
          pax([
            ['path', 'from-pax.txt'],
            ['size', '4'],
            ['comment', 'ignored'],
            ['novalue', ''],
          ]),
        ),
        header('placeholder', 0, '0'),
        body('four'),
        header('pax/g', pax([['path', 'global.txt']]).length, 'g'),
        body(pax([['path', 'global.txt']])),
        header('ignored-name', 1, '0'),
        body('g'),
        end,
      ]),
    );
    const d = dest();
    expect(extractTar(a, d)).toEqual({ files: 2, directories: 0, bytes: 5 });
    expect(readFileSync(join(d, 'from-pax.txt'), 'utf8')).toBe('four');
    expect(readFileSync(join(d, 'global.txt'), 'utf8')).toBe('g');
    expect(readdirSync(d).sort()).toEqual(['from-pax.txt', 'global.txt']);
    const b = archive(
      Buffer.concat([
        header(
          'pax/x',
          pax([
            ['path', 'p.txt'],
            ['size', '4'],
          ]).length,
          'x',
        ),
        body(
          pax([
            ['path', 'p.txt'],
            ['size', '4'],
          ]),
        ),
        header('placeholder', 0, '0'),
        body('four'),
        header('dir', Buffer.alloc(12), '5'),
        header('after.txt', 1, '0'),
        body('a'),
        end,
      ]),
    );
    const e = dest();
    expect(extractTar(b, e)).toEqual({ files: 2, directories: 1, bytes: 5 });
    expect(readFileSync(join(e, 'p.txt'), 'utf8')).toBe('four');
    expect(readFileSync(join(e, 'after.txt'), 'utf8')).toBe('a');
    expect(readdirSync(e).sort()).toEqual(['after.txt', 'dir', 'p.txt']);
  });

  it('filter: entries left out are read past; ./ and folders; progress ends at the archive size', () => {
    const bytes = makeTar([
      { path: './original/' },
      { path: 'original/a.txt', content: 'A'.repeat(600) },
      { path: 'original/skip/b.txt', content: 'B' },
      { path: 'original/c.txt', content: 'C' },
    ]);
    const a = archive(bytes);
    const d = dest();
    const seen: string[] = [];
    const progress: [number, number][] = [];
    const r = extractTar(a, d, {
      filter: (e) => {
        seen.push(`${e.type}:${e.path}:${e.size}`);
        return !e.path.includes('skip');
      },
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(seen).toEqual([
      'directory:original:0',
      'file:original/a.txt:600',
      'file:original/skip/b.txt:1',
      'file:original/c.txt:1',
    ]);
    expect(r).toEqual({ files: 2, directories: 1, bytes: 601 });
    expect(existsSync(join(d, 'original/skip'))).toBe(false);
    expect(readFileSync(join(d, 'original/c.txt'), 'utf8')).toBe('C');
    expect(progress.at(-1)).toEqual([bytes.length - 512, bytes.length]);
    expect(progress.every(([x, t], i) => t === bytes.length && (i === 0 || x >= progress[i - 1][0]))).toBe(true);
    // an entry for '.' itself is skipped
    expect(extractTar(archive(makeTar([{ path: './' }, { path: 'f', content: 'x' }])), dest())).toEqual({
      files: 1,
      directories: 0,
      bytes: 1,
    });
  });

  it('refuses every other entry type by name', () => {
    const types: [string, string][] = [
      ['1', 'a hard link'],
      ['2', 'a symbolic link'],
      ['3', 'a character device'],
      ['4', 'a block device'],
      ['6', 'a FIFO'],
      ['K', 'a GNU long link name'],
      ['S', 'a GNU sparse file'],
      ['V', 'a volume header'],
      ['M', 'a multi-volume continuation'],
      ['Z', "an entry of tar type 'Z'"],
    ];
    for (const [t, what] of types) {
      const a = archive(Buffer.concat([header('odd', 0, t), end]));
      expect(() => extractTar(a, dest()), t).toThrow(
        `${a}: refusing the entry 'odd': ${what} (only files and folders are extracted)`,
      );
    }
  });

  it('names each damage: empty, bad checksums, bad size, truncated bodies, no end marker, bad pax, huge names', () => {
    const msg = (bytes: Buffer) => {
      const a = archive(bytes);
      try {
        extractTar(a, dest());
      } catch (e) {
        return (e as Error).message.replace(`${a}: `, '');
      }
      return 'no error';
    };
    expect(msg(Buffer.alloc(0))).toBe('not a tar archive (the file is empty)');
    // shorter than one header: not a tar archive, and not empty either
    expect(msg(Buffer.alloc(100))).toBe('not a tar archive (the file has 100 bytes, less than one 512-byte tar header)');
    expect(msg(Buffer.alloc(511, 0x41))).toBe('not a tar archive (the file has 511 bytes, less than one 512-byte tar header)');
    // a partial header after a first entry: truncated
    expect(msg(Buffer.concat([header('f', 1, '0'), body('x'), Buffer.alloc(100)]))).toBe(
      'the archive is truncated: no end-of-archive marker after 1 entries (download it again)',
    );
    const bad = header('f', 1, '0');
    bad[0] ^= 1;
    expect(msg(Buffer.concat([bad, body('x'), end]))).toBe('not a tar archive (its first header has a bad checksum)');
    expect(msg(Buffer.concat([header('ok', 1, '0'), body('x'), bad, body('x'), end]))).toBe(
      'a tar header at byte 1024 has a bad checksum (a damaged archive)',
    );
    const octal = Buffer.from('0000000008\0\0');
    expect(msg(Buffer.concat([header('f', octal, '0'), end]))).toBe('a tar header at byte 0 has a bad size field');
    expect(msg(Buffer.concat([header('f', 1000, '0'), Buffer.alloc(512)]))).toBe(
      "the archive is truncated: it ends inside the file 'f' (download it again)",
    );
    expect(msg(Buffer.concat([header('f', 10, '0'), Buffer.from('0123456789')]))).toBe(
      "the archive is truncated: it ends inside the file 'f' (download it again)",
    );
    expect(msg(Buffer.concat([header('f', 1, '0'), body('x')]))).toBe(
      'the archive is truncated: no end-of-archive marker after 1 entries (download it again)',
    );
    expect(msg(Buffer.concat([header('d', 0, '5')]))).toBe(
      'the archive is truncated: no end-of-archive marker after 1 entries (download it again)',
    );
    expect(msg(Buffer.concat([header('L', 600, 'L'), Buffer.alloc(512)]))).toBe(
      'the archive is truncated: it ends inside the GNU long name at byte 0 (download it again)',
    );
    expect(msg(Buffer.concat([header('L', 2 ** 20 + 1, 'L'), end]))).toBe(
      'the GNU long name at byte 0 of 1048577 bytes is implausibly large (not an archive lmkernel can read)',
    );
    for (const rec of ['x path=a\n', '0 path=a\n', '99 path=a\n', 'nospace'])
      expect(msg(Buffer.concat([header('p', rec.length, 'x'), body(rec), end])), rec).toBe(
        'a pax header at byte 0 is malformed (not a tar archive lmkernel can read)',
      );
    const twoRecs = pax([['a', '1']]) + 'zz';
    expect(msg(Buffer.concat([header('p', twoRecs.length, 'x'), body(twoRecs), end]))).toBe(
      'a pax header at byte 6 is malformed (not a tar archive lmkernel can read)',
    );
    expect(msg(Buffer.concat([header('/abs', 0, '0'), end]))).toBe(
      "refusing the entry '/abs': an absolute path (or a backslash) in the archive",
    );
    expect(() => extractTar(join(tmp, 'none.tar'), dest())).toThrow(`${join(tmp, 'none.tar')}: cannot open the archive (ENOENT)`);
  });

  it('a GNU long name names the next entry only', () => {
    const long = 'original/' + 'n'.repeat(120) + '.txt';
    const a = archive(
      Buffer.concat([
        header('././@LongLink', long.length + 1, 'L'),
        body(long + '\0'),
        header('short', 1, '0'),
        body('1'),
        header('next', 1, '0'),
        body('2'),
        end,
      ]),
    );
    const d = dest();
    expect(extractTar(a, d)).toEqual({ files: 2, directories: 0, bytes: 2 });
    expect(readFileSync(join(d, long), 'utf8')).toBe('1');
    expect(readFileSync(join(d, 'next'), 'utf8')).toBe('2');
  });
});

describe('extractTar: fields and records at their edges', () => {
  const names = (bytes: Buffer) => {
    const d = dest();
    const seen: string[] = [];
    extractTar(archive(bytes), d, { filter: (e) => (seen.push(`${e.type}:${e.path}:${e.size}`), true) });
    return { d, seen };
  };

  it('a GNU base-256 size of two non-zero bytes; octal sizes padded with spaces; junk before the digits', () => {
    const big = Buffer.alloc(12);
    big[0] = 0x80;
    big[10] = 1;
    big[11] = 2; // 1 * 256 + 2 = 258
    const { d, seen } = names(Buffer.concat([header('b.txt', big, '0'), body('y'.repeat(258)), end]));
    expect(seen).toEqual(['file:b.txt:258']);
    expect(readFileSync(join(d, 'b.txt'), 'utf8')).toBe('y'.repeat(258));
    // "    12 " (old tars pad with spaces): 10 bytes
    const spaced = Buffer.from('    12 \0\0\0\0\0');
    expect(names(Buffer.concat([header('s.txt', spaced, '0'), body('0123456789'), end])).seen).toEqual(['file:s.txt:10']);
    // "18 1": not an octal number, even though it ends in one
    expect(() => extractTar(archive(Buffer.concat([header('j', Buffer.from('18 1\0'), '0'), end])), dest())).toThrow(
      'a tar header at byte 0 has a bad size field',
    );
  });

  it('a name filling its 100 bytes (no NUL); a v7 header (no ustar magic) ignores the prefix field', () => {
    const long = 'n'.repeat(96) + '.txt';
    expect(names(Buffer.concat([header(long, 1, '0'), body('1'), end])).seen).toEqual([`file:${long}:1`]);
    const v7 = header('v7.txt', 1, '0', 'some/prefix');
    v7.fill(0, 257, 265);
    const { d, seen } = names(Buffer.concat([sign(v7), body('7'), end]));
    expect(seen).toEqual(['file:v7.txt:1']);
    expect(readFileSync(join(d, 'v7.txt'), 'utf8')).toBe('7');
  });

  it("a global pax record stays after an 'x' one; a global size; a pax record without '=' is ignored", () => {
    const g = pax([['path', 'global.txt']]);
    const x = pax([['path', 'own.txt']]);
    const { d, seen } = names(
      Buffer.concat([
        header('pax/g', g.length, 'g'),
        body(g),
        header('a', 1, '0'),
        body('1'),
        header('pax/x', x.length, 'x'),
        body(x),
        header('b', 1, '0'),
        body('2'),
        header('c', 1, '0'),
        body('3'),
        end,
      ]),
    );
    expect(seen).toEqual(['file:global.txt:1', 'file:own.txt:1', 'file:global.txt:1']);
    expect(readFileSync(join(d, 'global.txt'), 'utf8')).toBe('3');
    expect(readFileSync(join(d, 'own.txt'), 'utf8')).toBe('2');
    // a global size applies to the entries after it
    const gs = pax([['size', '3']]);
    const r = names(Buffer.concat([header('pax/g', gs.length, 'g'), body(gs), header('s', 0, '0'), body('abc'), end]));
    expect(r.seen).toEqual(['file:s:3']);
    expect(readFileSync(join(r.d, 's'), 'utf8')).toBe('abc');
    // "pathX" has no '=': no record, the header's name stays; "=v" has an empty key: ignored as well
    const odd = '8 pathX\n' + '7 =v.t\n';
    expect(names(Buffer.concat([header('pax/x', odd.length, 'x'), body(odd), header('plain', 0, '0'), end])).seen).toEqual([
      'file:plain:0',
    ]);
  });

  it("folders: not made when filtered out, made with their parents; a folder's size field is read past", () => {
    const { d, seen } = names(
      Buffer.concat([header('deep/er/dir', 0, '5'), header('sized', 5, '5'), body('12345'), header('f', 1, '0'), body('z'), end]),
    );
    expect(seen).toEqual(['directory:deep/er/dir:0', 'directory:sized:0', 'file:f:1']);
    expect(existsSync(join(d, 'deep/er/dir'))).toBe(true);
    expect(readFileSync(join(d, 'f'), 'utf8')).toBe('z');
    const e = dest();
    expect(extractTar(archive(Buffer.concat([header('skip', 0, '5'), end])), e, { filter: () => false })).toEqual({
      files: 0,
      directories: 0,
      bytes: 0,
    });
    expect(readdirSync(e)).toEqual([]);
  });

  it('the message names what the archive ends in: a pax header, a folder; a 1 MiB long name is still read', () => {
    const msg = (bytes: Buffer) => {
      try {
        extractTar(archive(bytes), dest());
      } catch (e) {
        return (e as Error).message.replace(/^.*?\.tar: /, '');
      }
      return 'no error';
    };
    expect(msg(Buffer.concat([header('p', 600, 'x'), Buffer.alloc(512)]))).toBe(
      'the archive is truncated: it ends inside the pax header at byte 0 (download it again)',
    );
    expect(msg(Buffer.concat([header('d', 600, '5'), Buffer.alloc(512)]))).toBe(
      "the archive is truncated: it ends inside the entry 'd' (download it again)",
    );
    // exactly 1 MiB is not "implausibly large": the archive ends inside it
    expect(msg(Buffer.concat([header('L', 2 ** 20, 'L'), end]))).toBe(
      'the archive is truncated: it ends inside the GNU long name at byte 0 (download it again)',
    );
  });
});

describe('safeTarPath', () => {
  it('drops ./, empty and trailing parts; refuses absolute, drive, backslash and .. paths', () => {
    expect(safeTarPath('./a//b/./c/', 'x.tar')).toBe('a/b/c');
    expect(safeTarPath('./', 'x.tar')).toBe('');
    expect(safeTarPath('a..b/c', 'x.tar')).toBe('a..b/c');
    // a drive letter only at the start
    expect(safeTarPath('dir/c:x', 'x.tar')).toBe('dir/c:x');
    for (const p of ['/etc/x', 'C:/x', 'c:x', 'a\\b'])
      expect(() => safeTarPath(p, 'x.tar'), p).toThrow(
        `x.tar: refusing the entry '${p}': an absolute path (or a backslash) in the archive`,
      );
    for (const p of ['..', 'a/../b', './..'])
      expect(() => safeTarPath(p, 'x.tar'), p).toThrow(`x.tar: refusing the entry '${p}': a '..' component in its path`);
  });
});
