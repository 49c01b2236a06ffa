// `lmkernel behaviour <chi | lora-vs-full | tables>`: the kernel-behaviour measurements on their own.
//   chi           mean |χ| = mean |softmax(f) − onehot(y)| at θ0 for a list of models on a task split (Table 8)
//   lora-vs-full  relative difference of the scaled LoRA eNTK from the full eNTK of the query/value weights vs r
//   tables        Linearization and Fixed-Features tables from fine-tuning result lines (finetune-run --behaviour)
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { InputError, LmkError, OptionError } from '../errors.js';
import { appendLineAtomic, writeFileAtomic } from '../io.js';
import { loadModel, type Dtype, type OutputMode } from '../model.js';
import { loadTokenizer, taskEncoder, taskName } from '../prompts/index.js';
import { readResultLines } from '../runner/experiment.js';
import { linearProbe } from '../runner/linearProbe.js';
import { getTask } from '../tasks/index.js';
import { checkTokenizerFitsModel, loadEncodedSplits, modelContentId } from '../behaviour/data.js';
import { chiStats, loraVsFull, type LoraInit } from '../behaviour/measures.js';
import {
  behaviourTable,
  renderBehaviourCsv,
  renderChiCsv,
  renderChiMarkdown,
  renderFixedFeaturesMarkdown,
  renderLinearizationMarkdown,
  renderLoraMarkdown,
  type ChiLine,
  type LoraLine,
} from '../behaviour/tables.js';
import { helpText, parseArgs, requireFlag, type FlagSpec } from './args.js';

const DATA: FlagSpec = {
  task: { type: 'string', help: 'task name' },
  k: { type: 'number', help: 'examples per label', default: 16 },
  seed: { type: 'number', help: 'data seed of the split', default: 42 },
  'data-dir': { type: 'string', help: 'folder holding <TASK>/<k>-<seed>/' },
  mode: { type: 'string', help: 'prompt | standard (standard: head fitted by linear probing on train)', default: 'prompt' },
  dtype: { type: 'string', help: 'float32 | float64', default: 'float64' },
  device: { type: 'string', help: 'cpu | cuda | cuda:N', default: 'cpu' },
  'batch-size': { type: 'number', help: 'sequences per forward/backward batch', default: 8 },
};

const CHI: FlagSpec = {
  ...DATA,
  model: { type: 'list', help: 'model folders (comma-separated or repeated)' },
  tokenizer: { type: 'list', help: 'tokenizer folders: one for all models, or one per model (default: each model folder)' },
  split: { type: 'string', help: 'train | dev | test', default: 'train' },
  'max-examples': { type: 'number', help: 'use only the first N examples of the split' },
  out: { type: 'string', help: 'append one JSON line per model here', default: 'behaviour.jsonl' },
  'out-md': { type: 'string', help: 'write the Markdown table here' },
  'out-csv': { type: 'string', help: 'write the CSV table here' },
};

const LORA: FlagSpec = {
  ...DATA,
  model: { type: 'string', help: 'model folder' },
  tokenizer: { type: 'string', help: 'tokenizer folder (default: the model folder)' },
  ranks: { type: 'list', help: 'LoRA ranks', default: ['1', '2', '4', '8', '16'] },
  'lora-seeds': { type: 'list', help: 'seeds of the random A', default: ['0', '1', '2'] },
  alpha: { type: 'number', help: 'LoRA alpha (the scale s = r/(α²σ²) removes it)', default: 16 },
  init: { type: 'string', help: 'gaussian (N(0, 1/r)) | kaiming (U(±1/√d), loralib)', default: 'gaussian' },
  targets: { type: 'list', help: 'query,value', default: ['query', 'value'] },
  'max-examples': { type: 'number', help: 'use only the first N train examples (kernel is N·C x N·C)', default: 16 },
  out: { type: 'string', help: 'append one JSON line here', default: 'behaviour.jsonl' },
  'out-md': { type: 'string', help: 'write the Markdown table here' },
};

const TABLES: FlagSpec = {
  'out-md': { type: 'string', help: 'write the Linearization and Fixed-Features tables (Markdown) here' },
  'out-csv': { type: 'string', help: 'write the CSV table here' },
};

function numbers(flag: string, v: unknown): number[] {
  return (v as string[]).map((s) => {
    const n = Number(s);
    if (s.trim() === '' || !Number.isInteger(n) || n < 0) throw new OptionError(`--${flag}`, 'a comma-separated list of non-negative integers', s);
    return n;
  });
}

