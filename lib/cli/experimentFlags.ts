// The flags and their conversion that the experiment commands share (run, finetune-run, behaviour):
// task and split, model and tokenizer (folders or hub ids), output kind, prompt overrides, results file.
import { OptionError } from '../errors.js';
import type { ExperimentOptions } from '../experiments/index.js';
import { tokenizerDirFor } from '../experiments/index.js';
import { parseHubId, resolveModelDir } from '../hub/index.js';
import { OUTPUT_KINDS, type Dtype, type OutputKind } from '../types.js';
import { oneOf } from '../validate.js';
import type { FlagSpec } from './args.js';
import { cliProgressBar } from './progress.js';

export const MODEL_HELP =
  'model folder (config.json + model.safetensors), or a hub id (roberta-base, org/name) from the Hugging Face cache, downloaded into it when missing';
export const TOKENIZER_HELP = 'tokenizer folder or hub id';
export const REVISION_FLAG = {
  type: 'string',
  help: 'hub revision (branch, tag or commit hash) of a --model given as a hub id, and of a --tokenizer naming the same repo (default: main)',
} as const;

export const EXPERIMENT_FLAGS = {
  task: {
    type: 'string',
    required: true,
    help: 'task name (SST-2, sst-5, mr, cr, mpqa, subj, trec, ag_news, MNLI, SNLI, QNLI, RTE, MRPC, QQP, CoLA)',
  },
  k: { type: 'number', required: true, help: 'examples per label (the <k>-<seed> split folders)' },
  seeds: { type: 'list', help: 'data seeds', default: ['13', '21', '42', '87', '100'] },
  'data-dir': {
    type: 'string',
    required: true,
    help: 'folder holding <TASK>/<k>-<seed>/{train,dev,test} (e.g. data/k-shot-1k-test)',
  },
  model: { type: 'string', required: true, help: MODEL_HELP },
  tokenizer: {
    type: 'string',
    help: `${TOKENIZER_HELP} (default: the model's, when it has tokenizer files); must match the model's vocabulary`,
  },
  revision: REVISION_FLAG,
  output: {
    type: 'string',
    aliases: ['mode'],
    default: 'prompt',
    help: 'prompt | standard (standard: <s> A </s> B </s>, head fitted by linear probing); --mode is an alias',
  },
  'max-test': { type: 'number', help: 'use only the first N test examples (file order): quick runs and tests' },
  'label-words': {
    type: 'list',
    help: 'custom label words in label order (w0,w1,...) or label:word pairs; each must be one token',
  },
  template: { type: 'string', help: 'custom prompt template (template mini-language)' },
  'lp-C': { type: 'number', help: 'standard output: fixed linear-probe C (default: 5-fold CV over logspace(-4,4,10))' },
  dtype: { type: 'string', help: 'float32 | float64', default: 'float32' },
  device: { type: 'string', help: 'cpu | cuda | cuda:N', default: 'cpu' },
  out: {
    type: 'string',
    help: 'results file: one JSON line appended per seed; finished seeds are skipped',
    default: 'results.jsonl',
  },
  quiet: { type: 'boolean', help: 'no per-seed messages' },
} as const satisfies FlagSpec;

/** The kernel commands' --precision flag. */
export const PRECISION_FLAG = {
  type: 'string',
  help: 'exact | fast (CUDA: TF32 gradients and SGD kernel, int8/fp8 sign products, still exact)',
  default: 'exact',
} as const;

/** The kernel commands' --device: one device, or a comma-separated list the tiles are scheduled over. */
export const KERNEL_DEVICE_FLAG = {
  type: 'string',
  help: 'cpu | cuda | cuda:N, or a list (cuda:0,cuda:1) the kernel tiles are scheduled over',
  default: 'cpu',
} as const;

/** `--device cuda:0,cuda:1`: the model's device (the first) and, for several, the list. */
export function deviceList(v: string): { device: string; devices?: string[] } {
  const list = v.split(',').map((d) => d.trim());
  if (list.some((d) => d === '')) throw new OptionError('--device', 'a device or a comma-separated list of devices', v);
  return list.length > 1 ? { device: list[0], devices: list } : { device: list[0] };
}

