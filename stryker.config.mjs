// Stryker (TypeScript mutation testing, docs/mutation.md): `npm run mutate`. Not run in CI (too slow on 2
// cores); run it before merging changes to the numeric and data modules below.
//
// Stryker copies the project into .stryker-tmp/sandbox-*/ and mutates the copy; this checkout's files are
// only read (its report goes to reports/mutation/). The sandbox links node_modules and takes the built
// addon (build/Release/lmkernel.node, from `npm run build:native`) but no other build output: it never
// rebuilds the native code. One module or a few: `npm run mutate -- --mutate lib/stats.ts`.
//
// Test files: by default the fast, addon-free unit tests (LMK_STRYKER_TESTS=all: every test file; the
// vitest runner runs tests in worker threads, one at a time, so the libtorch tests are slow there).
const unitTests = [
  'test/kshot.test.ts',
  'test/metrics.test.ts',
  'test/fuzz-properties.test.ts',
  'test/prompts.test.ts',
  'test/report.test.ts',
  'test/tasks.test.ts',
  'test/kernel-safetensors.test.ts',
  'test/io.test.ts',
  'test/cache.test.ts',
  'test/runner-inputs.test.ts',
  'test/stats-validate.test.ts',
  'test/layout.test.ts',
  'test/pyformats.test.ts',
  'test/kshot-synthetic.test.ts',
  'test/results-lines.test.ts',
  'test/download.test.ts',
  'test/prompt-settings.test.ts',
  'test/tar-reader.test.ts',
  'test/lmbff-data.test.ts',
  'test/solvers-mutation.test.ts',
  'test/report-edges.test.ts',
  'test/task-encoder.test.ts',
  'test/grids.test.ts',
  'test/download-synthetic.test.ts',
  'test/solve-params.test.ts',
  'test/linear-probe.test.ts',
];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.config.ts', related: false },
  testFiles: process.env.LMK_STRYKER_TESTS === 'all' ? [] : unitTests,
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: [
    'lib/data/**/*.ts',
    'lib/pyformats/**/*.ts',
    'lib/prompts/**/*.ts',
    'lib/solvers/**/*.ts',
    'lib/experiments/{report,grids,results,linearProbe}.ts',
    'lib/kernels/layout.ts',
    'lib/stats.ts',
    'lib/validate.ts',
    'lib/metrics.ts',
  ],
  ignorePatterns: [
    'build/**',
    '!build/Release/lmkernel.node',
    'build-*',
    'dist',
    'demo-output',
    'prebuilds',
    'reports',
    'work',
    '.cache',
    'models/*/checkpoint.safetensors',
    'models/*/.demo-data',
  ],
  coverageAnalysis: 'perTest',
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['html', 'json', 'clear-text', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  concurrency: 1,
  // the unit tests run in milliseconds: a mutant that loops forever (a loop bound or step flipped) is
  // stopped after 10 s; the libtorch tests need longer
  timeoutMS: process.env.LMK_STRYKER_TESTS === 'all' ? 60_000 : 10_000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
