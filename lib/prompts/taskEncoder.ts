// One task's encoder: built-in (or custom) template, label word ids and lengths, checked once.
import type { EncodedExample, OutputKind } from '../types.js';
import type { Example } from '../tasks/index.js';
import type { Tokenizer } from '../tokenizer.js';
import { CAUSAL_TEMPLATES, encodeCausalPrompt, encodeCausalStandard } from './causal.js';
import { encodePrompt, encodeStandard, type PromptEncoding, type StandardEncoding, type Texts } from './encode.js';
import { labelWordIds } from './labelWords.js';
import { parseTemplate, type ParsedTemplate } from './template.js';
import { taskPrompt, type TaskPrompt, type TaskPromptOverrides } from './tasks.js';

export interface TaskEncoderOptions extends TaskPromptOverrides {
  truncateHead?: boolean;
  /** Return segment ids too (BERT token_type_ids). */
  tokenTypeIds?: boolean;
  /** A decoder-only (causal) LM: the task's causal template (unless one is given) and causal encodings (causal.ts). */
  causal?: boolean;
}

export interface TaskEncoder {
  readonly prompt: TaskPrompt;
  readonly template: ParsedTemplate;
  /** Label word ids in label order (`label_word_list`). */
  readonly labelWordIds: number[];
  /** Prompt encoding of one example; `example` names it in errors. */
  encode(texts: Texts, example?: number | string): PromptEncoding;
  /** Standard encoding `[CLS] A [SEP] (B [SEP])` with the task's max length. */
  encodeStandard(texts: Texts, example?: number | string): StandardEncoding;
}

export function taskEncoder(tok: Tokenizer, task: string, opts: TaskEncoderOptions = {}): TaskEncoder {
  const causal = opts.causal === true;
  const base = taskPrompt(task, opts);
  const prompt =
    causal && opts.template === undefined ? { ...base, template: CAUSAL_TEMPLATES[base.task] ?? base.template } : base;
  const template = parseTemplate(prompt.template);
  const ids = labelWordIds(tok, prompt.labelWords);
  return {
    prompt,
    template,
    labelWordIds: ids,
    encode: (texts, example) =>
      (causal ? encodeCausalPrompt : encodePrompt)(tok, texts, template, {
        maxLength: prompt.maxLength,
        firstSentLimit: prompt.firstSentLimit,
        otherSentLimit: prompt.otherSentLimit,
        labelWordIds: ids,
        truncateHead: opts.truncateHead,
        tokenTypeIds: opts.tokenTypeIds,
        example,
      }),
    encodeStandard: (texts, example) =>
      causal
        ? encodeCausalStandard(tok, texts, prompt.maxLength)
        : encodeStandard(tok, texts, prompt.maxLength, { tokenTypeIds: opts.tokenTypeIds, example }),
  };
}

/** Encodes task examples into model inputs (the task's prompt, or the standard encoding); `split` names them in errors. */
export function encodeExamples(enc: TaskEncoder, output: OutputKind, xs: Example[], split: string): EncodedExample[] {
  return xs.map((x, i) => {
    const where = `${split} example ${i}`;
    if (output === 'prompt') {
      const e = enc.encode(x.texts, where);
      return { input_ids: e.inputIds, mask_pos: e.maskPos };
    }
    return { input_ids: enc.encodeStandard(x.texts, where).inputIds };
  });
}