function common(a: Record<string, unknown>, cmd: string) {
  const task = taskName(requireFlag<string>(a as never, 'task', cmd));
  const dataDir = requireFlag<string>(a as never, 'data-dir', cmd);
  const mode = a.mode as string;
  if (mode !== 'prompt' && mode !== 'standard') throw new OptionError('--mode', 'prompt | standard', mode);
  const dtype = a.dtype as string;
  if (dtype !== 'float32' && dtype !== 'float64') throw new OptionError('--dtype', 'float32 | float64', dtype);
  return { task, spec: getTask(task), dataDir, mode: mode as OutputMode, dtype: dtype as Dtype, k: a.k as number, seed: a.seed as number };
}

const tokFor = (model: string, tok?: string) => {
  if (tok) return tok;
  if (!['tokenizer.json', 'vocab.json', 'vocab.txt'].some((f) => existsSync(join(model, f))))
    throw new LmkError(`behaviour: the model folder ${model} has no tokenizer files: pass --tokenizer DIR`);
  return model;
};

async function chi(argv: string[]): Promise<number> {
  const cmd = 'behaviour chi';
  const a = parseArgs(argv, CHI, cmd);
  if (a.help) {
    console.log(helpText(cmd, '--task T --data-dir D --model M1,M2 [--tokenizer TOK] [--split train] [options]', CHI));
    return 0;
  }
  const c = common(a, cmd);
  const models = requireFlag<string[]>(a, 'model', cmd);
  const toks = (a.tokenizer as string[] | undefined) ?? [];
  if (toks.length > 1 && toks.length !== models.length) throw new OptionError('--tokenizer', `one folder, or ${models.length} (one per model)`, toks.join(','));
  const split = a.split as 'train' | 'dev' | 'test';
  if (!['train', 'dev', 'test'].includes(split)) throw new OptionError('--split', 'train | dev | test', split);
  const lines: ChiLine[] = [];
  for (let i = 0; i < models.length; i++) {
    const m = models[i];
    const tokDir = tokFor(m, toks.length === 1 ? toks[0] : toks[i]);
    const model = await loadModel(m, { dtype: c.dtype, device: a.device as string });
    const tok = loadTokenizer(tokDir);
    const enc = taskEncoder(tok, c.task);
    const lw = c.mode === 'prompt' ? enc.labelWordIds : null;
    checkTokenizerFitsModel(tok, model, tokDir, lw);
    const e = loadEncodedSplits(c.dataDir, c.spec, c.k, c.seed, enc, c.mode, { need: ['train', split] });
    if (c.mode === 'standard') {
      const head = linearProbe(await model.features({ inputs: e.train, output: 'standard' }), e.trainLabels, c.spec.labels.length);
      model.setClassifier(head.weight, head.bias);
    }
    let inputs = e[split];
    let labels = e[`${split}Labels` as const];
    if (a['max-examples'] !== undefined) {
      inputs = inputs.slice(0, a['max-examples'] as number);
      labels = labels.slice(0, a['max-examples'] as number);
    }
    const s = await chiStats(model, { inputs, labels, output: c.mode, labelWordIds: lw ?? undefined, batchSize: a['batch-size'] as number });
    const line: ChiLine = {
      kind: 'chi', task: c.task, k: c.k, seed: c.seed, split, model: basename(resolve(m)), model_id: modelContentId(m), mode: c.mode,
      n: s.n, num_outputs: s.numOutputs, mean_abs_chi: s.meanAbsChi, std_abs_chi: s.std, mean_abs_chi_label: s.meanAbsChiLabel, accuracy: s.accuracy,
    };
    appendLineAtomic(a.out as string, JSON.stringify({ ...line, time: new Date().toISOString() }));
    lines.push(line);
  }
  const md = renderChiMarkdown(lines);
  process.stdout.write(md);
  if (a['out-md']) writeFileAtomic(a['out-md'] as string, md);
  if (a['out-csv']) writeFileAtomic(a['out-csv'] as string, renderChiCsv(lines));
  return 0;
}

