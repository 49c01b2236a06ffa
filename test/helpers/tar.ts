// A small tar writer for the tests (ustar headers; GNU 'L' records for names over 100 bytes; pax 'x'
// records on request; links and other types to check that the reader refuses them).
export interface TarInput {
  path: string;
  /** File content; absent for a folder ('/'-terminated path or type 'directory'). */
  content?: string | Buffer;
  type?: 'file' | 'directory' | 'symlink' | 'hardlink';
  linkname?: string;
  /** Write the path in a pax 'x' record (the header's name field gets a placeholder). */
  pax?: boolean;
}

const BLOCK = 512;
const pad = (n: number): number => (BLOCK - (n % BLOCK)) % BLOCK;

function header(name: string, size: number, type: string, linkname = ''): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  h.write('00000000000\0', 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type, 156, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

function record(name: string, body: Buffer, type: string, linkname?: string): Buffer[] {
  return [header(name, body.length, type, linkname), body, Buffer.alloc(pad(body.length))];
}

function paxBody(key: string, value: string): Buffer {
  const rest = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(rest) + 1;
  while (String(len).length + Buffer.byteLength(rest) !== len) len = String(len).length + Buffer.byteLength(rest);
  return Buffer.from(`${len}${rest}`, 'utf8');
}

/** The bytes of a tar archive holding `entries`, in order, with the two zero blocks at the end. */
export function makeTar(entries: TarInput[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? (e.path.endsWith('/') ? 'directory' : 'file');
    const body = type === 'file' ? Buffer.from(e.content ?? '') : Buffer.alloc(0);
    const flag = { file: '0', directory: '5', symlink: '2', hardlink: '1' }[type];
    let name = e.path;
    if (e.pax) {
      parts.push(...record('PaxHeaders/x', paxBody('path', name), 'x'));
      name = 'placeholder';
    } else if (Buffer.byteLength(name) > 100) {
      parts.push(...record('././@LongLink', Buffer.from(name + '\0'), 'L'));
      name = name.slice(0, 100);
    }
    parts.push(...record(name, body, flag, e.linkname));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}
