// Tokenizers for the template encoder: RoBERTa (byte-level BPE) and BERT (WordPiece), run by the
// `@huggingface/tokenizers` package (pure JS). This module only builds the package's tokenizer.json
// object from the files found in a directory and exposes the few operations the reference uses:
// `encode(x, add_special_tokens=False)`, `convert_tokens_to_ids`, and the special token ids.
//
// What the package does not do, and how it is handled here:
// - It has no loader for `vocab.json` + `merges.txt` or `vocab.txt`: the equivalent tokenizer.json object
//   (the one HF `tokenizers` writes for roberta-base / bert-base-uncased) is built in memory.
// - roberta-base's tokenizer.json (an older format) has no `model.type`. The package infers the model itself;
//   `tokenizerFromJson` infers it the same way (merges → BPE, else WordPiece) to pick RoBERTa or BERT.
// - Its BPE model maps an unknown piece to `undefined` when the model has no `unk_token` (roberta-base's
//   tokenizer.json has `unk_token: null`). Byte-level BPE covers every byte, so this cannot happen for
//   RoBERTa; `encode` still checks every id and throws instead of returning `undefined`.
// - `token_to_id` returns `undefined` for unknown tokens; HF `convert_tokens_to_ids` returns the unk id.
//   `convertTokenToId` below implements the HF behaviour on top of it.
// - Known small Unicode differences from the Rust library (they do not occur in the fixtures): JS `\s`
//   also matches U+FEFF; the BERT normaliser does not drop unassigned (Cn) code points and does not
//   space CJK characters outside the BMP.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { InputError, LmkError } from './errors.js';
import { cachedModelDir, hubCacheDir, parseHubId } from './hub/index.js';
import { causalTokenizer, gpt2TokenizerJson, hasToken } from './tokenizerCausal.js';

/** roberta: byte-level BPE with RoBERTa's specials; bert: WordPiece; causal: a decoder's tokenizer (GPT-2,
 *  Llama, Qwen2: BPE without a mask token; tokenizerCausal.ts). */
export type TokenizerKind = 'roberta' | 'bert' | 'causal';

export interface Tokenizer {
  readonly kind: TokenizerKind;
  /** Token ids of `text` without special tokens (HF `encode(text, add_special_tokens=False)`). */
  encode(text: string): number[];
  /** Token strings of `text` without special tokens (HF `tokenize`). */
  tokenize(text: string): string[];
  /** Id of a vocabulary token (or added token), or undefined when it is not in the vocabulary. */
  tokenToId(token: string): number | undefined;
  /** HF `convert_tokens_to_ids` for one token: an unknown token gives the unk id. */
  convertTokenToId(token: string): number;
  idToToken(id: number): string | undefined;
  readonly clsId: number;
  readonly sepId: number;
  readonly maskId: number;
  readonly padId: number;
  readonly unkId: number;
  readonly clsToken: string;
  readonly sepToken: string;
  readonly maskToken: string;
  readonly padToken: string;
  readonly unkToken: string;
  /** Number of ids (vocabulary plus added tokens): 50265 for roberta-base, 30522 for bert-base-uncased. */
  readonly vocabSize: number;
  /** Causal encodings: the BOS id (undefined when the tokenizer has none) and whether a prompt starts
   *  with it (tokenizer_config.json's add_bos_token; `*cls*` of a template emits it then). */
  readonly bosId?: number;
  readonly addBos?: boolean;
}

export interface SpecialNames {
  cls: string;
  sep: string;
  mask: string;
  pad: string;
  unk: string;
}

const ROBERTA_SPECIALS: SpecialNames = { cls: '<s>', sep: '</s>', mask: '<mask>', pad: '<pad>', unk: '<unk>' };
const BERT_SPECIALS: SpecialNames = { cls: '[CLS]', sep: '[SEP]', mask: '[MASK]', pad: '[PAD]', unk: '[UNK]' };

type Json = Record<string, unknown>;

