// `lmkernel run`: kernel experiments over seeds (one results.jsonl line per seed), hyper-parameters
// selected on dev over a grid in the same process, kernels cached by content.
import { OptionError } from '../errors.js';
import { DEFAULT_GRIDS, SOLVER_AXES, runKernelExperiment, type GridAxes, type GridAxis } from '../experiments/index.js';
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
  lambda: 'lambda',
};

const defaults = (axis: GridAxis): string =>
  (Object.keys(DEFAULT_GRIDS) as SolverName[])
    .filter((s) => SOLVER_AXES[s].includes(axis))
    .map((s) => `${s}: ${DEFAULT_GRIDS[s][axis]!.join(',')}`)
    .join('; ');

const KERNEL_SUBSETS = SUBSETS.filter((s) => s !== 'lora');

const SPEC = {
  ...EXPERIMENT_FLAGS,
  formula: { type: 'string', help: FORMULAS.join(' | '), default: 'sgd' },
  solver: { type: 'string', help: SOLVERS.join(' | ') + ' (asym needs --binary --formula asymmetric_signgd)', default: 'lstsq' },
  binary: { type: 'boolean', help: 'one output logit1 - logit0, labels +-1 (2-class tasks)' },
  'kernel-regularization': {
    type: 'list',
    help: `grid of lambda (K + lambda*sigma_max*I). Default ${defaults('kernelRegularization')}`,
  },
  'f0-scaling': { type: 'list', help: `grid of s (fit Y - f0/s; 0 = no f0). Default ${defaults('f0Scaling')}` },
  C: { type: 'list', help: `grid of C (logistic, svr, svc). Default ${defaults('C')}` },
  epsilon: { type: 'list', help: `grid of the svr epsilon. Default ${defaults('epsilon')}` },
  gamma: { type: 'list', help: `grid of the asym gamma. Default ${defaults('gamma')}` },
  lambda: { type: 'list', help: `grid of the asym lambda. Default ${defaults('lambda')}` },
  subset: { type: 'string', help: `parameters in the kernel: ${KERNEL_SUBSETS.join(' | ')}`, default: 'all' },
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
    grid[axis] = numberList(flag, a[flag] as string[]);
  }
  return grid;
}

const command = defineCommand({
  name: 'run',
  synopsis: SYNOPSIS,
  spec: SPEC,
  run: async (a) => {
    const formula = oneOf(a.formula, '--formula', FORMULAS);
    const solver = oneOf(a.solver, '--solver', SOLVERS);
    const subset = oneOf(a.subset, '--subset', KERNEL_SUBSETS);
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