/** A comma-separated list of numbers (`integer`: whole numbers >= 0). */
export function numberList(flag: string, values: readonly string[], integer = false): number[] {
  return values.map((s) => {
    const n = Number(s);
    const ok = s.trim() !== '' && Number.isFinite(n) && (!integer || (Number.isInteger(n) && n >= 0));
    if (!ok)
      throw new OptionError(
        `--${flag}`,
        integer ? 'a comma-separated list of non-negative integers' : 'a comma-separated list of numbers',
        s,
      );
    return n;
  });
}

/** `--label-words w0,w1` (label order) or `--label-words neg:bad,pos:good` (label -> word). */
export function parseLabelWords(ws: readonly string[] | undefined): string[] | Record<string, string> | undefined {
  if (ws === undefined) return undefined;
  if (!ws.every((w) => w.includes(':'))) return [...ws];
  return Object.fromEntries(ws.map((w) => [w.slice(0, w.indexOf(':')), w.slice(w.indexOf(':') + 1)]));
}

export const outputFlag = (v: string): OutputKind => oneOf(v, '--output', OUTPUT_KINDS);
export const dtypeFlag = (v: string): Dtype => oneOf(v, '--dtype', ['float32', 'float64'] as const);

interface ExperimentArgs {
  task: string;
  k: number;
  seeds: string[];
  'data-dir': string;
  model: string;
  tokenizer?: string;
  revision?: string;
  output: string;
  'max-test'?: number;
  'label-words'?: string[];
  template?: string;
  'lp-C'?: number;
  dtype: string;
  device: string;
  out: string;
  quiet?: boolean;
}

/** A --model or --tokenizer value as the commands take it: a folder, or a hub id downloaded if missing. */
export interface ModelArg {
  /** The local folder (a hub id's snapshot in the Hugging Face cache). */
  dir: string;
  /** What to pass to the layers below and name in result lines: the folder as given, or `org/name[@revision]`. */
  name: string;
}

/** Resolves a --model (or, `need` 'tokenizer', a --tokenizer) flag, with a progress bar while downloading. */
export async function modelArg(idOrPath: string, revision?: string, need: 'model' | 'tokenizer' = 'model'): Promise<ModelArg> {
  const bar = cliProgressBar(`download ${idOrPath}`);
  try {
    const dir = await resolveModelDir(idOrPath, { revision, need, onProgress: bar.update });
    const id = dir === idOrPath ? null : parseHubId(idOrPath);
    const rev = revision ?? id?.revision;
    return { dir, name: id ? `${id.repo}${rev ? `@${rev}` : ''}` : idOrPath };
  } finally {
    bar.stop();
  }
}

/** --revision applies to a --tokenizer that names the model's own repo. */
export const tokenizerRevision = (model: string, tokenizer: string, revision?: string): string | undefined =>
  parseHubId(tokenizer) !== null && parseHubId(tokenizer)?.repo === parseHubId(model)?.repo ? revision : undefined;

/** The shared experiment options from the parsed flags (hub ids downloaded now); `command` prefixes the log lines. */
export async function experimentOptions(a: ExperimentArgs, command: string): Promise<Omit<ExperimentOptions, 'signal'>> {
  const model = await modelArg(a.model, a.revision);
  const tok = a.tokenizer && (await modelArg(a.tokenizer, tokenizerRevision(a.model, a.tokenizer, a.revision), 'tokenizer'));
  return {
    task: a.task,
    k: a.k,
    seeds: numberList('seeds', a.seeds),
    dataDir: a['data-dir'],
    modelDir: model.name,
    tokenizerDir: tokenizerDirFor(model.dir, tok ? tok.dir : undefined),
    output: outputFlag(a.output),
    dtype: dtypeFlag(a.dtype),
    device: a.device,
    maxTest: a['max-test'],
    labelWords: parseLabelWords(a['label-words']),
    template: a.template,
    linearProbe: a['lp-C'] !== undefined ? { C: a['lp-C'] } : {},
    out: a.out,
    log: a.quiet ? undefined : (m) => console.error(`${command}: ${m}`),
  };
}
