// Public API of the task slice: registry, readers.
export { TASKS, getTask, type TaskSpec, type TaskFormat, type MetricName } from './registry.js';
export {
  readOriginal,
  readSplit,
  readTaskFile,
  readTsvTask,
  readCsvTask,
  resolveSplitFile,
  splitFileName,
  type Example,
  type SplitName,
} from './readers.js';
