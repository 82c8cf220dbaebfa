/**
 * Writes safetensors files: 8-byte header length, JSON header padded with spaces to 8 bytes, contiguous data.
 * Input the reader would refuse (formats/safetensors.ts: the reference's rules) is refused here, so a file
 * written here always opens.
 */
import { QuantLensError } from '../errors.ts';
import { SAFETENSORS_DTYPES } from '../types.ts';
import { MAX_HEADER_BYTES } from './safetensors.ts';
import { quoteForMessage } from './strictJson.ts';

export interface SafetensorsTensorOut {
  name: string;
  dtype: string;
  /** Row-major, outermost first. */
  shape: number[];
  data: Uint8Array;
}

/** A lone UTF-16 surrogate has no UTF-8 form; JSON.stringify would write it as an escape the reader refuses. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function refuse(message: string): never {
  throw new QuantLensError('invalid-value', `cannot write safetensors: ${message}`);
}

function checkText(what: string, s: unknown): void {
  if (typeof s !== 'string') refuse(`${what} is not a string`);
  if (LONE_SURROGATE.test(s as string)) refuse(`${what} ${quoteForMessage(s as string)} holds a lone surrogate, which UTF-8 cannot encode`);
}

export function buildSafetensorsHeader(
  tensors: { name: string; dtype: string; shape: number[]; nbytes: number }[],
  metadata?: Record<string, string>,
): Uint8Array {
  const members: string[] = [];
  const metadataEntries = Object.entries(metadata ?? {});
  if (metadataEntries.length) {
    for (const [k, v] of metadataEntries) {
      checkText('a metadata key', k);
      checkText(`metadata value of ${quoteForMessage(k)}`, v);
    }
    members.push(`"__metadata__":{${metadataEntries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  const names = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    checkText('a tensor name', t.name);
    const tensor = `tensor ${quoteForMessage(t.name)}`;
    if (t.name === '__metadata__') refuse(`a tensor may not be named __metadata__`);
    if (names.has(t.name)) refuse(`${tensor} appears twice`);
    names.add(t.name);
    const type = SAFETENSORS_DTYPES.get(t.dtype);
    if (!type) refuse(`${tensor}: dtype ${quoteForMessage(String(t.dtype))} is not a safetensors dtype`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      refuse(`${tensor}: shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`);
    // Every partial product must be exact, as the reader checks.
    const nElements = t.shape.reduce((a, d) => (Number.isSafeInteger(a * d) ? a * d : NaN), 1);
    if (!Number.isNaN(nElements) && nElements % type!.blockSize !== 0)
      refuse(`${tensor}: ${nElements} ${t.dtype} elements do not end on a byte boundary`);
    const nbytes = (nElements / type!.blockSize) * type!.bytesPerBlock;
    if (nbytes !== t.nbytes)
      refuse(
        `${tensor}: ${t.dtype} ${JSON.stringify(t.shape)} needs ${Number.isNaN(nbytes) ? 'more than 2^53' : nbytes} bytes, not ${t.nbytes}`,
      );
    members.push(
      `${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + nbytes}]}`,
    );
    offset += nbytes;
  }
  let json = `{${members.join(',')}}`;
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const body = new TextEncoder().encode(json);
  if (body.length > MAX_HEADER_BYTES)
    refuse(`the header would be ${body.length} bytes, over the ${MAX_HEADER_BYTES}-byte limit readers enforce`);
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(body.length), true);
  out.set(body, 8);
  return out;
}

export function buildSafetensorsFile(tensors: SafetensorsTensorOut[], metadata?: Record<string, string>): Uint8Array {
  const header = buildSafetensorsHeader(
    tensors.map((t) => ({ ...t, nbytes: t.data.length })),
    metadata,
  );
  const out = new Uint8Array(header.length + tensors.reduce((a, t) => a + t.data.length, 0));
  out.set(header);
  let at = header.length;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.length;
  }
  return out;
}
