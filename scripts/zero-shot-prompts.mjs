#!/usr/bin/env node
// Zero-shot prompt selection for the demo task on a model folder: a few natural templates / label-word
// pairs are scored on sentences of the demo task's *train* file (selection), and every candidate's test
// accuracy is reported too (the test is not used to choose). Writes <model>/prompt-selection.json.
//   node scripts/zero-shot-prompts.mjs [models/demo] [--n 600]
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { splitBrown } = await import(join(root, 'dist/demo/demoTask.js'));
const { zeroShotAccuracy } = await import(join(root, 'dist/demo/zeroShot.js'));
const { loadModel } = await import(join(root, 'dist/model.js'));
const { loadTokenizer } = await import(join(root, 'dist/tokenizer.js'));

const dir = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : join(root, 'models', 'demo');
const n = Number(process.argv.includes('--n') ? process.argv[process.argv.indexOf('--n') + 1] : 600);
const CANDIDATES = [
  ['*cls**sent_0*_This_is_a*mask*_story.*sep+*', ['news', 'love']],
  ['*cls**sent_0*_This_is*mask*.*sep+*', ['news', 'fiction']],
  ['*cls**sent_0*_It_is_a*mask*_story.*sep+*', ['news', 'love']],
  ['*cls**sent_0*_This_is_from_the*mask*.*sep+*', ['newspaper', 'novel']],
  ['*cls**sent_0*_The*mask*_said.*sep+*', ['report', 'girl']],
  ['*cls**sent_0*_*mask*_said_so.*sep+*', ['He', 'She']],
];
const s = splitBrown();
const pick = (rows) => {
  const m = Math.min(n, rows.length);
  return Array.from({ length: m }, (_, i) => rows[Math.floor((i * rows.length) / m)]).map(([l, x]) => ({
    texts: [x],
    label: String(l),
    labelIndex: l,
  }));
};
const train = pick(s.train);
const test = pick(s.test);
const model = await loadModel(dir);
const tok = loadTokenizer(dir);
const out = [];
for (const [template, labelWords] of CANDIDATES) {
  const ok = labelWords.every((w) => tok.tokenToId('Ġ' + w) !== undefined);
  if (!ok) {
    out.push({ template, labelWords, skipped: 'a label word is not a single token' });
    continue;
  }
  const tr = await zeroShotAccuracy(model, tok, 'brown-genre', train, { template, labelWords });
  const te = await zeroShotAccuracy(model, tok, 'brown-genre', test, { template, labelWords });
  out.push({ template, labelWords, train: tr, test: te });
  console.error(
    `${template} ${labelWords.join('/')}: train ${(tr.accuracy * 100).toFixed(1)}% (majority ${(tr.majority * 100).toFixed(1)}), test ${(te.accuracy * 100).toFixed(1)}% (majority ${(te.majority * 100).toFixed(1)})`,
  );
}
writeFileSync(
  join(dir, 'prompt-selection.json'),
  JSON.stringify({ n_train: train.length, n_test: test.length, candidates: out }, null, 1) + '\n',
);
