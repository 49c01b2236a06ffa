// `lmkernel solve`: fit one kernel solver on a `kernel` command output (JSON or safetensors) plus the
// train/test labels (in the JSON kernel file, or in --labels LABELS.json) and write the test predictions
// and metrics as JSON.
import { dirname, resolve } from 'node:path';
import { InputError, OptionError } from '../errors.js';
import { assertWritableDir, readJsonFile, writeFileAtomic } from '../io.js';
import { numOutputsOf } from '../kernels/file.js';
import { readKernelFile, type KernelSet } from '../kernels/kernelSet.js';
import { SOLVERS, solve, type SolveInput, type SolverName, type SolverParams } from '../solvers/index.js';
import { FORMULAS } from '../types.js';
import { isPlainObject } from '../validate.js';
import { defineCommand, type CommandArgs } from './command.js';

const SPEC = {
  input: {
    type: 'string',
    help: 'kernel file (`kernel` output: .json with "train_labels" and "test_labels", or .safetensors)',
    required: true,
  },
  labels: { type: 'string', help: 'LABELS.json {"train_labels": [...], "test_labels": [...]} (overrides the kernel file\'s)' },
  out: { type: 'string', help: 'output JSON (predictions, predicted_labels, metrics)', required: true },
  solver: { type: 'string', help: `solver: ${SOLVERS.join(' | ')}`, required: true },
  formula: { type: 'string', help: 'kernel to use: sgd | signgd | asymmetric_signgd (default sgd; asymmetric_signgd for asym)' },
  'kernel-regularization': {
    type: 'number',
    help: "lambda: K + lambda*sigma_max(K)*I; logistic: the penalty lambda*sigma_max(K)*a'Ka/2 (default 0; logistic 1e-3)",
  },
  'f0-scaling': {
    type: 'number',
    help: 's: f0/s as a fixed offset, fit Y - f0/s, predict + f0/s (lstsq, logistic, svr, asym); 0 = no f0',
    default: 0,
  },
  C: { type: 'number', help: 'logistic-rows inverse L2 strength / SVM box constraint (default 1)' },
  epsilon: { type: 'number', help: 'svr epsilon (default 0.1)' },
  gamma: { type: 'number', help: 'asym gamma (default 1)' },
  lambda: { type: 'number', help: "asym mix lambda (default 1: omega only, the paper's predictor)" },
  tol: { type: 'number', help: 'stopping tolerance (logistic 1e-12, logistic-rows 1e-4, svr/svc 1e-3)' },
  binary: {
    type: 'boolean',
    help: 'binary problem: one output (logit1 - logit0), targets +-1 (implied by num_outputs 1)',
  },
} as const;

type Args = CommandArgs<typeof SPEC>;

/** The solver parameters given on the command line (f0 scaling 0 = not given). */
function paramsOf(a: Args): SolverParams {
  const given: SolverParams = {
    kernelRegularization: a['kernel-regularization'],
    f0Scaling: a['f0-scaling'] === 0 ? undefined : a['f0-scaling'],
    C: a.C,
    epsilon: a.epsilon,
    gamma: a.gamma,
    lambda: a.lambda,
    tol: a.tol,
  };
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as SolverParams;
}

/** The train/test labels: from --labels LABELS.json when given, else the kernel file's own fields. */
function labelsOf(inPath: string, extra: Record<string, unknown>, labelsPath: string | undefined) {
  const from = labelsPath ?? inPath;
  const doc = labelsPath ? readJsonFile(labelsPath, 'labels file') : extra;
  if (!isPlainObject(doc)) throw new InputError(from, 'expected a JSON object with "train_labels" and "test_labels"');
  const { train_labels: trainLabels, test_labels: testLabels } = doc;
  if (!Array.isArray(trainLabels))
    throw new InputError(
      from,
      labelsPath || !inPath.toLowerCase().endsWith('.safetensors')
        ? '"train_labels" (label indices) is required'
        : 'a safetensors kernel file has no labels: pass --labels LABELS.json {"train_labels", "test_labels"}',
    );
  if (testLabels !== undefined && !Array.isArray(testLabels))
    throw new InputError(from, '"test_labels" must be an array of label indices');
  return { trainLabels: trainLabels as number[], testLabels: testLabels as number[] | undefined };
}