export class HfBackedTokenizer implements Tokenizer {
  readonly clsId: number;
  readonly sepId: number;
  readonly maskId: number;
  readonly padId: number;
  readonly unkId: number;
  readonly clsToken: string;
  readonly sepToken: string;
  readonly maskToken: string;
  readonly padToken: string;
  readonly unkToken: string;
  readonly vocabSize: number;
  readonly bosId?: number;
  private readonly hf: HfTokenizer;

  constructor(
    readonly kind: TokenizerKind,
    json: Json,
    names: SpecialNames,
    readonly source: string,
    /** causal tokenizers: special tokens the vocabulary lacks get the id -1 (never emitted) */
    optionalSpecials = false,
    readonly addBos?: boolean,
    /** SentencePiece-style BPE (Llama): the normaliser prefixes every text with ▁, which stands for the
     *  text's own leading space; one leading space is dropped before encoding (tokenizerCausal.ts). */
    private readonly prefixesSpace = false,
  ) {
    try {
      this.hf = new HfTokenizer(json, {});
    } catch (e) {
      throw new InputError(source, `cannot build the ${kind} tokenizer: ${(e as Error).message}`);
    }
    const id = (tok: string): number => {
      const v = this.hf.token_to_id(tok);
      if (v === undefined && optionalSpecials) return -1;
      if (v === undefined) throw new InputError(source, `the ${kind} vocabulary has no special token '${tok}'`);
      return v;
    };
    this.clsToken = names.cls;
    this.sepToken = names.sep;
    this.maskToken = names.mask;
    this.padToken = names.pad;
    this.unkToken = names.unk;
    this.clsId = id(names.cls);
    this.sepId = id(names.sep);
    this.maskId = id(names.mask);
    this.padId = id(names.pad);
    this.unkId = id(names.unk);
    if ((optionalSpecials || addBos !== undefined) && this.clsId >= 0) this.bosId = this.clsId;
    let maxId = -1;
    for (const v of this.hf.get_vocab(true).values()) if (v > maxId) maxId = v;
    this.vocabSize = maxId + 1;
  }

  encode(text: string): number[] {
    const ids = this.hf.encode(this.spaced(text), { add_special_tokens: false }).ids;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === undefined) {
        throw new LmkError(`${this.kind} tokenizer: no id for a piece of ${JSON.stringify(text)}`);
      }
    }
    return ids;
  }

  private spaced(text: string): string {
    return this.prefixesSpace && text.startsWith(' ') ? text.slice(1) : text;
  }

  tokenize(text: string): string[] {
    return this.hf.tokenize(this.spaced(text), { add_special_tokens: false });
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  convertTokenToId(token: string): number {
    return this.hf.token_to_id(token) ?? this.unkId;
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }
}

const specialToken = (id: number, content: string, lstrip = false) => ({
  id,
  content,
  single_word: false,
  lstrip,
  rstrip: false,
  normalized: false,
  special: true,
});

/**
 * A byte-level BPE tokenizer.json object (GPT-2's and RoBERTa's scheme) from a `vocab.json` object and
 * `merges.txt` text, with the given added tokens and post-processor.
 */
export function byteLevelBpeJson(
  vocab: Record<string, number>,
  mergesText: string,
  added: Json[],
  postProcessor: Json | null,
): Json {
  const merges = mergesText.split(/\r?\n/).filter((l, i) => l.length > 0 && !(i === 0 && l.startsWith('#version')));
  return {
    version: '1.0',
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      vocab,
      merges,
    },
  };
}

/** The tokenizer.json object of roberta-base, from its `vocab.json` object and `merges.txt` text. */
export function robertaTokenizerJson(vocab: Record<string, number>, mergesText: string): Json {
  const added = Object.values(ROBERTA_SPECIALS)
    .filter((t) => vocab[t] !== undefined)
    .map((t) => specialToken(vocab[t], t, t === ROBERTA_SPECIALS.mask));
  return byteLevelBpeJson(vocab, mergesText, added, {
    type: 'RobertaProcessing',
    sep: ['</s>', vocab['</s>']],
    cls: ['<s>', vocab['<s>']],
    trim_offsets: true,
    add_prefix_space: false,
  });
}

