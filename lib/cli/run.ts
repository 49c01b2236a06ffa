// `lmkernel run`: kernel experiments over seeds (one results.jsonl line per seed), hyper-parameters
// selected on dev over a grid in the same process, kernels cached by content.
import { OptionError } from '../errors.js';
import {
  ASYM_LAMBDA_SEARCH,
  DEFAULT_GRIDS,
  SOLVER_AXES,
  runKernelExperiment,
  type GridAxes,
  type GridAxis,
} from '../experiments/index.js';
import { SOLVERS, type SolverName } from '../solvers/index.js';
import { FORMULAS, PRECISIONS, SUBSETS } from '../types.js';
import { oneOf } from '../validate.js';
import { defineCommand, withInterrupt } from './command.js';
import {
  EXPERIMENT_FLAGS,
  KERNEL_DEVICE_FLAG,
  PRECISION_FLAG,
  deviceList,
  experimentOptions,
  numberList,
} from './experimentFlags.js';
import { cliProgressBar } from './progress.js';

const GRID_FLAGS: Record<string, GridAxis> = {
  'kernel-regularization': 'kernelRegularization',
  'f0-scaling': 'f0Scaling',
  C: 'C',
  epsilon: 'epsilon',
  gamma: 'gamma',
  'asym-lambda': 'lambda',
};

const defaults = (axis: GridAxis): string =>
  (Object.keys(DEFAULT_GRIDS) as SolverName[])
    .filter((s) => SOLVER_AXES[s].includes(axis))
    .map((s) => `${s}: ${DEFAULT_GRIDS[s][axis]!.join(',')}`)
    .join('; ');

const SPEC = {
  ...EXPERIMENT_FLAGS,
  formula: { type: 'string', help: FORMULAS.join(' | '), default: 'sgd' },
  solver: {
    type: 'string',
    help:
      SOLVERS.join(' | ') +
      " (logistic: kernel logistic regression with f0, A.3; logistic-rows: the reference code's logistic regression on kernel rows; asym needs --formula asymmetric_signgd)",
    default: 'lstsq',
  },
  binary: { type: 'boolean', help: 'one output logit1 - logit0, labels +-1 (2-class tasks)' },
  'kernel-regularization': {
    type: 'list',
    help: `grid of lambda, relative to sigma_max = ||K||_op (K + lambda*sigma_max*I; logistic: the penalty lambda*sigma_max*a'Ka/2). Default ${defaults('kernelRegularization')}`,
  },
  'f0-scaling': { type: 'list', help: `grid of s (fit Y - f0/s; 0 = no f0). Default ${defaults('f0Scaling')}` },
  C: { type: 'list', help: `grid of C (logistic-rows, svr, svc). Default ${defaults('C')}` },
  epsilon: { type: 'list', help: `grid of the svr epsilon. Default ${defaults('epsilon')}` },
  gamma: { type: 'list', help: `grid of the asym gamma. Default ${defaults('gamma')}` },
  'asym-lambda': {
    type: 'list',
    aliases: ['lambda'],
    help: `asym: lambda*omega + (1-lambda)*nu; 1 = omega only, the paper's predictor (A.3); 'search' = ${ASYM_LAMBDA_SEARCH.join(',')} on dev, or a list. Default ${defaults('lambda')}`,
  },
  subset: {
    type: 'string',
    help: `parameters in the kernel: ${SUBSETS.join(' | ')} (lora: K^LoRA, with --lora-r and --lora-alpha)`,
    default: 'all',
  },
  'lora-r': { type: 'number', help: 'subset lora: LoRA rank r (query and value; A random as loralib, B = 0)' },
  'lora-alpha': { type: 'number', help: 'subset lora: LoRA alpha (scaling alpha / r)' },
  'lora-seed': { type: 'number', help: "subset lora: the seed of A (default: each data seed, as finetune-run's LoRA)" },
  'no-linear-probe': { type: 'boolean', help: "standard output: keep the checkpoint's classifier instead of linear probing" },
  'cache-dir': { type: 'string', help: 'kernel/f0/head cache (default: .lmkernel-cache beside --out)' },
  'no-cache': { type: 'boolean', help: 'do not read or write the cache' },
  'batch-size': { type: 'number', help: 'sequences per forward/backward batch', default: 8 },
  device: KERNEL_DEVICE_FLAG,
  precision: PRECISION_FLAG,
} as const;