/** The solve() input from a kernel set; `binary` and the number of classes come from its num_outputs. */
function problemOf(
  inPath: string,
  set: KernelSet,
  labels: { trainLabels: number[]; testLabels?: number[] },
  formula: string,
  opts: { solver: SolverName; params: SolverParams; binaryFlag: boolean; numOutputs: { numOutputs: number; field: string } },
): SolveInput {
  const k = set.kernels[formula];
  if (!k?.train_train || !k.train_test)
    throw new InputError(inPath, `no "kernels.${formula}" entry (has: ${Object.keys(set.kernels).join(', ') || 'none'})`);
  const { solver, params } = opts;
  const { numOutputs, field } = opts.numOutputs;
  const binary = opts.binaryFlag || numOutputs === 1;
  if (binary && numOutputs !== 1)
    throw new InputError(
      inPath,
      `--binary needs a kernel computed with one output (${field} 1), received ${field} ${numOutputs}`,
    );
  if (solver === 'asym' && (params.lambda ?? 1) !== 1 && !k.train_test_flipped)
    throw new InputError(
      inPath,
      `no "kernels.${formula}.train_test_flipped": lambda ${params.lambda} needs the flipped kernel (lmkernel kernel --flipped); lambda 1 does not`,
    );
  const usesF0 = (params.f0Scaling ?? 0) > 0;
  return {
    kernelTrainTrain: k.train_train,
    kernelTrainTest: k.train_test,
    kernelTrainTestFlipped: solver === 'asym' ? k.train_test_flipped : undefined,
    f0Train: usesF0 ? set.f0Train : undefined,
    f0Test: usesF0 ? set.f0Test : undefined,
    trainLabels: labels.trainLabels,
    testLabels: labels.testLabels,
    numClasses: binary ? 2 : numOutputs,
    binary,
    solver,
    params,
  };
}

export const command = defineCommand({
  name: 'solve',
  synopsis: '--input K.json|K.safetensors [--labels LABELS.json] --out OUT.json --solver NAME [options]',
  spec: SPEC,
  async run(a) {
    assertWritableDir(dirname(resolve(a.out)), a.out); // fail now, not after the computation
    if (!(SOLVERS as readonly string[]).includes(a.solver)) throw new OptionError('--solver', SOLVERS.join(' | '), a.solver);
    const solver = a.solver as SolverName;
    const formula = a.formula ?? (solver === 'asym' ? 'asymmetric_signgd' : 'sgd');
    if (!(FORMULAS as readonly string[]).includes(formula)) throw new OptionError('--formula', FORMULAS.join(' | '), formula);
    const { set, extra } = readKernelFile(a.input);
    const params = paramsOf(a);
    const labels = labelsOf(a.input, extra, a.labels);
    // the field the count was read from (num_logits in files of before the rename) is named in messages
    const numOutputs = 'kernels' in extra ? numOutputsOf(extra, a.input) : { numOutputs: set.numOutputs, field: 'num_outputs' };
    const input = problemOf(a.input, set, labels, formula, { solver, params, binaryFlag: a.binary === true, numOutputs });
    const res = await solve(input).catch((e: unknown) => {
      // A kernel file from another task or split (its shapes or outputs do not fit these labels): name the file.
      if (e instanceof InputError || (e instanceof OptionError && /^(trainLabels|testLabels)/.test(e.option)))
        throw new InputError(a.input, `the kernel file does not fit its labels (another task or split?): ${e.message}`);
      throw e;
    });
    const out = {
      solver,
      formula,
      binary: input.binary,
      params,
      predictions: res.predictions,
      predicted_labels: res.predictedLabels,
      metrics: res.metrics ?? {},
      info: res.info,
    };
    writeFileAtomic(a.out, JSON.stringify(out, null, 1) + '\n');
    if (res.metrics) console.log(`solve: ${solver} (${formula}) accuracy ${res.metrics.accuracy.toFixed(4)} -> ${a.out}`);
    else console.log(`solve: ${solver} (${formula}) ${res.predictions.length} predictions -> ${a.out}`);
    return 0;
  },
});

export const run = command.run;
