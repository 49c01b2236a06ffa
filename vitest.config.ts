import { defineConfig } from 'vitest/config';

// Loading libtorch costs ~0.6 s and 150 MB per process: share few worker processes.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
