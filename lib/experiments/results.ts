// results.jsonl: one JSON line per finished seed, appended atomically; a line's `config_id` (a hash of
// everything that determines it) lets a rerun skip the seeds already there.
import { existsSync, readFileSync } from 'node:fs';
import { InputError, LmkError } from '../errors.js';
import type { Dtype, OutputKind } from '../types.js';

/** Existing lines of `path` (none when it does not exist); an unparsable line is an error naming it. */
export function readResultLines<T = Record<string, unknown>>(path: string): T[] {
  if (!existsSync(path)) return [];
  const out: T[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((l, i) => {
      if (l.trim() === '') return;
      try {
        out.push(JSON.parse(l) as T);
      } catch (e) {
        throw new InputError(`${path}:${i + 1}`, `not a JSON line (${(e as Error).message})`);
      }
    });
  return out;
}

/** Every line of the results files a command was given (at least one; each must exist), in order. */
export function readResultFiles<T = Record<string, unknown>>(paths: readonly string[], command: string): T[] {
  if (paths.length === 0) throw new LmkError(`${command}: give at least one results.jsonl file`);
  for (const p of paths) if (!existsSync(p)) throw new InputError(p, 'results file not found');
  return paths.flatMap((p) => readResultLines<T>(p));
}

/** The finished lines of `path` by config id (`finished` filters, e.g. on a status field). */
export function finishedLines<T extends { config_id?: unknown }>(
  path: string,
  finished: (line: T) => boolean = () => true,
): Map<string, T> {
  const byId = new Map<string, T>();
  for (const l of readResultLines<T>(path)) if (l && typeof l.config_id === 'string' && finished(l)) byId.set(l.config_id, l);
  return byId;
}

/** Lines de-duplicated by config_id: the last occurrence wins, at the first occurrence's position. */
export function dedupe<T extends { config_id?: string }>(lines: readonly T[]): T[] {
  const order: string[] = [];
  const byId = new Map<string, T>();
  lines.forEach((l, i) => {
    const id = l.config_id ?? `line:${i}`;
    if (!byId.has(id)) order.push(id);
    byId.set(id, l);
  });
  return order.map((id) => byId.get(id)!);
}

/** The fields every results line has, kernel or fine-tuning (the report reads these). */
/**
 * The fields every reader of results lines keys on, as lines of every version carry them (status and
 * method only on some; `mode` on lines written before the rename to `output`).
 */
export interface ReadLineHead {
  config_id?: string;
  method?: string;
  status?: string;
  task: string;
  k: number;
  seed: number;
  output?: string;
  mode?: string;
  formula: string;
}

export interface ResultLineBase {
  version: number;
  /** When the line was written (ISO 8601). */
  time: string;
  /** Hash of everything that determines the line: a rerun skips seeds whose id is already there. */
  config_id: string;
  task: string;
  k: number;
  seed: number;
  /** The model folder's name, and its content id. */
  model: string;
  model_id: string;
  output: OutputKind;
  dtype: Dtype;
  /** The selection metric (dev) and the reported metric (test). */
  metric: string;
}
