// Downloading a model by id into the Hugging Face cache, against a hub stand-in on 127.0.0.1
// (test/helpers/hub-server.ts), never the real hub: the cache layout huggingface_hub writes, the
// redirect of LFS files, HF_TOKEN, resuming a cut transfer, the sha256 check, the refusals.
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveModelDir } from '../lib/hub/index.js';
import { downloadBlob, fileMeta } from '../lib/hub/download.js';
import { loadModel } from '../lib/model.js';
import { loadTokenizer } from '../lib/tokenizer.js';
import { fixtureModelDir, fixtures, tokenizerDirs } from './helpers/fixtures.js';
import { sha256Hex, startHubServer, type HubServer } from './helpers/hub-server.js';

const C1 = 'a'.repeat(40);
const C2 = 'b'.repeat(40);
const read = (dir: string, f: string): Buffer => readFileSync(join(dir, f));
const modelDir = fixtureModelDir('roberta');
const model = {
  'config.json': read(modelDir, 'config.json'),
  'model.safetensors': read(modelDir, 'model.safetensors'),
  'vocab.json': read(tokenizerDirs.roberta, 'vocab.json'),
  'merges.txt': read(tokenizerDirs.roberta, 'merges.txt'),
  'tokenizer.json': read(tokenizerDirs.roberta, 'tokenizer.json'),
};
const weightsSha = sha256Hex(model['model.safetensors']);

