// `lmkernel report`'s fine-tuning rows: per task, k and fine-tuning column, every seed's selected learning
// rate and batch size (dev selection over the grid, the paper's Table 4 grids by default), the best step
// of the selected run out of its steps (dev evaluation every eval_every steps), the dropout it trained
// with, and with --behaviour the kernel distance and the eNTK formula it was measured with (Table 7).
import { dedupe, type ReadLineHead } from './results.js';

interface FtLine extends ReadLineHead {
  subset?: string;
  params?: { lr: number; batch_size: number; best_step: number; steps: number } | null;
  eval_every?: number;
  dropout?: number;
  behaviour?: { kernel_distance_train_train?: number | null; kernel_distance_formula?: string } | null;
}

export interface FtSelectionRow {
  task: string;
  k: number;
  column: string;
  seed: number;
  lr: number;
  batchSize: number;
  bestStep: number;
  steps: number;
  evalEvery: number | null;
  /** null: a line written before dropout was recorded (it trained without). */
  dropout: number | null;
  kernelDistance: number | null;
  kernelDistanceFormula: string | null;
}

/** The selected settings of every finished fine-tuning seed, in task, k, column and seed order. */
export function finetuneSelections(lines: readonly unknown[]): FtSelectionRow[] {
  const ft = dedupe(lines as FtLine[]).filter(
    (l) => l && typeof l === 'object' && l.method === 'finetune' && (l.status ?? 'done') === 'done' && l.params,
  );
  return ft
    .map((l) => ({
      task: l.task,
      k: l.k,
      column: `${l.output ?? l.mode}/${l.formula}/ft${l.subset && l.subset !== 'all' ? `/${l.subset}` : ''}`,
      seed: l.seed,
      lr: l.params!.lr,
      batchSize: l.params!.batch_size,
      bestStep: l.params!.best_step,
      steps: l.params!.steps,
      evalEvery: l.eval_every ?? null,
      dropout: l.dropout ?? null,
      kernelDistance: l.behaviour?.kernel_distance_train_train ?? null,
      kernelDistanceFormula: l.behaviour ? (l.behaviour.kernel_distance_formula ?? 'sgd') : null,
    }))
    .sort((a, b) => a.task.localeCompare(b.task) || a.k - b.k || a.column.localeCompare(b.column) || a.seed - b.seed);
}

/** Markdown of the selections ('' when there are no fine-tuning lines). */
export function renderFinetuneSelections(rows: FtSelectionRow[]): string {
  if (rows.length === 0) return '';
  const head = '| Task | k | Column | seed | lr | batch | best step / steps | eval every | dropout | kernel distance (eNTK) |';
  const body = rows.map(
    (r) =>
      `| ${r.task} | ${r.k} | ${r.column} | ${r.seed} | ${r.lr} | ${r.batchSize} | ${r.bestStep} / ${r.steps} | ${r.evalEvery ?? '–'} | ${r.dropout ?? '0 (not recorded)'} | ${r.kernelDistance === null ? '–' : `${r.kernelDistance.toPrecision(3)} (${r.kernelDistanceFormula})`} |`,
  );
  return (
    'Fine-tuning: the selected learning rate and batch size per seed (best dev over the grid), the step of the best dev ' +
    'state, the dropout of training and, with --behaviour, the relative kernel distance train × train and its eNTK.\n\n' +
    [head, '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |', ...body].join('\n') +
    '\n'
  );
}
