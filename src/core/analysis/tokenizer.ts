/** Tokenizer lookups on GGUF metadata: a token by id, or ids whose text contains a query, paging the array from the file. */
import type { ArrayValue, Model } from '../model.ts';
import { readArrayPage } from '../formats/gguf.ts';
import { metadataValue } from './summary.ts';

const PAGE = 4096;

function tokensArray(model: Model): ArrayValue | undefined {
  const v = metadataValue(model, 'tokenizer.ggml.tokens');
  return typeof v === 'object' && v !== null && (v as ArrayValue).kind === 'array' ? (v as ArrayValue) : undefined;
}

export interface TokenMatch {
  id: number;
  text: string;
}

export async function tokenById(model: Model, id: number): Promise<TokenMatch | undefined> {
  const arr = tokensArray(model);
  if (!arr || !Number.isInteger(id) || id < 0 || id >= arr.length) return undefined;
  const [text] = await readArrayPage(model.files[arr.fileIndex].source, arr, id, 1);
  return { id, text: String(text) };
}

/** Tokens whose text contains `query` (exact matches first), at most `limit`. */
export async function findTokens(model: Model, query: string, limit = 50): Promise<TokenMatch[]> {
  const arr = tokensArray(model);
  if (!arr || query === '') return [];
  const exact: TokenMatch[] = [];
  const partial: TokenMatch[] = [];
  for (let start = 0; start < arr.length && exact.length + partial.length < 10 * limit; start += PAGE) {
    const page = await readArrayPage(model.files[arr.fileIndex].source, arr, start, PAGE);
    page.forEach((t, i) => {
      const text = String(t);
      if (text === query) exact.push({ id: start + i, text });
      else if (text.includes(query)) partial.push({ id: start + i, text });
    });
  }
  return [...exact, ...partial].slice(0, limit);
}

/** A page of tokens for the metadata view. */
export async function tokenPage(model: Model, start: number, count: number): Promise<TokenMatch[]> {
  const arr = tokensArray(model);
  if (!arr) return [];
  const page = await readArrayPage(model.files[arr.fileIndex].source, arr, start, count);
  return page.map((t, i) => ({ id: start + i, text: String(t) }));
}
