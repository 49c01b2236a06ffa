// `lmkernel run`: kernel experiments over seeds (one results.jsonl line per seed), hyper-parameters
// selected on dev over a grid in the same process, kernels cached by content.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LmkError, OptionError } from '../errors.js';
import { FORMULAS, SUBSETS, type Dtype, type Formula, type OutputMode, type Subset } from '../model.js';
import { cliProgressBar } from '../progress.js';
import { DEFAULT_GRIDS, SOLVER_AXES, runKernelExperiment, type GridAxes, type GridAxis } from '../runner/index.js';
import { SOLVERS, type SolverName } from '../solvers/index.js';
import { helpText, parseArgs, requireFlag, type FlagSpec } from './args.js';

const GRID_FLAGS: Record<string, GridAxis> = {
  'kernel-regularization': 'kernelRegularization',
  'f0-scaling': 'f0Scaling',
  C: 'C',
  epsilon: 'epsilon',
  gamma: 'gamma',
  lambda: 'lambda',
};

const defaults = (axis: GridAxis): string =>
  (Object.keys(DEFAULT_GRIDS) as SolverName[])
    .filter((s) => SOLVER_AXES[s].includes(axis))
    .map((s) => `${s}: ${DEFAULT_GRIDS[s][axis]!.join(',')}`)
    .join('; ');

const SPEC: FlagSpec = {
  task: { type: 'string', help: 'task name (SST-2, sst-5, mr, cr, mpqa, subj, trec, ag_news, MNLI, SNLI, QNLI, RTE, MRPC, QQP, CoLA)' },
  k: { type: 'number', help: 'examples per label (the <k>-<seed> split folders)' },
  seeds: { type: 'list', help: 'data seeds', default: ['13', '21', '42', '87', '100'] },
  'data-dir': { type: 'string', help: 'folder holding <TASK>/<k>-<seed>/{train,dev,test} (e.g. data/k-shot-1k-test)' },
  model: { type: 'string', help: 'model folder: config.json + model.safetensors' },
  tokenizer: { type: 'string', help: 'tokenizer folder (default: the model folder, when it holds tokenizer files)' },
  mode: { type: 'string', help: 'prompt | standard (standard: <s> A </s> B </s>, head fitted by linear probing)', default: 'prompt' },
  formula: { type: 'string', help: FORMULAS.join(' | '), default: 'sgd' },
  solver: { type: 'string', help: SOLVERS.join(' | ') + ' (asym needs --binary --formula asymmetric_signgd)', default: 'lstsq' },
  binary: { type: 'boolean', help: 'one output logit1 - logit0, labels +-1 (2-class tasks)' },
  'kernel-regularization': { type: 'list', help: `grid of lambda (K + lambda*sigma_max*I). Default ${defaults('kernelRegularization')}` },
  'f0-scaling': { type: 'list', help: `grid of s (fit Y - f0/s; 0 = no f0). Default ${defaults('f0Scaling')}` },
  C: { type: 'list', help: `grid of C (logistic, svr, svc). Default ${defaults('C')}` },
  epsilon: { type: 'list', help: `grid of the svr epsilon. Default ${defaults('epsilon')}` },
  gamma: { type: 'list', help: `grid of the asym gamma. Default ${defaults('gamma')}` },
  lambda: { type: 'list', help: `grid of the asym lambda. Default ${defaults('lambda')}` },
  subset: { type: 'string', help: `parameters in the kernel: ${SUBSETS.filter((s) => s !== 'lora').join(' | ')}`, default: 'all' },
  'label-words': { type: 'list', help: 'custom label words in label order (w0,w1,...) or label:word pairs; each must be one token' },
  template: { type: 'string', help: 'custom prompt template (template mini-language)' },
  'max-test': { type: 'number', help: 'use only the first N test examples (file order): quick runs and tests' },
  'lp-C': { type: 'number', help: 'standard mode: fixed linear-probe C (default: 5-fold CV over logspace(-4,4,10))' },
  'no-linear-probe': { type: 'boolean', help: "standard mode: keep the checkpoint's classifier instead of linear probing" },
  'cache-dir': { type: 'string', help: 'kernel/f0/head cache (default: .lmkernel-cache beside --out)' },
  'no-cache': { type: 'boolean', help: 'do not read or write the cache' },
  dtype: { type: 'string', help: 'float32 | float64', default: 'float32' },
  device: { type: 'string', help: 'cpu | cuda | cuda:N', default: 'cpu' },
  'batch-size': { type: 'number', help: 'sequences per forward/backward batch', default: 8 },
  out: { type: 'string', help: 'results file: one JSON line appended per seed; seeds already there are skipped', default: 'results.jsonl' },
  quiet: { type: 'boolean', help: 'no per-seed messages' },
};