let hub: HubServer;
let cache: string;
beforeAll(async () => {
  hub = await startHubServer({
    'org/tiny': { refs: { main: C1, v1: C2 }, commits: { [C1]: model, [C2]: { ...model, 'config.json': model['config.json'] } } },
    'tiny-bin': {
      refs: { main: C1 },
      commits: { [C1]: { 'config.json': model['config.json'], 'pytorch_model.bin': Buffer.from('x') } },
    },
  });
});
afterAll(() => hub.close());
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), 'lmk-hub-dl-'));
  hub.requests.length = 0;
  vi.stubEnv('HF_HUB_CACHE', cache);
  vi.stubEnv('HF_ENDPOINT', hub.url);
  vi.stubEnv('LMKERNEL_OFFLINE', undefined);
  vi.stubEnv('HF_HUB_OFFLINE', undefined);
  vi.stubEnv('TRANSFORMERS_OFFLINE', undefined);
  vi.stubEnv('HF_TOKEN', undefined);
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('downloading a model by id', () => {
  it('fills the cache as huggingface_hub does, and loads the same kernels as the folder', async () => {
    const storage = join(cache, 'models--org--tiny');
    const progress: Array<[string, number, number]> = [];
    const m = await loadModel('org/tiny', { dtype: 'float64', onDownload: (f, d, t) => progress.push([f, d, t]) });
    const snap = join(storage, 'snapshots', C1);
    expect(m.dir).toBe(snap);
    expect(readFileSync(join(storage, 'refs', 'main'), 'utf8')).toBe(C1);
    expect(readlinkSync(join(snap, 'model.safetensors'))).toBe(join('..', '..', 'blobs', weightsSha));
    expect(readlinkSync(join(snap, 'config.json'))).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{40}$/);
    for (const f of ['vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json'])
      expect(statSync(join(storage, '.no_exist', C1, f)).size).toBe(0);
    expect(readdirSync(join(storage, 'blobs')).some((f) => f.endsWith('.incomplete'))).toBe(false);
    const size = model['model.safetensors'].length;
    expect(progress.filter((p) => p[0] === 'model.safetensors').at(-1)).toEqual(['model.safetensors', size, size]);
    // the weights came through the redirect; the metadata from HEAD requests to the resolve URLs
    expect(hub.requests.filter((r) => r.method === 'GET').map((r) => r.path)).toContain(`/cdn/${weightsSha}`);
    expect(hub.requests.some((r) => r.method === 'HEAD' && r.path === `/org/tiny/resolve/main/config.json`)).toBe(true);
    expect(hub.requests.every((r) => r.authorization === undefined)).toBe(true);

    const A = fixtures().roberta;
    const P = A.inputs.prompt;
    const opts = { train: P.train.slice(0, 2), test: P.test.slice(0, 1), labelWordIds: A.label_word_ids };
    const direct = await (await loadModel(modelDir, { dtype: 'float64' })).kernels(opts);
    const byId = await m.kernels(opts);
    expect(Array.from(byId.kernels.sgd!.trainTest.data)).toEqual(Array.from(direct.kernels.sgd!.trainTest.data));
    expect(loadTokenizer('org/tiny').encode('a fine film')).toEqual(loadTokenizer(tokenizerDirs.roberta).encode('a fine film'));

    // now cached: no request at all, and offline works
    hub.requests.length = 0;
    vi.stubEnv('LMKERNEL_OFFLINE', '1');
    expect(await resolveModelDir('org/tiny')).toBe(snap);
    expect(hub.requests).toEqual([]);
  });

  it('a revision pins its commit; HF_TOKEN is sent as a bearer token', async () => {
    vi.stubEnv('HF_TOKEN', 'hf_secret');
    const dir = await resolveModelDir('org/tiny', { revision: 'v1' });
    expect(dir).toBe(join(cache, 'models--org--tiny', 'snapshots', C2));
    expect(readFileSync(join(cache, 'models--org--tiny', 'refs', 'v1'), 'utf8')).toBe(C2);
    const resolves = hub.requests.filter((r) => r.path.includes('/resolve/'));
    expect(resolves.length).toBeGreaterThan(3);
    expect(resolves.every((r) => r.authorization === 'Bearer hf_secret')).toBe(true);
    // the first request names the revision, the others the commit it resolved to
    expect(resolves[0].path).toBe('/org/tiny/resolve/v1/config.json');
    expect(resolves.slice(1).every((r) => r.path.startsWith(`/org/tiny/resolve/${C2}/`))).toBe(true);
  });

  it('a tokenizer by id fetches only the tokenizer files', async () => {
    const dir = await resolveModelDir('org/tiny', { need: 'tokenizer' });
    expect(existsSync(join(dir, 'tokenizer.json'))).toBe(true);
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(false);
    expect(hub.requests.some((r) => r.path.includes('model.safetensors'))).toBe(false);
  });

  it('a transfer cut half-way is resumed with a Range request to the redirect target', async () => {
    hub.cutOnce.add(weightsSha);
    const dir = await resolveModelDir('org/tiny');
    expect(sha256Hex(readFileSync(join(dir, 'model.safetensors')))).toBe(weightsSha);
    const gets = hub.requests.filter((r) => r.path === `/cdn/${weightsSha}`);
    expect(gets.length).toBe(2);
    expect(gets[0].range).toBeUndefined();
    expect(gets[1].range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it('a partial blob left by an earlier process is continued, not restarted', async () => {
    hub.cutOnce.add(weightsSha);
    const client = { endpoint: hub.url };
    const meta = await fileMeta(client, 'org/tiny', 'main', 'model.safetensors');
    expect(meta).toMatchObject({ commit: C1, etag: weightsSha, size: model['model.safetensors'].length });
    expect(meta.url).toBe(`${hub.url}/cdn/${weightsSha}`);
    const blob = join(cache, 'blob');
    await expect(downloadBlob(client, meta, blob, { repo: 'org/tiny', retries: 0 })).rejects.toThrow(
      /broke off 1 times .* bytes are kept in .*blob\.incomplete: run the command again to continue/,
    );
    const partial = statSync(`${blob}.incomplete`).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(model['model.safetensors'].length);
    await downloadBlob(client, meta, blob, { repo: 'org/tiny' });
    expect(sha256Hex(readFileSync(blob))).toBe(weightsSha);
    expect(hub.requests.at(-1)!.range).toBe(`bytes=${partial}-`);
  });

  it('a sha256 mismatch is refused naming the file, and nothing is left in the snapshots', async () => {
    hub.corrupt.add(weightsSha);
    try {
      await expect(resolveModelDir('org/tiny')).rejects.toThrow(
        new RegExp(`org/tiny/model\\.safetensors: sha256 mismatch: .* the hub's ETag is ${weightsSha}`),
      );
    } finally {
      hub.corrupt.delete(weightsSha);
    }
    const storage = join(cache, 'models--org--tiny');
    expect(existsSync(join(storage, 'snapshots'))).toBe(false);
    expect(existsSync(join(storage, 'refs'))).toBe(false);
    expect(readdirSync(join(storage, 'blobs')).filter((f) => f.startsWith(weightsSha))).toEqual([]);
  });

  it('refusals: only pytorch_model.bin, an unknown repo, an unknown revision', async () => {
    await expect(loadModel('tiny-bin')).rejects.toThrow(
      /tiny-bin: tiny-bin has pytorch_model\.bin but no model\.safetensors: lmkernel never unpickles; convert it once/,
    );
    expect(hub.requests.some((r) => r.path.endsWith('pytorch_model.bin') && r.method === 'GET')).toBe(false);
    await expect(loadModel('org/nothing')).rejects.toThrow(
      `org/nothing: not a folder, and not a model on ${hub.url} (a private or gated model needs HF_TOKEN)`,
    );
    await expect(resolveModelDir('org/tiny', { revision: 'v9' })).rejects.toThrow(`no revision 'v9' of 'org/tiny' on ${hub.url}`);
  });
});
