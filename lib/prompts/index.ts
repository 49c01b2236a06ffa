// Public API of the prompt slice: tokenizers, the template language, label words and per-task settings.
export * from './template.js';
export * from './encode.js';
export * from './labelWords.js';
export * from './tasks.js';
export * from './taskEncoder.js';
export * from './causal.js';
export {
  loadTokenizer,
  tokenizerFromJson,
  robertaFromVocabMerges,
  bertFromVocab,
  robertaTokenizerJson,
  bertTokenizerJson,
  type Tokenizer,
  type TokenizerKind,
  type LoadTokenizerOptions,
} from '../tokenizer.js';