/** The tokenizer.json object of a BERT WordPiece tokenizer from the lines of its `vocab.txt`. */
export function bertTokenizerJson(vocabText: string, lowercase = true): Json {
  const vocab: Record<string, number> = {};
  const lines = vocabText.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    // HF `load_vocab` strips the trailing newline only (rstrip('\n')); a repeated token keeps its last index.
    vocab[line.replace(/\r$/, '')] = i;
  });
  const added = Object.values(BERT_SPECIALS)
    .filter((t) => vocab[t] !== undefined)
    .map((t) => specialToken(vocab[t], t));
  return {
    version: '1.0',
    added_tokens: added,
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', vocab['[SEP]']], cls: ['[CLS]', vocab['[CLS]']] },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

/**
 * Builds a tokenizer from a tokenizer.json object; the kind follows the model type (BPE = RoBERTa, WordPiece
 * = BERT), and a BPE without RoBERTa's `<mask>` is a decoder's (causal; `config`: its tokenizer_config.json).
 */
export function tokenizerFromJson(json: Json, source = 'tokenizer.json', config: Json = {}): Tokenizer {
  const model = json.model as Json | undefined;
  // Older tokenizer.json files (roberta-base's among them) have no `model.type`: infer it as HF does.
  let type = model?.type;
  if (type === undefined && model && typeof model.vocab === 'object' && !Array.isArray(model.vocab)) {
    type = 'merges' in model ? 'BPE' : 'continuing_subword_prefix' in model ? 'WordPiece' : undefined;
  }
  if (type === 'BPE' || type === 'WordPiece') {
    const typed = { ...json, model: { ...model, type } };
    if (type === 'BPE' && !hasToken(typed, ROBERTA_SPECIALS.mask)) return causalTokenizer(typed, config, source);
    // a RoBERTa-style vocabulary under a decoder (lmkernel's pre-trained GPT-2 / Llama): add_bos_token
    // starts causal prompts with <s>
    const addBos = config.add_bos_token === true ? true : undefined;
    return type === 'BPE'
      ? new HfBackedTokenizer('roberta', typed, ROBERTA_SPECIALS, source, false, addBos)
      : new HfBackedTokenizer('bert', typed, BERT_SPECIALS, source);
  }
  throw new InputError(
    source,
    `unsupported tokenizer model type ${JSON.stringify(type)} (expected "BPE" for RoBERTa or "WordPiece" for BERT)`,
  );
}

export function robertaFromVocabMerges(
  vocab: Record<string, number>,
  mergesText: string,
  source = 'vocab.json+merges.txt',
  config: Json = {},
): Tokenizer {
  // GPT-2's own vocab.json + merges.txt: no RoBERTa specials, a causal tokenizer
  if (vocab[ROBERTA_SPECIALS.mask] === undefined) return causalTokenizer(gpt2TokenizerJson(vocab, mergesText), config, source);
  return new HfBackedTokenizer('roberta', robertaTokenizerJson(vocab, mergesText), ROBERTA_SPECIALS, source);
}

export function bertFromVocab(vocabText: string, opts: { lowercase?: boolean } = {}, source = 'vocab.txt'): Tokenizer {
  return new HfBackedTokenizer('bert', bertTokenizerJson(vocabText, opts.lowercase ?? true), BERT_SPECIALS, source);
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(path, `cannot read: ${(e as Error).message}`);
  }
}

function readJson(path: string): Json {
  const text = readText(path);
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    throw new InputError(path, `not valid JSON: ${(e as Error).message}`);
  }
}

