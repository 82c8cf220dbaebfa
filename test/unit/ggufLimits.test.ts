/**
 * Header memory and time (issue 16): a valid GGUF with a million metadata keys, a few hundred thousand tensor
 * entries, or one very long string opens quickly, and the opened model keeps at most a small multiple of the
 * header's size. Each file is written here byte by byte from the GGUF layout (not with the project's writer) and
 * opened in a child process (test/helpers/ggufHeaderMemory.ts) that measures memory after gc.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The opened model may keep at most this many bytes per header byte (measured after the fix: see the report). */
const MAX_RETAINED_RATIO = 10;

const dir = mkdtempSync(join(tmpdir(), 'ql-gguf-limits-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Little-endian byte builder with a fixed capacity. */
class Bytes {
  readonly buf: Uint8Array;
  private readonly view: DataView;
  length = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }
  u8(v: number) {
    this.buf[this.length++] = v;
  }
  u32(v: number) {
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number) {
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  ascii(s: string) {
    this.u64(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.length++] = s.charCodeAt(i);
  }
  fixedHeader(tensors: number, keys: number) {
    this.u32(0x46554747);
    this.u32(3);
    this.u64(tensors);
    this.u64(keys);
  }
}

const UINT8 = 0;
const STRING = 8;
const GGML_F32 = 0;

interface Measured {
  entries: number;
  retained: number;
  maxRssGrowth: number;
  ms: number;
}

function openInChild(name: string, bytes: Uint8Array): Measured {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', join(import.meta.dirname, '../helpers/ggufHeaderMemory.ts'), path],
    { encoding: 'utf8' },
  );
  rmSync(path);
  return JSON.parse(out.trim().split('\n').pop()!);
}

function check(what: string, headerBytes: number, expectedEntries: number, m: Measured): void {
  const ratio = m.retained / headerBytes;
  const line = `${what}: header ${headerBytes} bytes, opened in ${m.ms} ms, retains ${m.retained} bytes (${ratio.toFixed(2)}x), peak RSS growth ${(m.maxRssGrowth / headerBytes).toFixed(2)}x`;
  console.log(line);
  assert.equal(m.entries, expectedEntries, line);
  assert.ok(ratio <= MAX_RETAINED_RATIO, line);
}

test('1 M metadata keys: opens, retaining at most a small multiple of the header', () => {
  const n = 1_000_000;
  const b = new Bytes(24 + n * 32);
  b.fixedHeader(0, n);
  for (let i = 0; i < n; i++) {
    b.ascii(`key.${i}`);
    b.u32(UINT8);
    b.u8(i & 0xff);
  }
  check('1 M keys', b.length, n, openInChild('keys.gguf', b.buf.subarray(0, b.length)));
});

test('200 k tensor entries: opens, retaining at most a small multiple of the header', () => {
  const n = 200_000;
  // F32 tensors of 8 elements (32 bytes: each ends where the next, aligned to 32, begins).
  const b = new Bytes(24 + n * 48 + 32 + n * 32);
  b.fixedHeader(n, 0);
  for (let i = 0; i < n; i++) {
    b.ascii(`blk.${i}.w`);
    b.u32(1);
    b.u64(8);
    b.u32(GGML_F32);
    b.u64(i * 32);
  }
  const headerBytes = b.length;
  b.length = Math.ceil(b.length / 32) * 32 + n * 32;
  check('200 k tensors', headerBytes, n, openInChild('tensors.gguf', b.buf.subarray(0, b.length)));
});

test('a 32 MB general.name: read once, not copied many times', () => {
  const n = 32 << 20;
  const b = new Bytes(24 + 32 + n);
  b.fixedHeader(0, 1);
  b.ascii('general.name');
  b.u32(STRING);
  b.u64(n);
  b.buf.fill(0x61, b.length, b.length + n);
  b.length += n;
  check('32 MB string', b.length, 1, openInChild('string.gguf', b.buf));
});
