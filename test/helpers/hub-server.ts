// A Hugging Face hub stand-in on the loopback interface (node:http, port 0) for test/hub*.test.ts:
// `/{repo}/resolve/{revision}/{file}` answers HEAD and GET with X-Repo-Commit and the ETag (a git blob
// sha1 for small files); LFS files (*.safetensors, *.bin) are a 302 to `/cdn/{sha256}` with
// X-Linked-Etag and X-Linked-Size, and /cdn honours Range. Missing files are 404 EntryNotFound, unknown
// repos 401 RepositoryNotFound, unknown revisions 404 RevisionNotFound. `cutOnce` cuts the connection
// half-way through the first transfer of a blob; `corrupt` flips a byte of every transfer of one.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRepo {
  /** Branch or tag -> commit hash. */
  refs: Record<string, string>;
  /** Commit hash -> file name -> contents. */
  commits: Record<string, Record<string, Buffer>>;
}

export interface SeenRequest {
  method: string;
  path: string;
  authorization?: string;
  range?: string;
}

export interface HubServer {
  url: string;
  requests: SeenRequest[];
  cutOnce: Set<string>;
  corrupt: Set<string>;
  close(): Promise<void>;
}

export const sha256Hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer): string =>
  createHash('sha1')
    .update(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b]))
    .digest('hex');
const isLfs = (file: string): boolean => /\.(safetensors|bin)$/.test(file);

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'x-error-code': code, 'x-error-message': message, 'content-type': 'text/plain' });
  res.end(message);
}

function serveBlob(hub: HubServer, blobs: Map<string, Buffer>, req: IncomingMessage, res: ServerResponse, sha: string): void {
  let body = blobs.get(sha);
  if (!body) return fail(res, 404, 'EntryNotFound', 'no such blob');
  if (hub.corrupt.has(sha)) {
    body = Buffer.from(body);
    body[body.length >> 1] ^= 0xff;
  }
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const from = m ? Number(m[1]) : 0;
  if (from >= body.length && m) {
    res.writeHead(416, { 'content-range': `bytes */${body.length}` });
    return void res.end();
  }
  const part = body.subarray(from);
  const headers: Record<string, string | number> = { 'content-length': part.length, 'accept-ranges': 'bytes' };
  if (m) headers['content-range'] = `bytes ${from}-${body.length - 1}/${body.length}`;
  res.writeHead(m ? 206 : 200, headers);
  if (req.method === 'HEAD') return void res.end();
  if (hub.cutOnce.delete(sha)) {
    res.write(part.subarray(0, part.length >> 1), () => setTimeout(() => req.socket.destroy(), 20));
    return;
  }
  res.end(part);
}

function serveResolve(hub: HubServer, repos: Record<string, HubRepo>, req: IncomingMessage, res: ServerResponse): void {
  const m = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(req.url!.split('?')[0]);
  if (!m) return fail(res, 404, 'NotFound', 'not a hub path');
  const [repoId, revision, file] = [m[1], decodeURIComponent(m[2]), decodeURIComponent(m[3])];
  const repo = repos[repoId];
  if (!repo) return fail(res, 401, 'RepositoryNotFound', `Repository Not Found for url: ${req.url}`);
  const commit = repo.refs[revision] ?? (repo.commits[revision] ? revision : undefined);
  if (!commit) return fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
  const body = repo.commits[commit][file];
  if (!body) return fail(res, 404, 'EntryNotFound', `${file} does not exist on "${revision}"`);
  if (isLfs(file)) {
    const sha = sha256Hex(body);
    res.writeHead(302, {
      location: `${hub.url}/cdn/${sha}`,
      'x-repo-commit': commit,
      'x-linked-etag': `"${sha}"`,
      'x-linked-size': body.length,
      etag: `"${gitSha1(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha}\n`))}"`,
    });
    return void res.end();
  }
  res.writeHead(200, { 'x-repo-commit': commit, etag: `"${gitSha1(body)}"`, 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Starts the server on 127.0.0.1 with the given repos (id -> refs and commits). */
export async function startHubServer(repos: Record<string, HubRepo>): Promise<HubServer> {
  const blobs = new Map<string, Buffer>();
  for (const r of Object.values(repos))
    for (const files of Object.values(r.commits)) for (const b of Object.values(files)) blobs.set(sha256Hex(b), b);
  const hub: HubServer = { url: '', requests: [], cutOnce: new Set(), corrupt: new Set(), close: async () => {} };
  const server = createServer((req, res) => {
    hub.requests.push({
      method: req.method!,
      path: req.url!,
      authorization: req.headers.authorization,
      range: req.headers.range,
    });
    if (req.url!.startsWith('/cdn/')) serveBlob(hub, blobs, req, res, req.url!.slice(5));
    else serveResolve(hub, repos, req, res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.close = () =>
    new Promise((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    });
  return hub;
}
