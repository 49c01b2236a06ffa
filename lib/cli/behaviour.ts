// `lmkernel behaviour <chi | lora-vs-full | tables>`: the kernel-behaviour measurements on their own.
//   chi           mean |χ| = mean |softmax(f) − onehot(y)| at θ0 for a list of models on a task split (Table 8),
//                 per output and label class, and per example across the models' widths (paired tests)
//   lora-vs-full  relative difference of the scaled LoRA eNTK from the full eNTK of the query/value weights vs r
//   tables        Linearization and Fixed-Features tables from fine-tuning result lines (finetune-run --behaviour)
//   summary       Table 1: which tasks show kernel behaviour per fine-tuning method (thresholds as options)
import { basename, resolve } from 'node:path';
import { InputError, LmkError, OptionError } from '../errors.js';
import {
  loadEncodedSplits,
  prepareModel,
  readResultFiles,
  resolveExperiment,
  seedHead,
  tokenizerDirFor,
  type EncodedSplits,
  type Experiment,
  type ExperimentOptions,
  type PreparedModel,
} from '../experiments/index.js';
import { appendLineAtomic, writeFileAtomic } from '../io.js';
import { loadModel } from '../model.js';
import { chiWidthSeries, renderChiWidthMarkdown, type ChiSeriesPoint } from '../behaviour/chi.js';
import { chiStats, loraVsFull, type LoraInit } from '../behaviour/measures.js';
import { DEFAULT_SUMMARY_THRESHOLDS, renderSummaryMarkdown, summaryTable } from '../behaviour/summary.js';
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
import { checkNumber, oneOf } from '../validate.js';
import { defineCommand } from './command.js';
import { EXPERIMENT_FLAGS, dtypeFlag, modelArg, numberList, outputFlag } from './experimentFlags.js';

const DATA = {
  task: EXPERIMENT_FLAGS.task,
  k: { type: 'number', help: 'examples per label', default: 16 },
  seed: { type: 'number', help: 'data seed of the split', default: 42 },
  'data-dir': EXPERIMENT_FLAGS['data-dir'],
  output: EXPERIMENT_FLAGS.output,
  dtype: { type: 'string', help: 'float32 | float64', default: 'float64' },
  device: EXPERIMENT_FLAGS.device,
  revision: EXPERIMENT_FLAGS.revision,
  'batch-size': { type: 'number', help: 'sequences per forward/backward batch', default: 8 },
} as const;

interface DataArgs {
  task: string;
  k: number;
  seed: number;
  'data-dir': string;
  output: string;
  dtype: string;
  out: string;
}

/** One model's inputs on the task split, prepared as the experiment runners prepare a seed. */
async function prepareSplit(
  a: DataArgs,
  modelDir: string,
  tokenizerDir: string | undefined,
  need: Array<'train' | 'dev' | 'test'>,
) {
  const opts: ExperimentOptions = {
    task: a.task,
    k: a.k,
    seeds: [a.seed],
    dataDir: a['data-dir'],
    modelDir,
    tokenizerDir: tokenizerDirFor(modelDir, tokenizerDir),
    output: outputFlag(a.output),
    dtype: dtypeFlag(a.dtype),
    out: a.out,
  };
  const x: Experiment = resolveExperiment(opts);
  const p: PreparedModel = await prepareModel(x, opts);
  const e: EncodedSplits = loadEncodedSplits(a['data-dir'], x.spec, x.k, a.seed, p.enc, x.output, { need });
  return { x, p, e };
}

