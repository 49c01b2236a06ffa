// One file from the hub, as huggingface_hub fetches it (file_download.py: get_hf_file_metadata, http_get):
// a HEAD request to {endpoint}/{repo}/resolve/{revision}/{file} (relative redirects followed, a redirect
// to another host, the CDN of LFS files, not) gives the commit (X-Repo-Commit), the ETag (X-Linked-Etag,
// the sha256 of an LFS file, else ETag), the size and where to GET; the body goes to
// blobs/<etag>.incomplete (lib/net/download.ts: continued with a Range request after a cut connection), is
// checked (size; sha256 for LFS files), fsynced and renamed to blobs/<etag>.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { InputError, LmkError } from '../errors.js';
import { downloadResumable } from '../net/download.js';

export interface HubClient {
  endpoint: string;
  token?: string;
  signal?: AbortSignal;
}

export interface FileMeta {
  file: string;
  commit: string;
  etag: string;
  size?: number;
  /** Where the bytes are (the CDN URL of an LFS file). */
  url: string;
}

/** The hub answered a metadata request with an error (X-Error-Code: RepositoryNotFound, RevisionNotFound, ...). */
export class HubHttpError extends LmkError {
  constructor(
    readonly url: string,
    readonly status: number,
    readonly errorCode: string | null,
    detail: string,
  ) {
    super(`${url}: HTTP ${status}${errorCode ? ` ${errorCode}` : ''}${detail ? `: ${detail}` : ''}`, 'LMK_HUB_HTTP');
    this.name = 'HubHttpError';
  }
  /** The file does not exist in an existing repo and revision. */
  get entryMissing(): boolean {
    return this.status === 404 && (this.errorCode === null || this.errorCode === 'EntryNotFound');
  }
}

export const fileUrl = (endpoint: string, repo: string, revision: string, file: string): string =>
  `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;

function headers(c: HubClient, url: string, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'lmkernel', ...extra };
  if (c.token && new URL(url).origin === new URL(c.endpoint).origin) h.authorization = `Bearer ${c.token}`;
  return h;
}

/** huggingface_hub's _normalize_etag. */
const normalizeEtag = (e: string | null): string | null => (e === null ? null : e.replace(/^W\//, '').replace(/^"|"$/g, ''));

/** HEAD the file; relative redirects (renamed repos) are followed, absolute ones give the download URL. */
export async function fileMeta(c: HubClient, repo: string, revision: string, file: string): Promise<FileMeta> {
  let url = fileUrl(c.endpoint, repo, revision, file);
  for (let hop = 0; ; hop++) {
    const res = await fetch(url, { method: 'HEAD', headers: headers(c, url), redirect: 'manual', signal: c.signal });
    const location = res.headers.get('location');
    const isRedirect = res.status >= 300 && res.status < 400 && location !== null;
    if (isRedirect && !/^[a-z][a-z0-9+.-]*:/i.test(location) && hop < 5) {
      url = new URL(location, url).href;
      continue;
    }
    if (!isRedirect && !res.ok)
      throw new HubHttpError(url, res.status, res.headers.get('x-error-code'), res.headers.get('x-error-message') ?? '');
    const commit = res.headers.get('x-repo-commit');
    const etag = normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
    if (!commit || !etag)
      throw new LmkError(
        `${url}: the server sent no ${commit ? 'ETag' : 'X-Repo-Commit'} header: is HF_ENDPOINT a Hugging Face hub?`,
      );
    const sizeHeader = res.headers.get('x-linked-size') ?? (isRedirect ? null : res.headers.get('content-length'));
    const size = sizeHeader === null ? undefined : Number(sizeHeader);
    return { file, commit, etag, size, url: isRedirect ? new URL(location, url).href : url };
  }
}

export type BytesFn = (done: number, total: number | undefined) => void;

async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Downloads the file into `blob` (blobs/<etag>) through `blob.incomplete` (lib/net/download.ts: resumed
 * after a cut connection or by a later call, retried `retries` times), checks the size and (LFS: a 64-hex
 * ETag) the sha256, and renames only a checked file into place. A failed check removes the partial file.
 */
export async function downloadBlob(
  c: HubClient,
  meta: FileMeta,
  blob: string,
  opts: { repo: string; onBytes?: BytesFn; retries?: number } = { repo: '' },
): Promise<void> {
  const where = `${opts.repo}/${meta.file}`;
  await downloadResumable(meta.url, blob, {
    part: `${blob}.incomplete`,
    headers: headers(c, meta.url),
    expectedSize: meta.size,
    retries: opts.retries ?? 5,
    signal: c.signal,
    onProgress: (done, total) => opts.onBytes?.(done, meta.size ?? (total || undefined)),
    httpError: (res) => new HubHttpError(meta.url, res.status, res.headers.get('x-error-code'), `GET ${meta.file}`),
    verify: async (part) => {
      if (!/^[0-9a-f]{64}$/.test(meta.etag)) return;
      const sha = await fileSha256(part);
      if (sha !== meta.etag)
        throw new InputError(
          where,
          `sha256 mismatch: the downloaded file hashes to ${sha} but the hub's ETag is ${meta.etag}; ` +
            'the transfer was corrupted and nothing was stored in the cache (run again to download it afresh)',
        );
    },
  });
}
