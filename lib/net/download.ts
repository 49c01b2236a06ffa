// The one resumable HTTP(S) download of lmkernel (LM-BFF's datasets, hub files): the bytes go to a part
// file (`<dest>.part` unless named), an interrupted transfer (a dropped connection, a killed process) is
// continued with a Range request from the part's size, and the part is renamed to `dest` only once
// complete (its length checked against the server's, then the caller's `verify`). A server that ignores
// Range (200 instead of 206) restarts the file from zero.
import { closeSync, existsSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { LmkError } from '../errors.js';

export interface DownloadOptions {
  /** Called as bytes arrive: bytes in the part file so far, total (0 when the server does not say). */
  onProgress?: (done: number, total: number) => void;
  /** Request headers (e.g. authorization); `accept-encoding: identity` is always sent. */
  headers?: Record<string, string>;
  /** The partial file (default `<dest>.part`). */
  part?: string;
  /** The size the file must have (a part larger than it is started afresh); the server's when absent. */
  expectedSize?: number;
  /** The error for an HTTP status other than 200/206 (default: an LmkError naming the URL and status). */
  httpError?: (res: Response) => Error;
  /** Checks the complete part before it is renamed into place; when it throws, the part is removed. */
  verify?: (part: string) => Promise<void> | void;
  /** Attempts after a dropped connection (each continues where the last stopped); default 5. */
  retries?: number;
  signal?: AbortSignal;
}

export interface DownloadResult {
  bytes: number;
  /** Bytes that were already in the part file when this call started (a resumed download). */
  resumedFrom: number;
  /** Transfers that broke off and were continued within this call. */
  reconnects: number;
}

function sizeOf(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

/** `Content-Range: bytes a-b/total` → { start, total } (total NaN when '*'). */
function contentRange(v: string | null): { start: number; total: number } | undefined {
  const m = v && /^bytes\s+(\d+)-\d+\/(\d+|\*)$/i.exec(v.trim());
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[2] === '*' ? NaN : Number(m[2]) };
}

/** A network error's message with its cause (fetch says only 'fetch failed'). */
function describeError(e: unknown): string | undefined {
  if (!(e instanceof Error)) return e === undefined ? undefined : String(e);
  const cause = e.cause as { code?: string; message?: string } | undefined;
  const more = cause?.code ?? cause?.message;
  return more ? `${e.message}: ${more}` : e.message;
}

class HttpStatusError extends LmkError {
  constructor(url: string, status: number, statusText: string) {
    super(`download of ${url} failed: HTTP ${status} ${statusText}`.trim(), 'LMK_DOWNLOAD');
  }
}

/**
 * One request from `offset`: appends what arrives to `part`. Returns the expected total size (NaN when
 * unknown) and whether the body ended normally; a network error mid-body is returned, not thrown.
 */
async function attempt(url: string, part: string, opts: DownloadOptions): Promise<{ total: number; error?: unknown }> {
  const offset = sizeOf(part);
  const headers: Record<string, string> = { ...opts.headers, 'accept-encoding': 'identity' };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  const res = await fetch(url, { headers, redirect: 'follow', signal: opts.signal });
  if (res.status === 416 && offset > 0) {
    // The part may already hold the whole file.
    const total = Number(/\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1]);
    await res.body?.cancel();
    if (total === offset) return { total };
    unlinkSync(part);
    return { total: NaN, error: new Error('the server refused to continue the partial file') };
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel();
    throw opts.httpError ? opts.httpError(res) : new HttpStatusError(url, res.status, res.statusText);
  }
  let start = 0;
  let total = Number(res.headers.get('content-length') ?? NaN);
  if (res.status === 206) {
    const cr = contentRange(res.headers.get('content-range'));
    if (!cr || cr.start !== offset) {
      await res.body?.cancel();
      throw new LmkError(`download of ${url}: the server answered a Range request with a wrong Content-Range`, 'LMK_DOWNLOAD');
    }
    start = offset;
    total = Number.isNaN(cr.total) ? offset + total : cr.total;
  }
  const fd = openSync(part, start === 0 ? 'w' : 'a');
  let done = start;
  try {
    if (!res.body) return { total };
    const reader = res.body.getReader();
    for (;;) {
      const { done: end, value } = await reader.read();
      if (end) break;
      let off = 0;
      while (off < value.length) off += writeSync(fd, value, off, value.length - off);
      done += value.length;
      opts.onProgress?.(done, Number.isNaN(total) ? 0 : total);
    }
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    return { total, error: e };
  } finally {
    closeSync(fd);
  }
  return { total };
}

/** The complete part: fsynced, checked by `verify` (removed when that throws), renamed to `dest`. */
async function finish(part: string, dest: string, opts: DownloadOptions): Promise<void> {
  const fd = openSync(part, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const size = sizeOf(part);
  try {
    if (opts.expectedSize !== undefined && size !== opts.expectedSize)
      throw new LmkError(
        `downloaded ${size} bytes but ${opts.expectedSize} were announced; nothing was kept (run again)`,
        'LMK_DOWNLOAD',
      );
    await opts.verify?.(part);
  } catch (e) {
    unlinkSync(part);
    throw e;
  }
  renameSync(part, dest);
}

/**
 * Downloads `url` to `dest` through its part file, continuing a part left by an earlier call. Throws
 * LmkError (code LMK_DOWNLOAD) naming the URL when the server fails or the transfer keeps breaking off;
 * the part file is then kept for the next call to continue.
 */
export async function downloadResumable(url: string, dest: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const part = opts.part ?? `${dest}.part`;
  if (opts.expectedSize !== undefined && sizeOf(part) > opts.expectedSize) unlinkSync(part);
  const resumedFrom = sizeOf(part);
  const retries = opts.retries ?? 5;
  let reconnects = 0;
  for (;;) {
    let r: Awaited<ReturnType<typeof attempt>>;
    try {
      r = await attempt(url, part, opts);
    } catch (e) {
      if (e instanceof LmkError || opts.signal?.aborted) throw e;
      r = { total: NaN, error: e };
    }
    const have = sizeOf(part);
    const complete = r.error === undefined && (Number.isNaN(r.total) || have === r.total);
    if (complete) {
      await finish(part, dest, opts);
      return { bytes: have, resumedFrom, reconnects };
    }
    if (reconnects >= retries) {
      const why = describeError(r.error) ?? `the transfer ended at ${have} of ${r.total} bytes`;
      throw new LmkError(
        `download of ${url} broke off ${reconnects + 1} times (${why}); ${have} bytes are kept in ${part}: run the command again to continue`,
        'LMK_DOWNLOAD',
      );
    }
    reconnects++;
  }
}