function numbers(flag: string, v: unknown): number[] {
  return (v as string[]).map((s) => {
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n)) throw new OptionError(`--${flag}`, 'a comma-separated list of numbers', s);
    return n;
  });
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, SPEC, 'run');
  if (a.help) {
    console.log(
      helpText('run', '--task T --k K --data-dir D --model M [--tokenizer TOK] [options]', SPEC) +
        '\n\nGrid flags take comma-separated values; the grids of the chosen solver that are not given use the defaults above.' +
        '\nOne line is appended to --out per finished seed (dev-selected setting, dev and test metrics, timings);' +
        '\nrerunning the same command skips finished seeds and reuses cached kernels.',
    );
    return 0;
  }
  if (a._.length > 0) throw new LmkError(`run: unexpected argument '${a._[0]}'`);
  const task = requireFlag<string>(a, 'task', 'run');
  const k = requireFlag<number>(a, 'k', 'run');
  const dataDir = requireFlag<string>(a, 'data-dir', 'run');
  const model = requireFlag<string>(a, 'model', 'run');
  const mode = a.mode as string;
  if (mode !== 'prompt' && mode !== 'standard') throw new OptionError('--mode', 'prompt | standard', mode);
  const formula = a.formula as string;
  if (!(FORMULAS as readonly string[]).includes(formula)) throw new OptionError('--formula', FORMULAS.join(' | '), formula);
  const solver = a.solver as string;
  if (!(SOLVERS as readonly string[]).includes(solver)) throw new OptionError('--solver', SOLVERS.join(' | '), solver);
  const subset = a.subset as string;
  if (!(SUBSETS as readonly string[]).includes(subset) || subset === 'lora')
    throw new OptionError('--subset', SUBSETS.filter((s) => s !== 'lora').join(' | '), subset);
  const dtype = a.dtype as string;
  if (dtype !== 'float32' && dtype !== 'float64') throw new OptionError('--dtype', 'float32 | float64', dtype);
  const seeds = numbers('seeds', a.seeds);
  const grid: GridAxes = {};
  for (const [flag, axis] of Object.entries(GRID_FLAGS)) {
    if (a[flag] === undefined) continue;
    if (!SOLVER_AXES[solver as SolverName].includes(axis))
      throw new OptionError(`--${flag}`, `no value: solver '${solver}' takes ${SOLVER_AXES[solver as SolverName].map((x) => Object.keys(GRID_FLAGS).find((f) => GRID_FLAGS[f] === x)).map((f) => '--' + f).join(', ')}`, (a[flag] as string[]).join(','));
    grid[axis] = numbers(flag, a[flag]);
  }
  let labelWords: string[] | Record<string, string> | undefined;
  if (a['label-words'] !== undefined) {
    const ws = a['label-words'] as string[];
    labelWords = ws.every((w) => w.includes(':')) ? Object.fromEntries(ws.map((w) => [w.slice(0, w.indexOf(':')), w.slice(w.indexOf(':') + 1)])) : ws;
  }
  let tokenizer = a.tokenizer as string | undefined;
  if (tokenizer === undefined && !['tokenizer.json', 'vocab.json', 'vocab.txt'].some((f) => existsSync(join(model, f))))
    throw new LmkError(`run: the model folder ${model} has no tokenizer files: pass --tokenizer DIR`);
  tokenizer ??= model;

  const ac = new AbortController();
  const onSig = () => {
    console.error('run: interrupted; finished seeds are in the results file, computed kernels in the cache');
    ac.abort();
  };
  process.once('SIGINT', onSig);
  try {
    const stats = await runKernelExperiment({
      task,
      k,
      seeds,
      dataDir,
      modelDir: model,
      tokenizerDir: tokenizer,
      mode: mode as OutputMode,
      formula: formula as Formula,
      solver: solver as SolverName,
      binary: !!a.binary,
      grid,
      subset: subset as Subset,
      dtype: dtype as Dtype,
      device: a.device as string,
      batchSize: a['batch-size'] as number,
      cacheDir: a['no-cache'] ? null : (a['cache-dir'] as string | undefined),
      out: a.out as string,
      maxTest: a['max-test'] as number | undefined,
      labelWords,
      template: a.template as string | undefined,
      linearProbe: a['no-linear-probe'] ? false : a['lp-C'] !== undefined ? { C: a['lp-C'] as number } : {},
      signal: ac.signal,
      progress: (label) => cliProgressBar(label),
      log: a.quiet ? undefined : (m) => console.error(`run: ${m}`),
    });
    const done = stats.seeds.filter((s) => s.status === 'done').length;
    console.error(
      `run: ${done} seed(s) computed, ${stats.skipped} skipped (already in ${a.out as string}), ` +
        `kernel cache ${stats.cacheHits} hit(s) / ${stats.cacheMisses} miss(es), ${stats.total_s}s`,
    );
  } finally {
    process.removeListener('SIGINT', onSig);
  }
  return 0;
}
