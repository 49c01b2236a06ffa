// lmkernel public API.
export * from './errors.js';
