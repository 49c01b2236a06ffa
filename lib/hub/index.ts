// Models by name: hub ids resolved from (and downloaded into) the Hugging Face cache.
export { cachedModelDir, resolveModelDir, MODEL_FILES, TOKENIZER_FILES, type ResolveOptions } from './resolve.js';
export { hubCacheDir, isOffline, parseHubId, repoFolderName, type HubId } from './cache.js';
export { HubHttpError } from './download.js';