const chi = defineCommand({
  name: 'behaviour chi',
  synopsis: '--task T --data-dir D --model M1,M2 [--tokenizer TOK] [--split train] [options]',
  spec: {
    ...DATA,
    model: { type: 'list', required: true, help: 'model folders or hub ids (comma-separated or repeated)' },
    tokenizer: {
      type: 'list',
      help: "tokenizer folders or hub ids: one for all models, or one per model (default: each model's)",
    },
    split: { type: 'string', help: 'train | dev | test', default: 'train' },
    'max-examples': { type: 'number', help: 'use only the first N examples of the split' },
    out: { type: 'string', help: 'append one JSON line per model here', default: 'behaviour.jsonl' },
    'out-md': { type: 'string', help: 'write the Markdown table here' },
    'out-csv': { type: 'string', help: 'write the CSV table here' },
  },
  run: async (a) => {
    const toks = a.tokenizer ?? [];
    if (toks.length > 1 && toks.length !== a.model.length)
      throw new OptionError('--tokenizer', `one folder, or ${a.model.length} (one per model)`, toks.join(','));
    const split = oneOf(a.split, '--split', ['train', 'dev', 'test'] as const);
    const lines: ChiLine[] = [];
    const series: ChiSeriesPoint[] = [];
    for (const [i, given] of a.model.entries()) {
      const m = (await modelArg(given, a.revision)).name;
      const { x, p, e } = await prepareSplit(a, m, toks.length === 1 ? toks[0] : toks[i], ['train', split]);
      const model = await loadModel(m, { dtype: x.dtype, device: a.device });
      const head = await seedHead({
        getModel: async () => model,
        train: e.train,
        trainLabels: e.trainLabels,
        numClasses: x.spec.labels.length,
        options: x.linearProbe,
        cache: null,
      });
      if (head) model.setClassifier(head.weight, head.bias);
      const n = a['max-examples'] ?? e[split].length;
      const inputs = e[split].slice(0, n);
      const labels = e[`${split}Labels` as const].slice(0, n);
      const s = await chiStats(model, {
        inputs,
        labels,
        output: x.output,
        labelWordIds: p.labelWordIds ?? undefined,
        batchSize: a['batch-size'],
      });
      series.push({
        model: basename(resolve(m)),
        width: model.info.hidden,
        perExample: s.perExample,
        perExampleOutput: s.perExampleOutput,
      });
      const line: ChiLine = {
        kind: 'chi',
        task: x.task,
        k: x.k,
        seed: a.seed,
        split,
        model: basename(resolve(m)),
        model_id: p.modelId,
        output: x.output,
        n: s.n,
        num_outputs: s.numOutputs,
        mean_abs_chi: s.meanAbsChi,
        std_abs_chi: s.std,
        mean_abs_chi_label: s.meanAbsChiLabel,
        mean_abs_chi_by_output: s.meanAbsChiByOutput,
        mean_abs_chi_by_label: s.meanAbsChiByLabel,
        hidden: model.info.hidden,
        accuracy: s.accuracy,
      };
      appendLineAtomic(a.out, JSON.stringify({ ...line, per_example_abs_chi: s.perExample, time: new Date().toISOString() }));
      lines.push(line);
    }
    let md = renderChiMarkdown(lines);
    if (series.length >= 2) {
      const w = chiWidthSeries(series);
      md += '\n' + renderChiWidthMarkdown(w);
      const c = w.comparisons.map((x) => ({
        from: x.from,
        to: x.to,
        from_width: x.fromWidth,
        to_width: x.toWidth,
        all: x.all,
        by_output: x.byOutput,
      }));
      const head = { task: lines[0].task, k: lines[0].k, seed: a.seed, split, output: lines[0].output };
      appendLineAtomic(
        a.out,
        JSON.stringify({
          kind: 'chi-width',
          ...head,
          n: w.n,
          share_monotone_decrease: w.shareMonotoneDecrease,
          comparisons: c,
          time: new Date().toISOString(),
        }),
      );
    }
    process.stdout.write(md);
    if (a['out-md']) writeFileAtomic(a['out-md'], md);
    if (a['out-csv']) writeFileAtomic(a['out-csv'], renderChiCsv(lines));
    return 0;
  },
});

const LORA_SYNOPSIS =
  '--task T --data-dir D --model M [--tokenizer TOK] [--ranks 1,2,4,8,16] [options]\n\n' +
  'K_LoRA: SGD eNTK over the LoRA B matrices at B = 0 (A random); K_full: SGD eNTK over the targeted weight matrices\n' +
  '(computed exactly as the LoRA kernel with A = I, α = d). Reported: ‖s·K_LoRA − K_full‖_F/‖K_full‖_F, s = r/(α²σ²),\n' +
  'σ² = the variance of an entry of A (1/r gaussian, 1/(3d) kaiming): E[s·K_LoRA] = K_full.';

const loraVsFullCommand = defineCommand({
  name: 'behaviour lora-vs-full',
  synopsis: LORA_SYNOPSIS,
  spec: {
    ...DATA,
    model: EXPERIMENT_FLAGS.model,
    tokenizer: { type: 'string', help: "tokenizer folder or hub id (default: the model's)" },
    ranks: { type: 'list', help: 'LoRA ranks', default: ['1', '2', '4', '8', '16'] },
    'lora-seeds': { type: 'list', help: 'seeds of the random A', default: ['0', '1', '2'] },
    alpha: { type: 'number', help: 'LoRA alpha (the scale s = r/(α²σ²) removes it)', default: 16 },
    init: { type: 'string', help: 'gaussian (N(0, 1/r)) | kaiming (U(±1/√d), loralib)', default: 'gaussian' },
    targets: { type: 'list', help: 'query,value', default: ['query', 'value'] },
    'max-examples': { type: 'number', help: 'use only the first N train examples (kernel is N·C x N·C)', default: 16 },
    out: { type: 'string', help: 'append one JSON line here', default: 'behaviour.jsonl' },
    'out-md': { type: 'string', help: 'write the Markdown table here' },
  },
  run: async (a) => {
    const init = oneOf(a.init, '--init', ['gaussian', 'kaiming'] as const) as LoraInit;
    const output = outputFlag(a.output);
    if (output === 'standard')
      throw new OptionError('--output', 'prompt (the LoRA kernel runs on fresh model copies without a fitted head)', output);
    const model = (await modelArg(a.model, a.revision)).name;
    const { x, p, e } = await prepareSplit(a, model, a.tokenizer, ['train']);
    const n = Math.min(e.train.length, a['max-examples']);
    if (!(n >= 1)) throw new InputError(e.splitDir, 'no training examples');
    const res = await loraVsFull(model, {
      inputs: e.train.slice(0, n),
      output,
      labelWordIds: p.labelWordIds ?? undefined,
      ranks: numberList('ranks', a.ranks, true),
      seeds: numberList('lora-seeds', a['lora-seeds'], true),
      alpha: a.alpha,
      init,
      targets: a.targets,
      dtype: x.dtype,
      device: a.device,
      batchSize: a['batch-size'],
      onPoint: (pt) =>
        console.error(`behaviour lora-vs-full: r ${pt.r} seed ${pt.seed}: relative difference ${pt.relDiff.toFixed(4)}`),
    });
    const line: LoraLine = {
      kind: 'lora-vs-full',
      task: x.task,
      k: x.k,
      seed: a.seed,
      model: basename(resolve(model)),
      output,
      init,
      alpha: a.alpha,
      n_examples: n,
      by_rank: res.byRank,
      points: res.points,
    };
    appendLineAtomic(a.out, JSON.stringify({ ...line, full_grad_dim: res.fullGradDim, time: new Date().toISOString() }));
    const md = renderLoraMarkdown(line);
    process.stdout.write(md);
    if (a['out-md']) writeFileAtomic(a['out-md'], md);
    return 0;
  },
});