async function loraCmd(argv: string[]): Promise<number> {
  const cmd = 'behaviour lora-vs-full';
  const a = parseArgs(argv, LORA, cmd);
  if (a.help) {
    console.log(
      helpText(cmd, '--task T --data-dir D --model M [--tokenizer TOK] [--ranks 1,2,4,8,16] [options]', LORA) +
        '\n\nK_LoRA: SGD eNTK over the LoRA B matrices at B = 0 (A random); K_full: SGD eNTK over the targeted weight matrices' +
        '\n(computed exactly as the LoRA kernel with A = I, α = d). Reported: ‖s·K_LoRA − K_full‖_F/‖K_full‖_F, s = r/(α²σ²),' +
        '\nσ² = the variance of an entry of A (1/r gaussian, 1/(3d) kaiming): E[s·K_LoRA] = K_full.',
    );
    return 0;
  }
  const c = common(a, cmd);
  const modelDir = requireFlag<string>(a, 'model', cmd);
  const tokDir = tokFor(modelDir, a.tokenizer as string | undefined);
  const init = a.init as LoraInit;
  if (init !== 'gaussian' && init !== 'kaiming') throw new OptionError('--init', 'gaussian | kaiming', init);
  const ranks = numbers('ranks', a.ranks);
  const seeds = numbers('lora-seeds', a['lora-seeds']);
  const model = await loadModel(modelDir, { dtype: c.dtype });
  const tok = loadTokenizer(tokDir);
  const enc = taskEncoder(tok, c.task);
  const lw = c.mode === 'prompt' ? enc.labelWordIds : null;
  checkTokenizerFitsModel(tok, model, tokDir, lw);
  if (c.mode === 'standard') throw new OptionError('--mode', 'prompt (the LoRA kernel runs on fresh model copies without a fitted head)', c.mode);
  const e = loadEncodedSplits(c.dataDir, c.spec, c.k, c.seed, enc, c.mode, { need: ['train'] });
  const n = Math.min(e.train.length, a['max-examples'] as number);
  if (!(n >= 1)) throw new InputError(e.splitDir, 'no training examples');
  const res = await loraVsFull(modelDir, {
    inputs: e.train.slice(0, n), output: c.mode, labelWordIds: lw ?? undefined, ranks, seeds, alpha: a.alpha as number, init,
    targets: a.targets as string[], dtype: c.dtype, device: a.device as string, batchSize: a['batch-size'] as number,
    onPoint: (p) => console.error(`${cmd}: r ${p.r} seed ${p.seed}: relative difference ${p.relDiff.toFixed(4)}`),
  });
  const line: LoraLine = {
    kind: 'lora-vs-full', task: c.task, k: c.k, seed: c.seed, model: basename(resolve(modelDir)), mode: c.mode, init, alpha: a.alpha as number,
    n_examples: n, by_rank: res.byRank, points: res.points,
  };
  appendLineAtomic(a.out as string, JSON.stringify({ ...line, full_grad_dim: res.fullGradDim, time: new Date().toISOString() }));
  const md = renderLoraMarkdown(line);
  process.stdout.write(md);
  if (a['out-md']) writeFileAtomic(a['out-md'] as string, md);
  return 0;
}

async function tables(argv: string[]): Promise<number> {
  const cmd = 'behaviour tables';
  const a = parseArgs(argv, TABLES, cmd);
  if (a.help) {
    console.log(helpText(cmd, 'RESULTS.jsonl [more.jsonl ...] [--out-md T.md] [--out-csv T.csv]', TABLES));
    return 0;
  }
  if (a._.length === 0) throw new LmkError(`${cmd}: give at least one results.jsonl file`);
  for (const p of a._) if (!existsSync(p)) throw new InputError(p, 'results file not found');
  const rows = behaviourTable(a._.flatMap((p) => readResultLines(p)));
  if (rows.length === 0) throw new LmkError(`${cmd}: no finished fine-tuning lines with behaviour measurements in ${a._.join(', ')} (run finetune-run --behaviour)`);
  const md = renderLinearizationMarkdown(rows) + '\n' + renderFixedFeaturesMarkdown(rows);
  process.stdout.write(md);
  if (a['out-md']) writeFileAtomic(a['out-md'] as string, md);
  if (a['out-csv']) writeFileAtomic(a['out-csv'] as string, renderBehaviourCsv(rows));
  return 0;
}

const SUB: Record<string, (argv: string[]) => Promise<number>> = { chi, 'lora-vs-full': loraCmd, tables };

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') {
    console.log(
      'usage: lmkernel behaviour <chi | lora-vs-full | tables> [options]\n\n' +
        '  chi           mean |χ| at θ0 for a list of models on a task split (natural-task test, Table 8)\n' +
        '  lora-vs-full  LoRA eNTK (scaled) vs the full eNTK of the LoRA layers, as a function of the rank r\n' +
        '  tables        Linearization and Fixed-Features tables from finetune-run --behaviour lines\n\n' +
        'Run `lmkernel behaviour <sub> --help` for its options.',
    );
    return sub ? 0 : 2;
  }
  const f = SUB[sub];
  if (!f) throw new LmkError(`behaviour: unknown sub-command '${sub}' (chi, lora-vs-full, tables)`);
  return f(rest);
}
