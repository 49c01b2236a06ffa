// The local Hugging Face cache, laid out exactly as huggingface_hub lays it out (file_download.py,
// constants.py): the cache folder is $HF_HUB_CACHE (or the legacy $HUGGINGFACE_HUB_CACHE), else
// $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. A model repo
// `org/name` lives in `models--org--name/` with
//   refs/<revision>            the commit hash a branch or tag last resolved to (no newline)
//   blobs/<etag>               the files, named by their ETag (the sha256 for LFS files, the git sha1 otherwise)
//   snapshots/<commit>/<file>  relative symlinks to ../../blobs/<etag>
//   .no_exist/<commit>/<file>  empty markers of files the hub said do not exist at that commit
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export type Env = Record<string, string | undefined>;

/** huggingface_hub's REGEX_COMMIT_HASH. */
export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** huggingface_hub's true values of a boolean environment variable (`_is_true`). */
const isTrue = (v: string | undefined): boolean => v !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(v.toUpperCase());

/** os.path.expanduser + os.path.expandvars (for `$VAR` and `${VAR}`; unknown variables stay as written). */
function expandPath(p: string, env: Env): string {
  const home = env.HOME || homedir();
  const user = p === '~' || p.startsWith('~/') ? home + p.slice(1) : p;
  return user.replace(/\$(\w+)|\$\{([^}]+)\}/g, (all, a: string | undefined, b: string | undefined) => env[a ?? b!] ?? all);
}

/** The hub cache folder, as huggingface_hub's constants.HF_HUB_CACHE computes it. */
export function hubCacheDir(env: Env = process.env): string {
  const home = env.HOME || homedir();
  const hfHome = expandPath(env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(home, '.cache'), 'huggingface'), env);
  return expandPath(env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE ?? join(hfHome, 'hub'), env);
}

/** True when downloads are forbidden: LMKERNEL_OFFLINE (any value but 0/false/no/off), HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE. */
export function isOffline(env: Env = process.env): boolean {
  const own = env.LMKERNEL_OFFLINE;
  const ownSet = own !== undefined && own !== '' && !['0', 'FALSE', 'NO', 'OFF'].includes(own.toUpperCase());
  return ownSet || isTrue(env.HF_HUB_OFFLINE || env.TRANSFORMERS_OFFLINE);
}

/** A hub model id (`roberta-base`, `org/name`), optionally with `@revision`. */
export interface HubId {
  repo: string;
  revision?: string;
}

// huggingface_hub's validate_repo_id: one or two parts of [\w.-], no `--` or `..`, at most 96 characters.
const REPO_ID = /^(?:[\w.-]+\/)?[\w.-]+$/;

/** The hub id named by `s`, or null when `s` cannot be one (a path: absolute, `./x`, `~/x`, three parts...). */
export function parseHubId(s: string): HubId | null {
  const at = s.indexOf('@');
  const repo = at < 0 ? s : s.slice(0, at);
  const revision = at < 0 ? undefined : s.slice(at + 1);
  if (isAbsolute(repo) || repo.length > 96 || !REPO_ID.test(repo)) return null;
  if (repo.includes('--') || repo.includes('..') || repo.endsWith('.git')) return null;
  if (/^[.-]|[.-]$/.test(repo) || repo.split('/').some((p) => /^[.-]|[.-]$/.test(p))) return null;
  if (revision !== undefined && (revision === '' || revision.includes('..'))) return null;
  return { repo, revision };
}

/** `models--org--name` (huggingface_hub's repo_folder_name). */
export const repoFolderName = (repo: string): string => ['models', ...repo.split('/')].join('--');

export const repoDir = (cacheDir: string, repo: string): string => join(cacheDir, repoFolderName(repo));

/** The commit a revision names in the cache: itself when it is a commit hash, else refs/<revision>. */
export function cachedCommit(storage: string, revision: string): string | null {
  if (COMMIT_HASH.test(revision)) return revision;
  const ref = join(storage, 'refs', revision);
  if (!existsSync(ref) || !statSync(ref).isFile()) return null;
  const hash = readFileSync(ref, 'utf8').trim();
  return hash === '' ? null : hash;
}

/** snapshots/<commit> of the revision when the cache holds it, else null. */
export function cachedSnapshot(cacheDir: string, repo: string, revision = 'main'): string | null {
  const storage = repoDir(cacheDir, repo);
  const commit = cachedCommit(storage, revision);
  if (commit === null) return null;
  const snap = join(storage, 'snapshots', commit);
  return existsSync(snap) && statSync(snap).isDirectory() ? snap : null;
}

/** True when the hub said the file does not exist at that commit (huggingface_hub's .no_exist markers). */
export const knownMissing = (storage: string, commit: string, file: string): boolean =>
  existsSync(join(storage, '.no_exist', commit, file));
