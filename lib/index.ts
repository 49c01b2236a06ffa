// lmkernel public API.
export * from './errors.js';
export * from './model.js';
export * from './prompts/index.js';
export * from './tasks/index.js';
export * from './data/index.js';
export * from './metrics.js';
