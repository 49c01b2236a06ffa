// The options every per-seed experiment shares (kernel runner, fine-tuning runner, the demo), validated
// once: task, k, seeds, data and model folders, output kind, dtype, test cap, prompt overrides, results file.
import { existsSync, statSync } from 'node:fs';
import { InputError, OptionError } from '../errors.js';
import { getTask, type TaskSpec } from '../tasks/index.js';
import { taskName } from '../prompts/index.js';
import { OUTPUT_KINDS, type Dtype, type OutputKind, type ProgressFn } from '../types.js';
import { checkInt, checkIntList, isPlainObject, oneOf } from '../validate.js';
import type { LinearProbeOptions } from './linearProbe.js';

/** A progress bar of one step (the CLI passes cliProgressBar). */
export interface RunProgress {
  update: ProgressFn;
  stop(): void;
}

export interface ExperimentOptions {
  task: string;
  /** Examples per label (the `<k>-<seed>` split folders). */
  k: number;
  seeds: number[];
  /** Folder holding <TASK>/<k>-<seed>/ (e.g. data/k-shot-1k-test). */
  dataDir: string;
  /** Model folder: config.json + model.safetensors. */
  modelDir: string;
  /** Tokenizer folder (default: the model folder, which must then hold tokenizer files). */
  tokenizerDir?: string;
  /** prompt: label-word logits at the mask; standard: a linear head on the first token. */
  output?: OutputKind;
  dtype?: Dtype;
  device?: string;
  /** Use only the first N test examples (in file order). */
  maxTest?: number;
  /** Custom label words (label order, or label -> word). */
  labelWords?: string[] | Record<string, string>;
  /** Custom prompt template. */
  template?: string;
  /** Standard output: linear-probe options for the head (default {}: 5-fold CV), or false to keep the checkpoint's. */
  linearProbe?: LinearProbeOptions | false;
  /** results.jsonl: one line appended per finished seed; seeds already there are skipped. */
  out: string;
  signal?: AbortSignal;
  /** One message per step (the CLI prints them to stderr). */
  log?: (message: string) => void;
}

/** The validated common settings. */
export interface Experiment {
  task: string;
  spec: TaskSpec;
  k: number;
  seeds: number[];
  output: OutputKind;
  dtype: Dtype;
  maxTest: number | null;
  /** Standard output: the linear-probe options, or false (prompt output, or the checkpoint's head). */
  linearProbe: LinearProbeOptions | false;
  log: (message: string) => void;
}

/** Validates the options shared by every experiment; errors name the option. */
export function resolveExperiment(opts: ExperimentOptions): Experiment {
  if (!isPlainObject(opts)) throw new OptionError('options', 'an object', opts);
  const task = taskName(opts.task);
  const spec = getTask(task);
  const k = checkInt(opts.k, 'k', 1);
  const seeds = checkIntList(opts.seeds, 'seeds', 0);
  const output = oneOf(opts.output, 'output', OUTPUT_KINDS, 'prompt');
  const dtype = oneOf(opts.dtype, 'dtype', ['float32', 'float64'] as const, 'float32');
  const maxTest = opts.maxTest === undefined ? null : checkInt(opts.maxTest, 'maxTest', 1);
  if (typeof opts.out !== 'string' || opts.out === '') throw new OptionError('out', 'a results.jsonl path', opts.out);
  if (typeof opts.modelDir !== 'string' || opts.modelDir === '')
    throw new OptionError('modelDir', 'a model folder', opts.modelDir);
  if (typeof opts.dataDir !== 'string' || !existsSync(opts.dataDir) || !statSync(opts.dataDir).isDirectory())
    throw new InputError(String(opts.dataDir), 'data folder not found (expected a folder holding <TASK>/<k>-<seed>/)');
  const linearProbe = output === 'standard' ? (opts.linearProbe ?? {}) : false;
  return { task, spec, k, seeds, output, dtype, maxTest, linearProbe, log: opts.log ?? (() => {}) };
}

/** Seconds since t0 (performance.now()), rounded to 10 ms. */
export const secs = (t0: number): number => Math.round((performance.now() - t0) / 10) / 100;

/** An AbortError for a run stopped between steps. */
export function abortError(message: string): Error {
  const err = new Error(message);
  err.name = 'AbortError';
  return err;
}
