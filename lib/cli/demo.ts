// `lmkernel demo` (`npm run demo`): the main job end to end on the shipped model (models/demo) and the
// shipped demo task (brown-genre): k-shot splits, prompts, SGD / SignGD / asymmetric SignGD kernels with
// solvers selected on dev, SGD and Adam prompt fine-tuning, linearization and kernel distance; prints a
// Table-2-style table and writes results under --out.
import { readFileSync } from 'node:fs';
import { defaultDemoModel, runDemo } from '../demo/run.js';
import { defineCommand, withInterrupt } from './command.js';
import { MODEL_HELP, REVISION_FLAG, modelArg, numberList } from './experimentFlags.js';
import { cliProgressBar } from './progress.js';

const command = defineCommand({
  name: 'demo',
  synopsis: '[--out DIR] [--model DIR] [options]',
  spec: {
    model: { type: 'string', help: `${MODEL_HELP} (default: the shipped models/demo)` },
    revision: REVISION_FLAG,
    out: { type: 'string', help: 'output folder', default: 'demo-output' },
    k: { type: 'number', help: 'examples per label in train (and dev)', default: 16 },
    seeds: { type: 'list', help: 'k-shot seeds', default: ['13', '21', '42'] },
    'max-test': { type: 'number', help: 'test sentences per seed', default: 100 },
    'ft-steps': { type: 'number', help: 'fine-tuning updates per run (full batch)', default: 30 },
    'no-kernels': { type: 'boolean', help: 'skip the kernel solvers' },
    'no-finetune': { type: 'boolean', help: 'skip fine-tuning, linearization and kernel distance' },
  },
  run: async (a) => {
    const t0 = performance.now();
    const modelDir = a.model === undefined ? defaultDemoModel() : (await modelArg(a.model, a.revision)).dir;
    const s = await withInterrupt((signal) =>
      runDemo({
        modelDir,
        out: a.out,
        k: a.k,
        seeds: numberList('seeds', a.seeds, true),
        maxTest: a['max-test'],
        ftSteps: a['ft-steps'],
        kernels: !a['no-kernels'],
        finetuning: !a['no-finetune'],
        signal,
        progress: (label) => cliProgressBar(label),
        log: (m) => console.error(`[demo ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}`),
      }),
    );
    console.log('\n' + readFileSync(s.files.table, 'utf8'));
    console.log(`Wrote ${Object.values(s.files).join(', ')} in ${s.seconds.toFixed(0)} s.`);
    return 0;
  },
});

export const run = command.run;