const SYNOPSIS =
  '--task T --k K --data-dir D --model M [--tokenizer TOK] [options]\n\n' +
  'Grid flags take comma-separated values; the grids of the chosen solver that are not given use the defaults below.\n' +
  'One line is appended to --out per finished seed (dev-selected setting, dev and test metrics, timings);\n' +
  'rerunning the same command skips finished seeds and reuses cached kernels.';

/** The grid flags given, checked against the solver's axes. */
function gridFlags(a: Record<string, unknown>, solver: SolverName): GridAxes {
  const grid: GridAxes = {};
  for (const [flag, axis] of Object.entries(GRID_FLAGS)) {
    if (a[flag] === undefined) continue;
    if (!SOLVER_AXES[solver].includes(axis)) {
      const takes = SOLVER_AXES[solver].map((x) => '--' + Object.keys(GRID_FLAGS).find((f) => GRID_FLAGS[f] === x)).join(', ');
      throw new OptionError(`--${flag}`, `no value: solver '${solver}' takes ${takes}`, (a[flag] as string[]).join(','));
    }
    const values = a[flag] as string[];
    grid[axis] =
      axis === 'lambda' && values.length === 1 && values[0] === 'search' ? [...ASYM_LAMBDA_SEARCH] : numberList(flag, values);
  }
  return grid;
}

/** --lora-r / --lora-alpha / --lora-seed: with --subset lora only (r and alpha required there). */
function loraFlags(a: Record<string, unknown>, subset: string) {
  const given = ['lora-r', 'lora-alpha', 'lora-seed'].filter((f) => a[f] !== undefined);
  if (subset !== 'lora') {
    if (given.length > 0) throw new OptionError(`--${given[0]}`, 'no value unless --subset lora', a[given[0]]);
    return null;
  }
  for (const f of ['lora-r', 'lora-alpha'])
    if (a[f] === undefined) throw new OptionError(`--${f}`, 'a value with --subset lora', undefined);
  return { r: a['lora-r'] as number, alpha: a['lora-alpha'] as number, seed: a['lora-seed'] as number | undefined };
}

const command = defineCommand({
  name: 'run',
  synopsis: SYNOPSIS,
  spec: SPEC,
  run: async (a) => {
    const formula = oneOf(a.formula, '--formula', FORMULAS);
    const solver = oneOf(a.solver, '--solver', SOLVERS);
    const subset = oneOf(a.subset, '--subset', SUBSETS);
    const lora = loraFlags(a, subset);
    const precision = oneOf(a.precision, '--precision', PRECISIONS);
    const { device, devices } = deviceList(a.device);
    const base = { ...(await experimentOptions(a, 'run')), device };
    const interrupted = 'run: interrupted; finished seeds are in the results file, computed kernels in the cache';
    const stats = await withInterrupt(
      (signal) =>
        runKernelExperiment({
          ...base,
          formula,
          solver,
          binary: !!a.binary,
          grid: gridFlags(a, solver),
          subset,
          lora,
          batchSize: a['batch-size'],
          precision,
          devices,
          cacheDir: a['no-cache'] ? null : a['cache-dir'],
          linearProbe: a['no-linear-probe'] ? false : base.linearProbe,
          signal,
          progress: (label) => cliProgressBar(label),
        }),
      interrupted,
    );
    const done = stats.seeds.filter((s) => s.status === 'done').length;
    console.error(
      `run: ${done} seed(s) computed, ${stats.skipped} skipped (already in ${a.out}), ` +
        `kernel cache ${stats.cacheHits} hit(s) / ${stats.cacheMisses} miss(es), ${stats.total_s}s`,
    );
    return 0;
  },
});

export const run = command.run;
