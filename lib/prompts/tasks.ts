// Built-in per-task prompt settings of LM-Kernel-FT `run_fewshot.sh` (REFERENCE.md §3.3): template,
// mapping (label → word, the leading space is added when the ids are made), max_seq_length and the
// per-sentence caps. Task names are matched case-insensitively through the task registry.
import { OptionError } from '../errors.js';
import { TASKS, getTask } from '../tasks/registry.js';
import { checkLimit, checkMaxLength } from './encode.js';
import { mappingToWords } from './labelWords.js';

export interface TaskPromptSettings {
  template: string;
  /** label → word, keys as the task registry spells the labels. */
  mapping: Readonly<Record<string, string>>;
  maxLength: number;
  firstSentLimit: number | null;
  otherSentLimit: number | null;
}

export interface TaskPrompt extends TaskPromptSettings {
  /** The task's name as the reference spells it. */
  task: string;
  /** Labels in the processor's order. */
  labels: string[];
  /** Label words in label order (`label_word_list`). */
  labelWords: string[];
}

const SENTIMENT = '*cls**sent_0*_It_was*mask*.*sep+*';
const NLI = '*cls**sent-_0*?*mask*,*+sentl_1**sep+*';
const PARAPHRASE = '*cls**sent_0**mask*,*+sentl_1**sep+*';
const BINARY_SENTIMENT = { '0': 'terrible', '1': 'great' };

const s = (
  template: string,
  mapping: Record<string, string>,
  maxLength = 128,
  firstSentLimit: number | null = null,
  otherSentLimit: number | null = null,
): TaskPromptSettings => ({ template, mapping, maxLength, firstSentLimit, otherSentLimit });

/** Keyed by the registry's spelling. */
export const TASK_PROMPTS: Readonly<Record<string, TaskPromptSettings>> = {
  'SST-2': s(SENTIMENT, BINARY_SENTIMENT),
  'sst-5': s(SENTIMENT, { '0': 'terrible', '1': 'bad', '2': 'okay', '3': 'good', '4': 'great' }),
  mr: s(SENTIMENT, BINARY_SENTIMENT, 128, 110, 50),
  cr: s(SENTIMENT, BINARY_SENTIMENT, 128, 110, 50),
  mpqa: s(SENTIMENT, BINARY_SENTIMENT, 128, 110),
  subj: s('*cls**sent_0*_This_is*mask*.*sep+*', { '0': 'subjective', '1': 'objective' }, 128, 110, 50),
  trec: s(
    '*cls**mask*:*+sent_0**sep+*',
    { '0': 'Description', '1': 'Entity', '2': 'Expression', '3': 'Human', '4': 'Location', '5': 'Number' },
    128,
    110,
  ),
  ag_news: s(
    '*cls**sent_0*_This_article_is_about*mask*_news.*sep+*',
    { '1': 'world', '2': 'sports', '3': 'business', '4': 'tech' },
    256,
    240,
  ),
  MNLI: s(NLI, { contradiction: 'No', entailment: 'Yes', neutral: 'Maybe' }, 256, 240),
  SNLI: s(NLI, { contradiction: 'No', entailment: 'Yes', neutral: 'Maybe' }, 256),
  QNLI: s(NLI, { not_entailment: 'No', entailment: 'Yes' }),
  RTE: s(NLI, { not_entailment: 'No', entailment: 'Yes' }, 256, 240),
  MRPC: s(PARAPHRASE, { '0': 'No', '1': 'Yes' }),
  QQP: s(PARAPHRASE, { '0': 'No', '1': 'Yes' }),
  CoLA: s('*cls**sent_0*_This_is*mask*.*sep+*', { '0': 'incorrect', '1': 'correct' }),
  // lmkernel's demo task (not in the paper): "<sentence> The report said." / "... The girl said.", chosen
  // among six candidates by zero-shot accuracy of models/demo on 600 sentences of the task's train file
  // (scripts/zero-shot-prompts.mjs; models/demo/prompt-selection.json)
  'brown-genre': s('*cls**sent_0*_The*mask*_said.*sep+*', { '0': 'report', '1': 'girl' }, 128, 110),
};

export interface TaskPromptOverrides {
  template?: string;
  /** label → word, or the words in label order. */
  labelWords?: Readonly<Record<string, string>> | readonly string[];
  maxLength?: number;
  /** null removes the built-in cap; undefined keeps it. */
  firstSentLimit?: number | null;
  otherSentLimit?: number | null;
}

/** The registry name of a task, or an OptionError listing the known tasks. */
export function taskName(task: string): string {
  try {
    return getTask(task).name;
  } catch {
    throw new OptionError('task', `one of ${TASKS.map((t) => t.name).join(', ')}`, task);
  }
}

/** The built-in prompt settings of `task` (case-insensitive), with optional custom values. */
export function taskPrompt(task: string, overrides: TaskPromptOverrides = {}): TaskPrompt {
  const name = taskName(task);
  const spec = getTask(name);
  const base = TASK_PROMPTS[name];
  if (!base)
    throw new OptionError('task', `a task with built-in prompt settings (${Object.keys(TASK_PROMPTS).join(', ')})`, task);
  let mapping: Record<string, string>;
  const lw = overrides.labelWords;
  if (lw === undefined) {
    mapping = { ...base.mapping };
  } else if (Array.isArray(lw)) {
    if (lw.length !== spec.labels.length || lw.some((w) => typeof w !== 'string')) {
      throw new OptionError('labelWords', `${spec.labels.length} words for the labels ${JSON.stringify(spec.labels)}`, lw);
    }
    mapping = Object.fromEntries(spec.labels.map((l, i) => [l, lw[i] as string]));
  } else {
    mapping = { ...(lw as Record<string, string>) };
  }
  const labelWords = mappingToWords(mapping, spec.labels, `label words of ${name}`);
  const pick = (v: number | null | undefined, d: number | null) => (v === undefined ? d : v);
  return {
    task: name,
    labels: [...spec.labels],
    template: overrides.template ?? base.template,
    mapping,
    labelWords,
    maxLength: checkMaxLength(overrides.maxLength ?? base.maxLength),
    firstSentLimit: checkLimit(pick(overrides.firstSentLimit, base.firstSentLimit), 'firstSentLimit'),
    otherSentLimit: checkLimit(pick(overrides.otherSentLimit, base.otherSentLimit), 'otherSentLimit'),
  };
}
