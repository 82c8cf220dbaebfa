/**
 * Writes test/fixtures/ggml-edge/ from ggml itself: runs scripts/ggml-edge/ggml-dequant.c (compiled against
 * libggml-base.so, see test/fixtures/ggml-edge/PROVENANCE.md) for the binary16 and bfloat16 tables and for every
 * edge block of scripts/ggml-edge/cases.ts, and stores the tables (brotli) and one hash per block.
 *
 *   node --import tsx scripts/ggml-edge/generate.ts /path/to/ggml-dequant "<package@version>"
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';
import { blockHash, edgeTypes, HASH_HEX_DIGITS } from './cases.ts';
import { ggmlType } from '../../src/core/types.ts';

const [binary, source] = process.argv.slice(2);
if (!binary || !source) {
  console.error('usage: generate.ts /path/to/ggml-dequant "<package@version>"');
  process.exit(1);
}
const outDir = join(import.meta.dirname, '../../test/fixtures/ggml-edge');

function run(args: string[], input?: Uint8Array): Buffer {
  const r = spawnSync(binary, args, { input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${binary} ${args.join(' ')} failed: ${r.stderr.toString().trim()}`);
  return r.stdout;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const types = edgeTypes();
// ggml's own block sizes and to_float presence must be what the cases assume
for (const line of run(['types', ...types.map((t) => String(t.ggmlId))])
  .toString()
  .trim()
  .split('\n')) {
  const [id, name, blockSize, typeSize, hasToFloat] = line.split(' ');
  const mine = ggmlType(Number(id))!;
  if (name !== mine.ggmlName || Number(blockSize) !== mine.blockSize || Number(typeSize) !== mine.bytesPerBlock || hasToFloat !== '1') {
    throw new Error(`ggml's type ${id} (${line}) is not Quant Lens's ${mine.name}`);
  }
}

mkdirSync(outDir, { recursive: true });
const tables: Record<string, { file: string; sha256: string }> = {};
for (const table of ['f16', 'bf16']) {
  const bits = run([table]);
  if (bits.length !== 65536 * 4) throw new Error(`${table} table has ${bits.length} bytes`);
  const file = `${table}-to-f32.bin.br`;
  const params = { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24 };
  writeFileSync(join(outDir, file), brotliCompressSync(bits, { params }));
  tables[table] = { file, sha256: sha256(bits) };
}

const records: Buffer[] = [];
for (const t of types) {
  for (const c of t.cases) {
    const head = Buffer.alloc(8);
    head.writeInt32LE(t.ggmlId, 0);
    head.writeInt32LE(1, 4);
    records.push(head, Buffer.from(c.bytes));
  }
}
const floats = run(['dequant'], Buffer.concat(records));

const expected: Record<string, { ggmlId: number; cases: number; hashes: string }> = {};
let at = 0;
for (const t of types) {
  const bytesOut = ggmlType(t.ggmlId)!.blockSize * 4;
  let hashes = '';
  for (let i = 0; i < t.cases.length; i++, at += bytesOut) hashes += blockHash(floats.subarray(at, at + bytesOut));
  expected[t.name] = { ggmlId: t.ggmlId, cases: t.cases.length, hashes };
}
if (at !== floats.length) throw new Error(`ggml wrote ${floats.length} bytes, expected ${at}`);

writeFileSync(
  join(outDir, 'expected.json'),
  JSON.stringify({ source, hashHexDigits: HASH_HEX_DIGITS, tables, types: expected }, null, 1) + '\n',
);
console.log(
  Object.entries(expected)
    .map(([n, e]) => `${n} ${e.cases}`)
    .join(', '),
);
