// Decoder-only LMs' tokenizers (GPT-2, Llama, Qwen2, SmolLM): a BPE tokenizer.json (or GPT-2's own
// vocab.json + merges.txt) without RoBERTa's `<mask>`. The special tokens come from tokenizer_config.json
// (bos_token, eos_token, unk_token, pad_token: a string or {content}), else from the tokenizer.json's
// post-processor and GPT-2's `<|endoftext|>`; a missing one has the id -1 and is never emitted.
// `addBos` (a causal prompt starts with BOS) is tokenizer_config.json's add_bos_token, else whether the
// tokenizer.json's post-processor puts a special token before a single sequence (Llama's `<s>`).
import { HfBackedTokenizer, byteLevelBpeJson, type SpecialNames, type Tokenizer } from './tokenizer.js';

type Json = Record<string, unknown>;

const GPT2_EOT = '<|endoftext|>';

/** Whether the tokenizer.json object has `token` in its vocabulary or its added tokens. */
export function hasToken(json: Json, token: string): boolean {
  const model = json.model as Json | undefined;
  const vocab = model?.vocab;
  if (vocab && typeof vocab === 'object' && !Array.isArray(vocab) && (vocab as Json)[token] !== undefined) return true;
  const added = json.added_tokens;
  return Array.isArray(added) && added.some((t) => (t as Json | null)?.content === token);
}

function tokenName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return undefined;
}

/** The special token a TemplateProcessing post-processor (alone or in a Sequence) puts first. */
function templateBos(json: Json): string | undefined {
  const pp = json.post_processor as Json | null | undefined;
  if (!pp) return undefined;
  const procs = pp.type === 'Sequence' && Array.isArray(pp.processors) ? (pp.processors as Json[]) : [pp];
  for (const p of procs) {
    if (p?.type !== 'TemplateProcessing' || !Array.isArray(p.single)) continue;
    const first = (p.single as Json[])[0]?.SpecialToken as Json | undefined;
    if (first && typeof first.id === 'string') return first.id;
  }
  return undefined;
}

/** Whether the normaliser or pre-tokenizer prefixes every text with ▁ (Llama's SentencePiece-style BPE). */
function prefixesSpace(json: Json): boolean {
  const norm = json.normalizer as Json | null | undefined;
  const norms = norm?.type === 'Sequence' && Array.isArray(norm.normalizers) ? (norm.normalizers as Json[]) : norm ? [norm] : [];
  if (norms.some((n) => n?.type === 'Prepend' && n.prepend === '\u2581')) return true;
  const pre = json.pre_tokenizer as Json | null | undefined;
  return pre?.type === 'Metaspace' && (pre.prepend_scheme === 'always' || pre.add_prefix_space === true);
}

/**
 * A causal tokenizer from a BPE tokenizer.json object and the folder's tokenizer_config.json object. For a
 * SentencePiece-style vocabulary, whose normaliser writes a text's leading space as the ▁ it prefixes
 * anyway, one leading space of a text is dropped before encoding (" It was" → ▁It ▁was, not ▁ ▁It ▁was).
 */
export function causalTokenizer(json: Json, config: Json, source: string): Tokenizer {
  const fallback = (name: string) => (hasToken(json, GPT2_EOT) ? GPT2_EOT : name);
  const eos = tokenName(config.eos_token) ?? fallback('</s>');
  const bos = tokenName(config.bos_token) ?? templateBos(json) ?? fallback('<s>');
  const names: SpecialNames = {
    cls: bos,
    sep: eos,
    mask: '<mask>',
    pad: tokenName(config.pad_token) ?? eos,
    unk: tokenName(config.unk_token) ?? fallback('<unk>'),
  };
  const addBos = typeof config.add_bos_token === 'boolean' ? config.add_bos_token : templateBos(json) !== undefined;
  return new HfBackedTokenizer('causal', json, names, source, true, addBos, prefixesSpace(json));
}

/** GPT-2's tokenizer.json object from its vocab.json object and merges.txt text (as the hub's gpt2 has it). */
export function gpt2TokenizerJson(vocab: Record<string, number>, mergesText: string): Json {
  const added =
    vocab[GPT2_EOT] === undefined
      ? []
      : [
          {
            id: vocab[GPT2_EOT],
            content: GPT2_EOT,
            single_word: false,
            lstrip: false,
            rstrip: false,
            normalized: true,
            special: true,
          },
        ];
  return byteLevelBpeJson(vocab, mergesText, added, null);
}
