// `lmkernel solve`: fit one kernel solver on a `kernel` command output (plus train/test labels) and write
// the test predictions and metrics as JSON.
import { InputError, LmkError, OptionError } from '../errors.js';
import { dirname, resolve } from 'node:path';
import { assertWritableDir, readJsonFile, writeFileAtomic } from '../io.js';
import { SOLVERS, solve, type SolverName, type SolverParams } from '../solvers/index.js';
import { helpText, parseArgs, requireFlag, type FlagSpec } from './args.js';

const FORMULAS = ['sgd', 'signgd', 'asymmetric_signgd'] as const;

const SPEC: FlagSpec = {
  input: { type: 'string', help: 'kernel JSON (`kernel` output) with "train_labels" and "test_labels"' },
  out: { type: 'string', help: 'output JSON (predictions, predicted_labels, metrics)' },
  solver: { type: 'string', help: `solver: ${SOLVERS.join(' | ')}` },
  formula: { type: 'string', help: 'kernel to use: sgd | signgd | asymmetric_signgd (default sgd; asymmetric_signgd for asym)' },
  'kernel-regularization': { type: 'number', help: 'lambda: K + lambda*sigma_max(K)*I', default: 0 },
  'f0-scaling': { type: 'number', help: 's: fit Y - f0/s, predict + f0/s (lstsq, svr, asym); 0 = no f0', default: 0 },
  C: { type: 'number', help: 'logistic inverse L2 strength / SVM box constraint (default 1)' },
  epsilon: { type: 'number', help: 'svr epsilon (default 0.1)' },
  gamma: { type: 'number', help: 'asym gamma (default 1)' },
  lambda: { type: 'number', help: 'asym mix lambda (default 0.5)' },
  tol: { type: 'number', help: 'stopping tolerance (logistic 1e-4, svr/svc 1e-3)' },
  binary: { type: 'boolean', help: 'binary problem: one logit (logit1 - logit0), targets +-1 (implied by num_logits 1)' },
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export async function run(args: string[]): Promise<number> {
  const a = parseArgs(args, SPEC, 'solve');
  if (a.help) {
    console.log(helpText('solve', '--input IN.json --out OUT.json --solver NAME [options]', SPEC));
    return 0;
  }
  if (a._.length > 0) throw new LmkError(`solve: unexpected argument '${a._[0]}'`);
  const inPath = requireFlag<string>(a, 'input', 'solve');
  const outPath = requireFlag<string>(a, 'out', 'solve');
  assertWritableDir(dirname(resolve(outPath)), outPath); // fail now, not after the computation
  const solver = requireFlag<string>(a, 'solver', 'solve');
  if (!(SOLVERS as readonly string[]).includes(solver)) throw new OptionError('--solver', SOLVERS.join(' | '), solver);
  const formula = (a.formula as string | undefined) ?? (solver === 'asym' ? 'asymmetric_signgd' : 'sgd');
  if (!(FORMULAS as readonly string[]).includes(formula)) throw new OptionError('--formula', FORMULAS.join(' | '), formula);

  const doc = readJsonFile(inPath, 'kernel file');
  if (!isObject(doc)) throw new InputError(inPath, 'expected a JSON object');
  const kernels = doc.kernels;
  if (!isObject(kernels) || !isObject(kernels[formula]))
    throw new InputError(inPath, `no "kernels.${formula}" entry (has: ${isObject(kernels) ? Object.keys(kernels).join(', ') : 'none'})`);
  const k = kernels[formula] as Record<string, unknown>;
  const numLogits = doc.num_logits;
  if (!Number.isInteger(numLogits) || (numLogits as number) < 1) throw new InputError(inPath, `"num_logits" must be a positive integer, received ${String(numLogits)}`);
  const binary = a.binary === true || numLogits === 1;
  if (binary && numLogits !== 1)
    throw new InputError(inPath, `--binary needs a kernel computed with one logit (num_logits 1), received num_logits ${String(numLogits)}`);
  const trainLabels = doc.train_labels;
  const testLabels = doc.test_labels;
  if (!Array.isArray(trainLabels)) throw new InputError(inPath, '"train_labels" (label indices) is required');
  if (testLabels !== undefined && !Array.isArray(testLabels)) throw new InputError(inPath, '"test_labels" must be an array of label indices');

  const params: SolverParams = {};
  const setIf = (flag: string, key: keyof SolverParams) => {
    if (a[flag] !== undefined) (params as Record<string, unknown>)[key] = a[flag];
  };
  setIf('kernel-regularization', 'kernelRegularization');
  setIf('f0-scaling', 'f0Scaling');
  setIf('C', 'C');
  setIf('epsilon', 'epsilon');
  setIf('gamma', 'gamma');
  setIf('lambda', 'lambda');
  setIf('tol', 'tol');
  if (params.f0Scaling === 0) delete params.f0Scaling;

  const usesF0 = (params.f0Scaling ?? 0) > 0;
  // A kernel file from another task or split (its shapes or logits do not fit these labels): name the file.
  const named = (e: unknown): unknown => {
    if (e instanceof InputError || (e instanceof OptionError && /^(trainLabels|testLabels)/.test(e.option)))
      return new InputError(inPath, `the kernel file does not fit its labels (another task or split?): ${e.message}`);
    return e;
  };
  const res = await solve({
    kernelTrainTrain: k.train_train as never,
    kernelTrainTest: k.train_test as never,
    kernelTrainTestFlipped: solver === 'asym' ? (k.train_test_flipped as never) : undefined,
    f0Train: usesF0 ? (doc.f0_train as never) : undefined,
    f0Test: usesF0 ? (doc.f0_test as never) : undefined,
    trainLabels: trainLabels as number[],
    testLabels: testLabels as number[] | undefined,
    numClasses: binary ? 2 : (numLogits as number),
    binary,
    solver: solver as SolverName,
    params,
  }).catch((e) => {
    throw named(e);
  });
  const out = {
    solver,
    formula,
    binary,
    params,
    predictions: res.predictions,
    predicted_labels: res.predictedLabels,
    metrics: res.metrics ?? {},
    info: res.info,
  };
  writeFileAtomic(outPath, JSON.stringify(out, null, 1) + '\n');
  if (res.metrics) console.log(`solve: ${solver} (${formula}) accuracy ${res.metrics.accuracy.toFixed(4)} -> ${outPath}`);
  else console.log(`solve: ${solver} (${formula}) ${res.predictions.length} predictions -> ${outPath}`);
  return 0;
}
