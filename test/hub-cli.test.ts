// `--model org/name --revision REV` and `--tokenizer org/name` on the command line, against the hub
// stand-in on 127.0.0.1 (never the real hub): the same output as with the folders, the revision's
// snapshot, the result-line name of an experiment's model.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { run as encodeCli } from '../lib/cli/encode.js';
import { experimentOptions } from '../lib/cli/experimentFlags.js';
import { run as kernelCli } from '../lib/cli/kernel.js';
import { tokenizerDirFor } from '../lib/experiments/index.js';
import { fixtureModelDir, fixtures, tokenizerDirs } from './helpers/fixtures.js';
import { startHubServer, type HubServer } from './helpers/hub-server.js';

const C1 = 'c'.repeat(40);
const C2 = 'd'.repeat(40);
const read = (dir: string, f: string): Buffer => readFileSync(join(dir, f));
const folder = fixtureModelDir('roberta');
const files = {
  'config.json': read(folder, 'config.json'),
  'model.safetensors': read(folder, 'model.safetensors'),
  'vocab.json': read(tokenizerDirs.roberta, 'vocab.json'),
  'merges.txt': read(tokenizerDirs.roberta, 'merges.txt'),
  'tokenizer.json': read(tokenizerDirs.roberta, 'tokenizer.json'),
};

let hub: HubServer;
let cache: string;
let tmp: string;
beforeAll(async () => {
  hub = await startHubServer({ 'org/tiny': { refs: { main: C1, v1: C2 }, commits: { [C1]: files, [C2]: files } } });
});
afterAll(() => hub.close());
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lmk-hub-cli-'));
  cache = join(tmp, 'cache');
  hub.requests.length = 0;
  vi.stubEnv('HF_HUB_CACHE', cache);
  vi.stubEnv('HF_ENDPOINT', hub.url);
  vi.stubEnv('LMKERNEL_OFFLINE', undefined);
  vi.stubEnv('HF_HUB_OFFLINE', undefined);
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('models by name on the command line', () => {
  it('kernel --model org/tiny --revision v1: the revision snapshot, the same kernels as the folder', async () => {
    const A = fixtures().roberta;
    const input = join(tmp, 'in.json');
    writeFileSync(
      input,
      JSON.stringify({ train: A.inputs.prompt.train.slice(0, 2), test: [], label_word_ids: A.label_word_ids }),
    );
    const common = ['--input', input, '--dtype', 'float64'];
    expect(await kernelCli(['--model', 'org/tiny', '--revision', 'v1', ...common, '--out', join(tmp, 'id.json')])).toBe(0);
    expect(await kernelCli(['--model', folder, ...common, '--out', join(tmp, 'dir.json')])).toBe(0);
    expect(readFileSync(join(tmp, 'id.json'), 'utf8')).toBe(readFileSync(join(tmp, 'dir.json'), 'utf8'));
    const storage = join(cache, 'models--org--tiny');
    expect(readFileSync(join(storage, 'refs', 'v1'), 'utf8')).toBe(C2);
    expect(existsSync(join(storage, 'snapshots', C2, 'model.safetensors'))).toBe(true);
    expect(existsSync(join(storage, 'snapshots', C1))).toBe(false);
  });

  it('encode --tokenizer org/tiny encodes as the tokenizer folder does, without fetching the weights', async () => {
    const input = join(tmp, 'in.jsonl');
    writeFileSync(input, JSON.stringify({ texts: ['a fine , moving film'] }) + '\n');
    const base = ['--task', 'SST-2', '--input', input];
    expect(await encodeCli([...base, '--tokenizer', 'org/tiny', '--out', join(tmp, 'id.jsonl')])).toBe(0);
    expect(await encodeCli([...base, '--tokenizer', tokenizerDirs.roberta, '--out', join(tmp, 'dir.jsonl')])).toBe(0);
    expect(readFileSync(join(tmp, 'id.jsonl'), 'utf8')).toBe(readFileSync(join(tmp, 'dir.jsonl'), 'utf8'));
    expect(hub.requests.some((r) => r.path.includes('model.safetensors'))).toBe(false);
  });

  it('experiment flags: the model goes on as org/tiny@v1 (its result-line name), the tokenizer as the snapshot', async () => {
    const a = {
      task: 'SST-2',
      k: 16,
      seeds: ['13'],
      'data-dir': tmp,
      model: 'org/tiny',
      revision: 'v1',
      output: 'prompt',
      dtype: 'float64',
      device: 'cpu',
      out: join(tmp, 'results.jsonl'),
      quiet: true,
    };
    const o = await experimentOptions(a, 'run');
    const snap = join(cache, 'models--org--tiny', 'snapshots', C2);
    expect(o.modelDir).toBe('org/tiny@v1');
    expect(o.tokenizerDir).toBe(snap);
    expect(tokenizerDirFor('org/tiny@v1')).toBe(snap);
  });

  it('offline, an id the cache lacks stops the command naming it and the cache', async () => {
    vi.stubEnv('LMKERNEL_OFFLINE', '1');
    const input = join(tmp, 'in.json');
    writeFileSync(input, JSON.stringify({ train: [{ input_ids: [0, 1], mask_pos: 1 }], label_word_ids: [1, 2] }));
    await expect(kernelCli(['--model', 'org/tiny', '--input', input, '--out', join(tmp, 'o.json')])).rejects.toThrow(
      `org/tiny: not a folder, and the Hugging Face cache has no snapshot of 'org/tiny' at revision 'main' (looked in ${join(cache, 'models--org--tiny')})`,
    );
    expect(hub.requests.length).toBe(0);
  });
});
