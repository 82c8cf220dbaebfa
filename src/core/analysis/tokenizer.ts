/**
 * Tokenizer lookups on GGUF metadata: a token by id, or ids whose text contains a query, paging the array from the
 * file. Queries are written as the user means them and searched as the tokenizer stores its tokens:
 * - SentencePiece (`tokenizer.ggml.model` llama, t5) stores a space as `▁` (U+2581);
 * - GPT-2 byte-level BPE (`gpt2`) stores each UTF-8 byte as one character of its byte-to-unicode table: a space
 *   is `Ġ`, a newline `Ċ`, `é` is `Ã©`.
 * Results carry the stored text and the text it stands for.
 */
import type { ArrayValue, Model } from '../model.ts';
import { readArrayPage } from '../formats/gguf.ts';
import { metadataValue } from './summary.ts';
import { quoteText } from '../errors.ts';

const PAGE = 4096;
const TOKENS_KEY = 'tokenizer.ggml.tokens';
/** Results a lookup returns at most (the total is still counted). */
export const TOKEN_LOOKUP_LIMIT = 50;

/** How a tokenizer writes text in its token strings. */
export type TokenSpelling = 'sentencepiece' | 'byte-level' | 'plain';

/** From `tokenizer.ggml.model`: llama.cpp's SPM and UGM vocabularies use `▁`, its BPE vocabularies are byte-level. */
export function tokenSpelling(model: Model): TokenSpelling {
  const kind = metadataValue(model, 'tokenizer.ggml.model');
  if (kind === 'llama' || kind === 't5') return 'sentencepiece';
  if (kind === 'gpt2') return 'byte-level';
  return 'plain';
}

/**
 * GPT-2's byte-to-unicode table: the printable bytes `!`..`~`, `¡`..`¬` and `®`..`ÿ` stand for themselves; the
 * other 68 bytes, in byte order, are U+0100, U+0101, ... (so 0x20, the 33rd of them, is U+0120 `Ġ`).
 */
const BYTE_TO_CHAR: string[] = (() => {
  const table = new Array<string>(256);
  let next = 0x100;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : next++);
  }
  return table;
})();
const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** The text as the tokenizer stores it. */
export function spellAsStored(spelling: TokenSpelling, text: string): string {
  if (spelling === 'sentencepiece') return text.replace(/ /g, '▁');
  if (spelling === 'byte-level') return [...new TextEncoder().encode(text)].map((b) => BYTE_TO_CHAR[b]).join('');
  return text;
}

/**
 * The text a stored token stands for: `▁` read as a space (SentencePiece); byte-level characters read back as
 * bytes and decoded as UTF-8, with `\xNN` for bytes that are not whole UTF-8 characters (a token may hold part of one).
 * A token with characters outside the byte table (a special token such as `<|im_start|>` in some vocabularies) is
 * shown as stored.
 */
export function tokenText(spelling: TokenSpelling, stored: string): string {
  if (spelling === 'sentencepiece') return stored.replace(/▁/g, ' ');
  if (spelling !== 'byte-level') return stored;
  const bytes: number[] = [];
  for (const c of stored) {
    const b = CHAR_TO_BYTE.get(c);
    if (b === undefined) return stored;
    bytes.push(b);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return decodeLoosely(bytes);
  }
}

/** UTF-8 with every byte that does not begin a whole valid character written `\xNN`. */
function decodeLoosely(bytes: number[]): string {
  const strict = new TextDecoder('utf-8', { fatal: true });
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len && i + len <= bytes.length) {
      try {
        out += strict.decode(Uint8Array.from(bytes.slice(i, i + len)));
        i += len;
        continue;
      } catch {
        // not a whole character: fall through to the escape
      }
    }
    out += `\\x${b.toString(16).padStart(2, '0')}`;
    i++;
  }
  return out;
}

function tokensArray(model: Model): ArrayValue | undefined {
  const v = metadataValue(model, TOKENS_KEY);
  return typeof v === 'object' && v !== null && (v as ArrayValue).kind === 'array' ? (v as ArrayValue) : undefined;
}

export interface TokenMatch {
  id: number;
  /** As stored in tokenizer.ggml.tokens. */
  text: string;
  /** What it stands for (see tokenText); the same as `text` for plain vocabularies. */
  decoded: string;
}

