// Models by name, without the network: the Hugging Face cache folder as huggingface_hub computes it,
// refs/<revision> -> snapshots/<commit>, a commit hash directly, a local folder winning, the offline
// refusals, and pytorch_model.bin's refusal when a snapshot holds only that.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cachedModelDir, hubCacheDir, isOffline, parseHubId, repoFolderName, resolveModelDir } from '../lib/hub/index.js';
import { loadModel } from '../lib/model.js';
import { loadTokenizer } from '../lib/tokenizer.js';
import { fixtureModelDir, tokenizerDirs } from './helpers/fixtures.js';

const tmp = (p = 'lmk-hub-') => mkdtempSync(join(tmpdir(), p));
const C1 = '1'.repeat(40);
const C2 = '2'.repeat(40);

/** A cache holding `repo` at commits C1 (refs/main) and C2 (refs/v1): the fixture model and its tokenizer. */
function fakeCache(repo = 'org/tiny'): { cache: string; storage: string } {
  const cache = tmp('lmk-hub-cache-');
  const storage = join(cache, repoFolderName(repo));
  const model = fixtureModelDir('roberta');
  for (const [commit, ref] of [
    [C1, 'main'],
    [C2, 'v1'],
  ]) {
    const snap = join(storage, 'snapshots', commit);
    mkdirSync(snap, { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) symlinkSync(join(model, f), join(snap, f));
    for (const f of ['vocab.json', 'merges.txt', 'tokenizer.json']) symlinkSync(join(tokenizerDirs.roberta, f), join(snap, f));
    mkdirSync(join(storage, 'refs'), { recursive: true });
    writeFileSync(join(storage, 'refs', ref), commit);
  }
  return { cache, storage };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('the cache folder, as huggingface_hub computes it', () => {
  it('HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub', () => {
    expect(hubCacheDir({ HF_HUB_CACHE: '/a/b', HF_HOME: '/c' })).toBe('/a/b');
    expect(hubCacheDir({ HUGGINGFACE_HUB_CACHE: '/legacy', HF_HOME: '/c' })).toBe('/legacy');
    expect(hubCacheDir({ HF_HOME: '/c' })).toBe('/c/hub');
    expect(hubCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/huggingface/hub');
    expect(hubCacheDir({ HOME: '/home/u' })).toBe('/home/u/.cache/huggingface/hub');
    expect(hubCacheDir({})).toBe(join(homedir(), '.cache', 'huggingface', 'hub'));
    expect(hubCacheDir({ HOME: '/home/u', HF_HOME: '~/hf' })).toBe('/home/u/hf/hub');
    expect(hubCacheDir({ D: '/data', HF_HUB_CACHE: '${D}/hf/$NOPE' })).toBe('/data/hf/$NOPE');
  });

  it('repo folders and ids: models--org--name; paths are not ids', () => {
    expect(repoFolderName('roberta-base')).toBe('models--roberta-base');
    expect(repoFolderName('FacebookAI/roberta-base')).toBe('models--FacebookAI--roberta-base');
    expect(parseHubId('roberta-base')).toEqual({ repo: 'roberta-base', revision: undefined });
    expect(parseHubId('org/name@v1.0')).toEqual({ repo: 'org/name', revision: 'v1.0' });
    for (const p of ['/abs/model', './model', '../model', '~/m', 'a/b/c', 'a--b', 'a..b', '-x', 'x.', ''])
      expect(parseHubId(p), p).toBeNull();
  });

  it('offline: LMKERNEL_OFFLINE (not 0/false), HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE as huggingface_hub reads them', () => {
    expect(isOffline({})).toBe(false);
    expect(isOffline({ LMKERNEL_OFFLINE: '1' })).toBe(true);
    expect(isOffline({ LMKERNEL_OFFLINE: '0' })).toBe(false);
    expect(isOffline({ HF_HUB_OFFLINE: '1' })).toBe(true);
    expect(isOffline({ HF_HUB_OFFLINE: 'yes' })).toBe(true);
    expect(isOffline({ HF_HUB_OFFLINE: '0' })).toBe(false);
    expect(isOffline({ TRANSFORMERS_OFFLINE: 'true' })).toBe(true);
  });
});

describe('resolving an id from the cache', () => {
  it('refs/main by default, refs/<revision> with --revision or id@rev, a commit hash directly', async () => {
    const { cache, storage } = fakeCache();
    const env = { HF_HUB_CACHE: cache, LMKERNEL_OFFLINE: '1' };
    expect(await resolveModelDir('org/tiny', { env })).toBe(join(storage, 'snapshots', C1));
    expect(await resolveModelDir('org/tiny', { env, revision: 'v1' })).toBe(join(storage, 'snapshots', C2));
    expect(await resolveModelDir('org/tiny@v1', { env })).toBe(join(storage, 'snapshots', C2));
    expect(await resolveModelDir('org/tiny', { env, revision: C2 })).toBe(join(storage, 'snapshots', C2));
    expect(cachedModelDir('org/tiny', { env, revision: 'v1' })).toBe(join(storage, 'snapshots', C2));
    await expect(resolveModelDir('org/tiny', { env, revision: 'v2' })).rejects.toThrow(
      /no snapshot of 'org\/tiny' at revision 'v2'/,
    );
  });

  it('HF_HOME/hub is read when HF_HUB_CACHE is unset; loadModel and loadTokenizer take the id', async () => {
    const home = tmp('lmk-hub-home-');
    const { cache } = fakeCache();
    symlinkSync(cache, join(home, 'hub'));
    vi.stubEnv('HF_HUB_CACHE', undefined);
    vi.stubEnv('HUGGINGFACE_HUB_CACHE', undefined);
    vi.stubEnv('HF_HOME', home);
    vi.stubEnv('LMKERNEL_OFFLINE', '1');
    const m = await loadModel('org/tiny', { dtype: 'float64' });
    expect(m.dir).toBe(join(home, 'hub', repoFolderName('org/tiny'), 'snapshots', C1));
    expect(m.info.vocabSize).toBe(50265);
    const tok = loadTokenizer('org/tiny', { revision: 'v1' });
    expect(tok.encode('a great movie')).toEqual(loadTokenizer(tokenizerDirs.roberta).encode('a great movie'));
  });

  it('a local folder wins over a cached id of the same name', async () => {
    const { cache } = fakeCache('tiny');
    const cwd = tmp('lmk-hub-cwd-');
    mkdirSync(join(cwd, 'tiny'));
    const here = process.cwd();
    process.chdir(cwd);
    try {
      expect(await resolveModelDir('tiny', { env: { HF_HUB_CACHE: cache } })).toBe('tiny');
      expect(cachedModelDir('tiny', { env: { HF_HUB_CACHE: cache } })).toBe('tiny');
    } finally {
      process.chdir(here);
    }
  });

  it('offline, an id the cache lacks is refused naming the id and the cache folder', async () => {
    const cache = tmp();
    vi.stubEnv('HF_HUB_CACHE', cache);
    vi.stubEnv('HF_ENDPOINT', 'http://127.0.0.1:9'); // never the real hub, even if the check below failed
    for (const [k, v] of [
      ['LMKERNEL_OFFLINE', '1'],
      ['HF_HUB_OFFLINE', '1'],
    ]) {
      vi.stubEnv(k, v);
      const want = `org/absent: not a folder, and the Hugging Face cache has no snapshot of 'org/absent' at revision 'main' (looked in ${join(cache, 'models--org--absent')}); downloads are off`;
      await expect(loadModel('org/absent')).rejects.toThrow(want);
      vi.stubEnv(k, undefined);
    }
    expect(() => loadTokenizer('org/absent')).toThrow(`org/absent: not a folder, and the Hugging Face cache (${cache})`);
  });

  it('a snapshot with only pytorch_model.bin keeps the refusal with the conversion one-liner', async () => {
    const cache = tmp();
    const snap = join(cache, 'models--org--old', 'snapshots', C1);
    mkdirSync(snap, { recursive: true });
    mkdirSync(join(cache, 'models--org--old', 'refs'));
    writeFileSync(join(cache, 'models--org--old', 'refs', 'main'), C1);
    writeFileSync(join(snap, 'config.json'), '{}');
    writeFileSync(join(snap, 'pytorch_model.bin'), 'x');
    vi.stubEnv('HF_HUB_CACHE', cache);
    vi.stubEnv('LMKERNEL_OFFLINE', '1');
    await expect(loadModel('org/old')).rejects.toThrow(
      `${snap}: org/old has pytorch_model.bin but no model.safetensors: lmkernel never unpickles; convert it once with Python: ` +
        "`python -c \"from transformers import AutoModelForMaskedLM as M, AutoTokenizer as T; M.from_pretrained('org/old')",
    );
  });
});