export interface LoadTokenizerOptions {
  /** Which files to use when several are present. Default: tokenizer.json, then vocab.json+merges.txt, then vocab.txt. */
  prefer?: 'tokenizer.json' | 'vocab.json' | 'vocab.txt';
  /** BERT from vocab.txt: lower-case and strip accents (uncased models). Default: `do_lower_case` of
   *  tokenizer_config.json when present, else true. */
  lowercase?: boolean;
  /** Hub revision when `dir` is a hub id resolved from the Hugging Face cache (default: the id's `@rev`, else main). */
  revision?: string;
}

/** A folder as given, or a hub id's snapshot in the Hugging Face cache (loadTokenizer is synchronous: no download). */
function tokenizerFolder(dir: string, revision: string | undefined): string {
  const found = cachedModelDir(dir, { revision });
  if (found !== null || existsSync(dir) || parseHubId(dir) === null) return found ?? dir;
  throw new InputError(
    dir,
    `not a folder, and the Hugging Face cache (${hubCacheDir()}) has no snapshot of it: download it first ` +
      `(\`await resolveModelDir('${dir}', { need: 'tokenizer' })\`, or any lmkernel command with --tokenizer ${dir})`,
  );
}

const cache = new Map<string, Tokenizer>();

/**
 * Loads the tokenizer in `dir`, chosen by the files present:
 * `tokenizer.json` (RoBERTa BPE or BERT WordPiece), else `vocab.json` + `merges.txt` (RoBERTa),
 * else `vocab.txt` (BERT). Tokenizers are cached per directory and options. `idOrDir` may be a hub id
 * (`roberta-base`) already in the Hugging Face cache (lib/hub).
 */
export function loadTokenizer(idOrDir: string, opts: LoadTokenizerOptions = {}): Tokenizer {
  const dir = tokenizerFolder(idOrDir, opts.revision);
  const abs = resolve(dir);
  const key = `${abs}\0${opts.prefer ?? ''}\0${opts.lowercase ?? ''}`;
  const hit = cache.get(key);
  if (hit) return hit;
  if (!existsSync(abs)) {
    throw new InputError(
      dir,
      'tokenizer directory does not exist (looked for tokenizer.json, vocab.json + merges.txt, vocab.txt)',
    );
  }
  const has = (f: string) => existsSync(join(abs, f));
  const candidates: Array<() => Tokenizer | null> = [];
  const config = has('tokenizer_config.json') ? readJson(join(abs, 'tokenizer_config.json')) : {};
  const fromJson = () =>
    has('tokenizer.json') ? tokenizerFromJson(readJson(join(abs, 'tokenizer.json')), join(dir, 'tokenizer.json'), config) : null;
  const fromVocabMerges = () =>
    has('vocab.json') && has('merges.txt')
      ? robertaFromVocabMerges(
          readJson(join(abs, 'vocab.json')) as Record<string, number>,
          readText(join(abs, 'merges.txt')),
          join(dir, 'vocab.json'),
          config,
        )
      : null;
  const fromVocabTxt = () => {
    if (!has('vocab.txt')) return null;
    let lowercase = opts.lowercase;
    if (lowercase === undefined && has('tokenizer_config.json')) {
      const cfg = readJson(join(abs, 'tokenizer_config.json'));
      if (typeof cfg.do_lower_case === 'boolean') lowercase = cfg.do_lower_case;
    }
    return bertFromVocab(readText(join(abs, 'vocab.txt')), { lowercase: lowercase ?? true }, join(dir, 'vocab.txt'));
  };
  if (opts.prefer === 'vocab.json') candidates.push(fromVocabMerges, fromJson, fromVocabTxt);
  else if (opts.prefer === 'vocab.txt') candidates.push(fromVocabTxt, fromJson, fromVocabMerges);
  else candidates.push(fromJson, fromVocabMerges, fromVocabTxt);
  for (const c of candidates) {
    const tok = c();
    if (tok) {
      cache.set(key, tok);
      return tok;
    }
  }
  throw new InputError(
    dir,
    'no tokenizer files found: looked for tokenizer.json, vocab.json + merges.txt (RoBERTa), vocab.txt (BERT)',
  );
}