export interface TokenLookup {
  query: string;
  /** The query as the tokenizer spells it, as searched. */
  searched: string;
  matches: TokenMatch[];
  /** How many tokens match in all; more than `matches.length` when the results were capped. */
  total: number;
  /** Why there is no result (a bad id, no vocabulary, an empty query), in one line. */
  problem?: string;
}

export async function tokenById(model: Model, id: number): Promise<TokenMatch | undefined> {
  const arr = tokensArray(model);
  if (!arr || !Number.isInteger(id) || id < 0 || id >= arr.length) return undefined;
  const [text] = await readArrayPage(model.files[arr.fileIndex].source, arr, id, 1);
  return { id, text: String(text), decoded: tokenText(tokenSpelling(model), String(text)) };
}

/**
 * What the editor's token lookup shows for a query: a whole number is an id; other text is searched in the
 * tokens, exact matches first, at most `limit` of them, with the total counted over the whole vocabulary.
 */
export async function lookupTokens(model: Model, query: string, limit = TOKEN_LOOKUP_LIMIT): Promise<TokenLookup> {
  const arr = tokensArray(model);
  const none = (problem: string, searched = query): TokenLookup => ({ query, searched, matches: [], total: 0, problem });
  if (!arr) return none(`this model has no ${TOKENS_KEY}`);
  if (query === '') return none('type a token text or an id');
  if (/^\s*\d+\s*$/.test(query)) {
    const id = Number(query.trim());
    const token = await tokenById(model, id);
    if (!token) return none(`no token has id ${query.trim()}: ids are 0 to ${(arr.length - 1).toLocaleString('en-US')}`);
    return { query, searched: query.trim(), matches: [token], total: 1 };
  }
  const spelling = tokenSpelling(model);
  const searched = spellAsStored(spelling, query);
  const exact: TokenMatch[] = [];
  const partial: TokenMatch[] = [];
  let total = 0;
  for (let start = 0; start < arr.length; start += PAGE) {
    const page = await readArrayPage(model.files[arr.fileIndex].source, arr, start, PAGE);
    page.forEach((t, i) => {
      const text = String(t);
      if (!text.includes(searched)) return;
      total++;
      const match = { id: start + i, text, decoded: '' };
      if (text === searched) exact.push(match);
      else if (partial.length < limit) partial.push(match);
    });
  }
  const matches = [...exact, ...partial].slice(0, limit);
  for (const m of matches) m.decoded = tokenText(spelling, m.text);
  return { query, searched, matches, total };
}

/** Tokens whose text contains `query` as stored (exact matches first), at most `limit`. */
export async function findTokens(model: Model, query: string, limit = TOKEN_LOOKUP_LIMIT): Promise<TokenMatch[]> {
  return (await lookupTokens(model, query, limit)).matches;
}

/** A page of tokens for the metadata view. */
export async function tokenPage(model: Model, start: number, count: number): Promise<TokenMatch[]> {
  const arr = tokensArray(model);
  if (!arr) return [];
  const spelling = tokenSpelling(model);
  const page = await readArrayPage(model.files[arr.fileIndex].source, arr, start, count);
  return page.map((t, i) => ({ id: start + i, text: String(t), decoded: tokenText(spelling, String(t)) }));
}

/** `tokenizer.ggml.bos_token_id`, `eos_`, `padding_`, `unknown_`, `seperator_` ... (llama.cpp's key names). */
const SPECIAL_TOKEN_KEY = /^tokenizer\.ggml\.[a-z_]+_token_id$/;

/**
 * The text of each special token id the metadata names (bos, eos, padding, unknown ...), by key: the stored token
 * quoted (quoteText), or why it has none (an id outside the vocabulary).
 */
export async function specialTokenTexts(model: Model): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const arr = tokensArray(model);
  if (!arr) return out;
  for (const m of model.metadata) {
    if (!SPECIAL_TOKEN_KEY.test(m.key)) continue;
    const id = typeof m.value === 'bigint' ? Number(m.value) : m.value;
    if (typeof id !== 'number') continue;
    const token = await tokenById(model, id);
    out.set(m.key, token ? quoteText(token.text) : `not in the vocabulary of ${arr.length.toLocaleString('en-US')} tokens`);
  }
  return out;
}
