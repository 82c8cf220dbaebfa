/** Metadata as plain JSON, in the corpus's expected.json shapes (64-bit integers as decimal strings, non-finite floats as strings). */
import type { ArrayValue, MetadataEntry, Model, ScalarValue } from '../model.ts';
import { readArrayPage } from '../formats/gguf.ts';
import { quoteText } from '../errors.ts';

/** Arrays up to this length are listed whole; longer ones show their first HEAD_LENGTH elements. */
export const LIST_WHOLE_ARRAY = 32;
export const HEAD_LENGTH = 5;

export function scalarToJson(v: ScalarValue): string | number | boolean {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

export interface KvJson {
  key: string;
  type: string;
  value?: unknown;
  array_type?: string;
  length?: number;
  values?: unknown[];
  head?: unknown[];
}

function isArray(v: MetadataEntry['value']): v is ArrayValue {
  return typeof v === 'object' && v !== null && (v as ArrayValue).kind === 'array';
}

async function arrayToJson(model: Model, arr: ArrayValue): Promise<Pick<KvJson, 'array_type' | 'length' | 'values' | 'head'>> {
  const whole = arr.length <= LIST_WHOLE_ARRAY;
  const count = whole ? arr.length : HEAD_LENGTH;
  let items: unknown[];
  if (arr.elementType === 'ARRAY') {
    items = await Promise.all(
      (arr.values ?? []).slice(0, count).map(async (v) => ({ type: 'ARRAY', ...(await arrayToJson(model, v as ArrayValue)) })),
    );
  } else {
    const page = await readArrayPage(model.files[arr.fileIndex].source, arr, 0, count);
    items = page.map(scalarToJson);
  }
  return { array_type: arr.elementType, length: arr.length, ...(whole ? { values: items } : { head: items }) };
}

/** One metadata entry as JSON. */
export async function entryToJson(model: Model, m: MetadataEntry): Promise<KvJson> {
  if (isArray(m.value)) return { key: m.key, type: m.type, ...(await arrayToJson(model, m.value)) };
  return { key: m.key, type: m.type, value: scalarToJson(m.value) };
}

export async function metadataToJson(model: Model): Promise<KvJson[]> {
  const out: KvJson[] = [];
  for (const m of model.metadata) out.push(await entryToJson(model, m));
  return out;
}

/**
 * One metadata value as one line of text, escaped and bounded (at most about `maxLength` characters): strings
 * as JSON string literals, cut with their full length shown (`"abc…" (104857600 chars)`); arrays summarised by
 * type, length and their first elements.
 */
export function describeValue(v: MetadataEntry['value'], maxLength = 80): string {
  if (isArray(v)) {
    let shown = '';
    const elements = v.values ?? [];
    let i = 0;
    for (; i < Math.min(elements.length, 8); i++) {
      const x = elements[i];
      const text = isArray(x) ? `[${x.length}]` : typeof x === 'string' ? quoteText(x, 40) : String(scalarToJson(x));
      if (shown.length + text.length > maxLength) break;
      shown += (i ? ', ' : '') + text;
    }
    return `[${v.elementType} x ${v.length}]${i ? ` ${shown}${v.length > i ? ', ...' : ''}` : ''}`;
  }
  return typeof v === 'string' ? quoteText(v, maxLength) : String(scalarToJson(v));
}
