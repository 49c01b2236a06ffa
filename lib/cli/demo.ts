// `lmkernel demo` (`npm run demo`): the main job end to end on the shipped model (models/demo) and the
// shipped demo task (brown-genre): k-shot splits, prompts, SGD / SignGD / asymmetric SignGD kernels with
// solvers selected on dev, SGD and Adam prompt fine-tuning, linearization and kernel distance; prints a
// Table-2-style table and writes results under --out.
import { runDemo, defaultDemoModel } from '../demo.js';
import { cliProgressBar } from '../progress.js';
import { helpText, parseArgs, type FlagSpec } from './args.js';

const COMMAND = 'demo';

const SPEC: FlagSpec = {
  model: { type: 'string', help: `model folder (default: the shipped ${'models/demo'})` },
  out: { type: 'string', help: 'output folder', default: 'demo-output' },
  k: { type: 'number', help: 'examples per label in train (and dev)', default: 16 },
  seeds: { type: 'list', help: 'k-shot seeds', default: ['13', '21', '42'] },
  'max-test': { type: 'number', help: 'test sentences per seed', default: 100 },
  'ft-steps': { type: 'number', help: 'fine-tuning updates per run (full batch)', default: 30 },
  'no-kernels': { type: 'boolean', help: 'skip the kernel solvers' },
  'no-finetune': { type: 'boolean', help: 'skip fine-tuning, linearization and kernel distance' },
};

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, SPEC, COMMAND);
  if (a.help) {
    console.log(helpText(COMMAND, '[--out DIR] [--model DIR] [options]', SPEC));
    return 0;
  }
  const t0 = performance.now();
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  try {
    const s = await runDemo({
      modelDir: (a.model as string | undefined) ?? defaultDemoModel(),
      out: a.out as string,
      k: a.k as number,
      seeds: (a.seeds as string[]).map(Number),
      maxTest: a['max-test'] as number,
      ftSteps: a['ft-steps'] as number,
      kernels: !a['no-kernels'],
      finetuning: !a['no-finetune'],
      signal: ac.signal,
      progress: (label) => cliProgressBar(label),
      log: (m) => console.error(`[demo ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}`),
    });
    const { readFileSync } = await import('node:fs');
    console.log('\n' + readFileSync(s.files.table, 'utf8'));
    console.log(`Wrote ${Object.values(s.files).join(', ')} in ${s.seconds.toFixed(0)} s.`);
  } finally {
    process.removeListener('SIGINT', onSig);
  }
  return 0;
}
