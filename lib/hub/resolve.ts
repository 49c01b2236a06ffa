// Model folders by name: a local folder wins; otherwise a hub id (`roberta-base`, `org/name`, `id@rev`)
// is looked up in the Hugging Face cache (lib/hub/cache.ts) and, where the network is allowed, what the
// cache lacks is downloaded into it (lib/hub/download.ts). A snapshot appears only complete: blobs are
// downloaded first, then the snapshot links, the .no_exist markers and the ref are written.
import { existsSync, mkdirSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, LmkError } from '../errors.js';
import type { ProgressFn } from '../types.js';
import { cachedCommit, cachedSnapshot, hubCacheDir, isOffline, knownMissing, parseHubId, repoDir, type Env } from './cache.js';
import { downloadBlob, fileMeta, fileUrl, HubHttpError, type FileMeta, type HubClient } from './download.js';

export const MODEL_FILES = ['config.json', 'model.safetensors'] as const;
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'vocab.json',
  'merges.txt',
  'vocab.txt',
  'tokenizer_config.json',
  'special_tokens_map.json',
] as const;

export interface ResolveOptions {
  /** Branch, tag or commit hash (default: the id's `@revision`, else main). */
  revision?: string;
  /** model: config.json + model.safetensors (and the tokenizer files the repo has); tokenizer: its files only. */
  need?: 'model' | 'tokenizer';
  /** Download progress: (file name, bytes done, bytes total). */
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  /** Environment to read (default process.env): HF_HUB_CACHE, HF_HOME, HF_ENDPOINT, HF_TOKEN, *_OFFLINE. */
  env?: Env;
}

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();
const hasTokenizer = (dir: string): boolean =>
  ['tokenizer.json', 'vocab.txt'].some((f) => existsSync(join(dir, f))) ||
  (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt')));

function binRefusal(id: string, where: string): InputError {
  const out = `${id.split('/').pop()}-safetensors`;
  return new InputError(
    where,
    `${id} has pytorch_model.bin but no model.safetensors: lmkernel never unpickles; convert it once with Python: ` +
      `\`python -c "from transformers import AutoModelForMaskedLM as M, AutoTokenizer as T; ` +
      `M.from_pretrained('${id}').save_pretrained('${out}', safe_serialization=True); T.from_pretrained('${id}').save_pretrained('${out}')"\`` +
      ` and pass --model ${out}`,
  );
}

/** The snapshot has what `need` asks for (or the hub said the missing files do not exist). */
function complete(storage: string, snap: string, need: 'model' | 'tokenizer'): boolean {
  if (need === 'model' && !MODEL_FILES.every((f) => existsSync(join(snap, f)))) return false;
  const commit = snap.split(/[\\/]/).pop()!;
  return hasTokenizer(snap) || TOKENIZER_FILES.every((f) => existsSync(join(snap, f)) || knownMissing(storage, commit, f));
}

/** The folder a model id or path names without touching the network: the folder, a cached snapshot, or null. */
export function cachedModelDir(idOrPath: string, opts: { revision?: string; env?: Env } = {}): string | null {
  if (isDir(idOrPath)) return idOrPath;
  const id = parseHubId(idOrPath);
  if (!id) return null;
  return cachedSnapshot(hubCacheDir(opts.env), id.repo, opts.revision ?? id.revision ?? 'main');
}

/**
 * The local folder `idOrPath` names: the folder itself when it exists; else the hub id's snapshot in the
 * Hugging Face cache, downloading what it lacks unless LMKERNEL_OFFLINE / HF_HUB_OFFLINE is set.
 * A string that is neither an existing folder nor a possible hub id is returned as given (the loader
 * reports the missing folder).
 */
export async function resolveModelDir(idOrPath: string, opts: ResolveOptions = {}): Promise<string> {
  if (isDir(idOrPath)) return idOrPath;
  const id = parseHubId(idOrPath);
  if (!id) return idOrPath;
  const env = opts.env ?? process.env;
  const need = opts.need ?? 'model';
  const revision = opts.revision ?? id.revision ?? 'main';
  const cacheDir = hubCacheDir(env);
  const storage = repoDir(cacheDir, id.repo);
  const snap = cachedSnapshot(cacheDir, id.repo, revision);
  if (snap && complete(storage, snap, need)) return snap;
  if (isOffline(env)) {
    if (snap && need === 'model' && !existsSync(join(snap, 'model.safetensors')) && existsSync(join(snap, 'pytorch_model.bin')))
      throw binRefusal(id.repo, snap);
    if (snap) return snap;
    throw new InputError(
      idOrPath,
      `not a folder, and the Hugging Face cache has no snapshot of '${id.repo}' at revision '${revision}' ` +
        `(looked in ${storage}); downloads are off (LMKERNEL_OFFLINE or HF_HUB_OFFLINE is set): ` +
        'unset them to download it, or pass a model folder',
    );
  }
  const client: HubClient = {
    endpoint: (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, ''),
    token: env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined,
    signal: opts.signal,
  };
  return downloadSnapshot(client, { input: idOrPath, repo: id.repo, revision, storage, need, onProgress: opts.onProgress });
}

interface Job {
  input: string;
  repo: string;
  revision: string;
  storage: string;
  need: 'model' | 'tokenizer';
  onProgress?: ProgressFn;
}

/** The first request: a repo or revision that does not exist is an error naming the id and the endpoint. */
async function firstMeta(c: HubClient, job: Job, file: string): Promise<FileMeta | null> {
  try {
    const m = await fileMeta(c, job.repo, job.revision, file);
    // the bytes of a small file are fetched at the commit, not at a branch that may move meanwhile
    if (m.url === fileUrl(c.endpoint, job.repo, job.revision, file)) m.url = fileUrl(c.endpoint, job.repo, m.commit, file);
    return m;
  } catch (e) {
    if (e instanceof HubHttpError && e.entryMissing) return null;
    const hint =
      e instanceof HubHttpError && e.errorCode === 'RevisionNotFound'
        ? `no revision '${job.revision}' of '${job.repo}' on ${c.endpoint}`
        : e instanceof HubHttpError
          ? `not a folder, and not a model on ${c.endpoint} (a private or gated model needs HF_TOKEN)`
          : `not a folder, and ${c.endpoint} cannot be reached (set LMKERNEL_OFFLINE=1 to use only the cache, ${job.storage})`;
    throw new InputError(job.input, `${hint}: ${e instanceof Error ? ((e.cause as Error)?.message ?? e.message) : String(e)}`);
  }
}

/** Metadata of every wanted file at one commit (missing ones: null), the first request pinning the commit. */
async function metas(c: HubClient, job: Job): Promise<{ commit: string; found: Map<string, FileMeta | null> }> {
  const files: string[] = job.need === 'model' ? [...MODEL_FILES, ...TOKENIZER_FILES] : [...TOKENIZER_FILES];
  const found = new Map<string, FileMeta | null>();
  let commit = cachedCommit(job.storage, job.revision) ?? undefined;
  if (commit === undefined || !isDir(join(job.storage, 'snapshots', commit))) commit = undefined;
  for (const f of files) {
    if (commit && (existsSync(join(job.storage, 'snapshots', commit, f)) || knownMissing(job.storage, commit, f))) continue;
    const m = commit ? await fileMeta(c, job.repo, commit, f).catch(missingAsNull) : await firstMeta(c, job, f);
    if (m) commit ??= m.commit;
    found.set(f, m);
  }
  if (commit === undefined) throw new InputError(job.input, `${c.endpoint} has none of ${files.join(', ')} for '${job.repo}'`);
  return { commit, found };
}

const missingAsNull = (e: unknown): null => {
  if (e instanceof HubHttpError && e.entryMissing) return null;
  throw e;
};

async function downloadSnapshot(c: HubClient, job: Job): Promise<string> {
  const { commit, found } = await metas(c, job);
  const snap = join(job.storage, 'snapshots', commit);
  if (job.need === 'model' && found.get('config.json') === null)
    throw new InputError(job.input, `'${job.repo}' on ${c.endpoint} has no config.json: not a model repo`);
  if (job.need === 'model' && found.get('model.safetensors') === null) {
    const bin = await fileMeta(c, job.repo, commit, 'pytorch_model.bin').catch(missingAsNull);
    if (bin) throw binRefusal(job.repo, job.input);
    throw new InputError(job.input, `'${job.repo}' on ${c.endpoint} has no model.safetensors`);
  }
  mkdirSync(join(job.storage, 'blobs'), { recursive: true });
  for (const m of found.values()) {
    if (!m) continue;
    const blob = join(job.storage, 'blobs', m.etag);
    if (existsSync(blob)) continue;
    const onBytes = job.onProgress && ((done: number, total?: number) => job.onProgress!(m.file, done, total ?? done));
    await downloadBlob(c, m, blob, { repo: job.repo, onBytes });
  }
  mkdirSync(snap, { recursive: true });
  for (const [f, m] of found) {
    if (m) {
      if (!existsSync(join(snap, f))) symlinkSync(join('..', '..', 'blobs', m.etag), join(snap, f));
    } else {
      mkdirSync(join(job.storage, '.no_exist', commit), { recursive: true });
      writeFileSync(join(job.storage, '.no_exist', commit, f), '');
    }
  }
  writeRef(job.storage, job.revision, commit);
  if (job.need === 'tokenizer' && !hasTokenizer(snap))
    throw new LmkError(`${job.input}: '${job.repo}' has no tokenizer files (tokenizer.json, vocab.json + merges.txt, vocab.txt)`);
  return snap;
}

/** refs/<revision> = the commit (written to a temporary name and renamed), unless the revision is the commit. */
function writeRef(storage: string, revision: string, commit: string): void {
  if (revision === commit) return;
  const ref = join(storage, 'refs', revision);
  mkdirSync(join(ref, '..'), { recursive: true });
  const tmp = `${ref}.${process.pid}.tmp`;
  writeFileSync(tmp, commit);
  renameSync(tmp, ref);
}
