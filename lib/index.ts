// lmkernel public API.
export * from './errors.js';
export * from './model.js';
export * from './prompts/index.js';
