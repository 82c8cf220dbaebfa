/** Writes safetensors files: 8-byte header length, JSON header padded with spaces to 8 bytes, contiguous data. */
export interface SafetensorsTensorOut {
  name: string;
  dtype: string;
  /** Row-major, outermost first. */
  shape: number[];
  data: Uint8Array;
}

export function buildSafetensorsHeader(tensors: { name: string; dtype: string; shape: number[]; nbytes: number }[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.nbytes] };
    offset += t.nbytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const body = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(body.length), true);
  out.set(body, 8);
  return out;
}

export function buildSafetensorsFile(tensors: SafetensorsTensorOut[], metadata?: Record<string, string>): Uint8Array {
  const header = buildSafetensorsHeader(tensors.map((t) => ({ ...t, nbytes: t.data.length })), metadata);
  const out = new Uint8Array(header.length + tensors.reduce((a, t) => a + t.data.length, 0));
  out.set(header);
  let at = header.length;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.length;
  }
  return out;
}
