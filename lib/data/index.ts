// Public API of the data slice: the k-shot generator and the numpy/pandas pieces it reproduces.
export {
  generateKShot,
  writeKShot,
  generateForSeed,
  loadKShotSource,
  kshotTaskName,
  DEFAULT_KSHOT_SEEDS,
  DEFAULT_KSHOT_TASKS,
  KSHOT_LAYOUTS,
  KSHOT_MODES,
  KSHOT_TASK_NAMES,
  type KShotLayout,
  type KShotMode,
  type KShotOptions,
  type KShotFile,
  type KShotSource,
  type Shortfall,
  type GenerateKShotOptions,
  type GenerateKShotResult,
} from './kshot.js';
export { RandomState } from '../pyformats/mt19937.js';
export {
  readCsvLikePandas,
  toCsvLikePandas,
  frameFromRows,
  pyFloatRepr,
  PANDAS_NA_VALUES,
  type Cell,
  type Dtype as PandasDtype,
  type Frame,
} from '../pyformats/pandas-csv.js';
export { pyReadlines, pyStrip } from '../pyformats/pytext.js';
export { downloadData, LMBFF_DATASETS_URL, type DownloadDataOptions, type DownloadDataResult } from './download.js';
export {
  verifyLmBffSplits,
  readLmBffChecksums,
  lmBffChecksumsPath,
  ChecksumMismatchError,
  LMBFF_CHECK_K,
  LMBFF_CHECK_SEEDS,
  type LmBffChecksums,
  type LmBffCheckResult,
  type LmBffMismatch,
} from './lmbff-check.js';
export { extractTar, type TarEntry, type ExtractOptions, type ExtractResult } from './tar.js';