const tables = defineCommand({
  name: 'behaviour tables',
  synopsis: 'RESULTS.jsonl [more.jsonl ...] [--out-md T.md] [--out-csv T.csv]',
  positionals: true,
  spec: {
    'out-md': { type: 'string', help: 'write the Linearization and Fixed-Features tables (Markdown) here' },
    'out-csv': { type: 'string', help: 'write the CSV table here' },
  },
  run: async (a) => {
    const cmd = 'behaviour tables';
    const rows = behaviourTable(readResultFiles(a._, cmd));
    if (rows.length === 0)
      throw new LmkError(
        `${cmd}: no finished fine-tuning lines with behaviour measurements in ${a._.join(', ')} (run finetune-run --behaviour)`,
      );
    const md = renderLinearizationMarkdown(rows) + '\n' + renderFixedFeaturesMarkdown(rows);
    process.stdout.write(md);
    if (a['out-md']) writeFileAtomic(a['out-md'], md);
    if (a['out-csv']) writeFileAtomic(a['out-csv'], renderBehaviourCsv(rows));
    return 0;
  },
});

const summary = defineCommand({
  name: 'behaviour summary',
  synopsis: 'RESULTS.jsonl [more.jsonl ...] [--min-share-recovered 0.5] [--max-kernel-distance 2] [--out-md S.md]',
  positionals: true,
  spec: {
    'min-share-recovered': {
      type: 'number',
      help: "Linearization holds at this share of FT's gain recovered by the linearized model (ours; see docs)",
      default: DEFAULT_SUMMARY_THRESHOLDS.minShareRecovered,
    },
    'max-kernel-distance': {
      type: 'number',
      help: 'Fixed Features holds below this relative kernel distance (the paper, Section 6: 2)',
      default: DEFAULT_SUMMARY_THRESHOLDS.maxKernelDistance,
    },
    'out-md': { type: 'string', help: 'write the Markdown table here' },
  },
  run: async (a) => {
    const cmd = 'behaviour summary';
    const th = {
      minShareRecovered: checkNumber(a['min-share-recovered'], '--min-share-recovered'),
      maxKernelDistance: checkNumber(a['max-kernel-distance'], '--max-kernel-distance', { min: 0, exclusiveMin: true }),
    };
    const rows = summaryTable(readResultFiles(a._, cmd), th);
    if (rows.length === 0)
      throw new LmkError(
        `${cmd}: no finished fine-tuning lines with behaviour measurements in ${a._.join(', ')} (run finetune-run --behaviour)`,
      );
    const md = renderSummaryMarkdown(rows, th);
    process.stdout.write(md);
    if (a['out-md']) writeFileAtomic(a['out-md'], md);
    return 0;
  },
});

const SUB: Record<string, (argv: string[]) => Promise<number>> = {
  chi: chi.run,
  summary: summary.run,
  'lora-vs-full': loraVsFullCommand.run,
  tables: tables.run,
};

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') {
    console.log(
      'usage: lmkernel behaviour <chi | lora-vs-full | tables | summary> [options]\n\n' +
        '  chi           mean |χ| at θ0 for a list of models on a task split (natural-task test, Table 8)\n' +
        '  lora-vs-full  LoRA eNTK (scaled) vs the full eNTK of the LoRA layers, as a function of the rank r\n' +
        '  tables        Linearization and Fixed-Features tables from finetune-run --behaviour lines\n' +
        '  summary       which tasks show kernel behaviour, per fine-tuning method (Table 1)\n\n' +
        'Run `lmkernel behaviour <sub> --help` for its options.',
    );
    return sub ? 0 : 2;
  }
  const f = SUB[sub];
  if (!f) throw new LmkError(`behaviour: unknown sub-command '${sub}' (chi, lora-vs-full, tables, summary)`);
  return f(rest);
}
