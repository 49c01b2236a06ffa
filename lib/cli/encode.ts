// `lmkernel encode`: JSONL examples → token ids (and mask positions) with a task's template.
import { readFileSync } from 'node:fs';
import { InputError, LmkError, OptionError } from '../errors.js';
import { writeFileAtomic } from '../io.js';
import { taskEncoder, type TaskEncoder, type TaskEncoderOptions } from '../prompts/index.js';
import { loadTokenizer } from '../tokenizer.js';
import { isInt, isPlainObject } from '../validate.js';
import { defineCommand } from './command.js';
import { TOKENIZER_HELP, modelArg } from './experimentFlags.js';

const SPEC = {
  task: {
    type: 'string',
    help: 'task name (SST-2, sst-5, mr, cr, mpqa, subj, trec, ag_news, MNLI, SNLI, QNLI, RTE, MRPC, QQP, CoLA; any case)',
    required: true,
  },
  tokenizer: {
    type: 'string',
    help: `${TOKENIZER_HELP}: a folder with tokenizer.json, or vocab.json + merges.txt (RoBERTa), or vocab.txt (BERT)`,
    required: true,
  },
  revision: { type: 'string', help: 'hub revision of a --tokenizer given as a hub id (default: main)' },
  input: { type: 'string', help: 'input JSONL: one {"texts": [...]} per line (blank lines are skipped)', required: true },
  out: {
    type: 'string',
    help: 'output JSONL: one {"input_ids": [...], "mask_pos": n} or {"error": "..."} per input line',
    required: true,
  },
  standard: { type: 'boolean', help: 'standard (non-prompt) encoding [CLS] A [SEP] (B [SEP]); no mask_pos', default: false },
  template: { type: 'string', help: "custom template, e.g. '*cls**sent_0*_It_was*mask*.*sep+*' (default: the task's)" },
  'label-words': { type: 'string', help: 'custom label words as JSON: {"label": "word", ...} or ["word", ...] in label order' },
  'max-length': { type: 'number', help: "max_seq_length (default: the task's, 128 or 256)" },
  'first-sent-limit': { type: 'string', help: "token cap on sentence 0 parts, or 'none' (default: the task's)" },
  'other-sent-limit': { type: 'string', help: "token cap on sentence >= 1 parts, or 'none' (default: the task's)" },
  'truncate-head': { type: 'boolean', help: 'truncate prompt encodings from the left', default: false },
  causal: {
    type: 'boolean',
    help: "a decoder-only LM's prompts: the task's causal template, ending at the label word's position (default: from the tokenizer's kind)",
  },
} as const;

function limitFlag(v: string | undefined, flag: string): number | null | undefined {
  if (v === undefined) return undefined;
  const s = v.trim();
  if (s.toLowerCase() === 'none') return null;
  const n = Number(s);
  if (s === '' || !isInt(n) || n < 0) throw new OptionError(flag, "an integer >= 0 or 'none'", s);
  return n;
}

function labelWordsFlag(v: string | undefined): TaskEncoderOptions['labelWords'] {
  if (v === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch (e) {
    throw new OptionError(
      '--label-words',
      'JSON: an object {"label": "word"} or an array of words',
      `${v} (${(e as Error).message})`,
    );
  }
  const isWords = (ws: unknown[]) => ws.every((w) => typeof w === 'string');
  const ok = Array.isArray(parsed) ? isWords(parsed) : isPlainObject(parsed) && isWords(Object.values(parsed));
  if (!ok) throw new OptionError('--label-words', 'an object {"label": "word"} or an array of strings', v);
  return parsed as TaskEncoderOptions['labelWords'];
}

/** Parses the input JSONL: the texts of each non-blank line, with its 1-based line number. */
function readExamples(path: string): Array<{ line: number; texts: Array<string | null> }> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(path, `cannot read the input: ${(e as Error).message}`);
  }
  const out: Array<{ line: number; texts: Array<string | null> }> = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      throw new InputError(`${path}:${line}`, `line ${line} is not valid JSON: ${(e as Error).message}`);
    }
    const texts = isPlainObject(obj) ? obj.texts : undefined;
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string' || t === null)) {
      throw new InputError(`${path}:${line}`, `line ${line} must be an object {"texts": [string, ...]}`);
    }
    out.push({ line, texts: texts as Array<string | null> });
  });
  return out;
}

/** Encodes every example; one that cannot be encoded gives an {"error"} line. */
function encodeLines(
  enc: TaskEncoder,
  examples: Array<{ line: number; texts: Array<string | null> }>,
  standard: boolean,
): { lines: string[]; errors: number } {
  const lines: string[] = [];
  let errors = 0;
  for (const ex of examples) {
    const where = `line ${ex.line}`;
    try {
      if (standard) {
        lines.push(JSON.stringify({ input_ids: enc.encodeStandard(ex.texts, where).inputIds }));
      } else {
        const e = enc.encode(ex.texts, where);
        lines.push(JSON.stringify({ input_ids: e.inputIds, mask_pos: e.maskPos }));
      }
    } catch (e) {
      if (!(e instanceof LmkError)) throw e;
      errors++;
      lines.push(JSON.stringify({ error: e.message }));
    }
  }
  return { lines, errors };
}

export const command = defineCommand({
  name: 'encode',
  synopsis: '--task TASK --tokenizer DIR --input IN.jsonl --out OUT.jsonl [--standard] [options]',
  notes:
    'An input that cannot be encoded (e.g. the mask truncated away) gives an {"error": ...} line;\n' +
    'the exit status is then 1, and the output is still written. A malformed input line stops the command.',
  spec: SPEC,
  async run(a) {
    const tok = loadTokenizer((await modelArg(a.tokenizer, a.revision, 'tokenizer')).dir);
    const enc = taskEncoder(tok, a.task, {
      template: a.template,
      labelWords: labelWordsFlag(a['label-words']),
      maxLength: a['max-length'],
      firstSentLimit: limitFlag(a['first-sent-limit'], '--first-sent-limit'),
      otherSentLimit: limitFlag(a['other-sent-limit'], '--other-sent-limit'),
      truncateHead: a['truncate-head'],
      causal: a.causal === true || tok.kind === 'causal',
    });
    const standard = a.standard === true;
    const { lines, errors } = encodeLines(enc, readExamples(a.input), standard);
    writeFileAtomic(a.out, lines.map((l) => l + '\n').join(''));
    const p = enc.prompt;
    const how = standard
      ? 'standard'
      : `template ${p.template}, label words ${JSON.stringify(p.labelWords)} = ${JSON.stringify(enc.labelWordIds)}`;
    const failed = errors > 0 ? `, ${errors} could not be encoded` : '';
    console.error(
      `lmkernel encode: ${p.task} (${tok.kind}, ${how}, max_length ${p.maxLength}): wrote ${lines.length} line(s) to ${a.out}${failed}`,
    );
    return errors > 0 ? 1 : 0;
  },
});

export const run = command.run;
