/**
 * Nothing from a file reaches a terminal, a report or the editor unescaped or unbounded: error messages, `info`,
 * the text dump (and its outline and grammar), the CSV and Markdown reports, on files whose names and values hold
 * control characters, `../`, bidi overrides, CJK, emoji, combining marks, `|`, formulas, `<script>` and megabytes.
 * The files are written byte by byte here; every expected line is computed here from the escaping rules.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { QuantLensError, escapeText, oneLine, quoteText, showText } from '../../src/core/errors.ts';
import { openModel } from '../../src/core/formats/openModel.ts';
import { computeTensorStats } from '../../src/core/analysis/tensorStats.ts';
import { compareModels } from '../../src/core/compare/compare.ts';
import { buildReport } from '../../src/core/report/report.ts';
import { dumpModel, dumpOutline } from '../../src/core/report/textDump.ts';

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'cli.ts');
const GRAMMAR = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'syntaxes', 'quantlens-dump.tmLanguage.json'), 'utf8'));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// ---- The rules, written out independently of src/core/errors.ts ----

/** C0, DEL, C1, U+2028/2029, the bidi embeddings/overrides/isolates, and (lone) surrogates. */
const unsafe = (cp: number) =>
  cp <= 0x1f ||
  (cp >= 0x7f && cp <= 0x9f) ||
  cp === 0x2028 ||
  cp === 0x2029 ||
  (cp >= 0x202a && cp <= 0x202e) ||
  (cp >= 0x2066 && cp <= 0x2069) ||
  (cp >= 0xd800 && cp <= 0xdfff);
/** Any unsafe character except the newline that separates lines. */
const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** One character as messages and text output show it. */
function escapeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  if (!unsafe(cp)) return ch;
  if (cp === 10) return '\\n';
  if (cp === 13) return '\\r';
  if (cp === 9) return '\\t';
  return cp < 0x100 ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
}
const esc = (s: string) => [...s].map(escapeChar).join('');
const chars = (s: string) => [...s].length;

/** The escaped characters that fit in `max` (an escape counts its length), and whether that is all of `s`. */
function prefix(s: string, max: number, piece: (ch: string) => string): { body: string; whole: boolean } {
  let body = '';
  let width = 0;
  for (const ch of s) {
    const p = piece(ch);
    width += p === ch ? 1 : p.length;
    if (width > max) return { body, whole: false };
    body += p;
  }
  return { body, whole: true };
}
/** Escaped, at most `max` characters shown, then "… (N chars)". */
function shown(s: string, max: number): string {
  const { body, whole } = prefix(s, max, escapeChar);
  return whole ? body : `${body}… (${chars(s)} chars)`;
}
/** A JSON string literal with DEL, C1, separators and bidi controls escaped too (\uXXXX), cut like `shown`. */
function jsonPiece(ch: string): string {
  const cp = ch.codePointAt(0)!;
  return unsafe(cp) && cp > 0x1f && cp < 0xd800 ? `\\u${cp.toString(16).padStart(4, '0')}` : JSON.stringify(ch).slice(1, -1);
}
function quoted(s: string, max: number): string {
  const { body, whole } = prefix(s, max, jsonPiece);
  return whole ? `"${body}"` : `"${body}…" (${chars(s)} chars)`;
}

const PLAIN = /^[\p{L}\p{N}_][\p{L}\p{M}\p{N}_.:\/+\-]*$/u;
/** The dump writes plain names bare, others as JSON string literals, cut after 200 characters. */
const dumpName = (s: string) => (s.length <= 200 && PLAIN.test(s) ? s : quoted(s, 200));
/** Markdown: escaped text, `\`*_[]#|~` and a leading -+= backslash-escaped, <>& as entities. */
const mdText = (s: string) =>
  shown(s, 200)
    .replace(/[\\`*_[\]#|~]/g, (c) => `\\${c}`)
    .replace(/^[-+=]/, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
const mdName = (s: string) => (s.length <= 200 && PLAIN.test(s) ? `\`${s}\`` : mdText(s));

// ---- Files written by hand ----

function u32(v: number) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}
function u64(v: number) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}
function str(s: string) {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([u64(b.length), b]);
}

type Kv = { key: string; value: string | string[] };
/** A GGUF v3 file: string (or string array) metadata, F32 tensors of the given values, alignment 32. */
function gguf(kvs: Kv[], tensors: { name: string; values: number[]; nDims?: number }[]): Buffer {
  const parts = [Buffer.from('GGUF'), u32(3), u64(tensors.length), u64(kvs.length)];
  for (const kv of kvs) {
    parts.push(str(kv.key));
    if (typeof kv.value === 'string') parts.push(u32(8), str(kv.value));
    else parts.push(u32(9), u32(8), u64(kv.value.length), ...kv.value.map(str));
  }
  let offset = 0;
  for (const t of tensors) {
    const nDims = t.nDims ?? 1;
    parts.push(str(t.name), u32(nDims), ...(nDims ? [u64(t.values.length)] : []), u32(0), u64(offset));
    offset += Math.ceil((4 * t.values.length) / 32) * 32;
  }
  let header = Buffer.concat(parts);
  header = Buffer.concat([header, Buffer.alloc((32 - (header.length % 32)) % 32)]);
  const data = Buffer.alloc(offset);
  offset = 0;
  for (const t of tensors) {
    t.values.forEach((v, i) => data.writeFloatLE(v, offset + 4 * i));
    offset += Math.ceil((4 * t.values.length) / 32) * 32;
  }
  return Buffer.concat([header, data]);
}

/** A safetensors file of F32 tensors (names may be anything JSON can hold). */
function safetensors(tensors: { name: string; values: number[]; dtype?: string }[]): Buffer {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype ?? 'F32', shape: [t.values.length], data_offsets: [offset, offset + 4 * t.values.length] };
    offset += 4 * t.values.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const data = Buffer.alloc(offset);
  let at = 0;
  for (const t of tensors) for (const v of t.values) (data.writeFloatLE(v, at), (at += 4));
  return Buffer.concat([u64(Buffer.byteLength(json)), Buffer.from(json), data]);
}

const VALUES = [-1.5, 2, -0.25, 0];
/** Tensor names legal in GGUF (under 64 bytes, distinct), each trying to break an output. */
const NAMES = [
  'blk.0.attn_q.weight',
  'x\n== tensors (9)\n-- block 7',
  'fake\n-- global\n    stats min=0',
  '\x1b[31mred\x1b[0m\r',
  '../../etc/passwd',
  '\u202eevil\u202c.txt',
  '\u2067iso\u2069',
  '模型.权重',
  '😀.weight',
  'e\u0301.weight',
  'a|b',
  "=cmd|' /C calc'!A0",
  '<script>alert(1)</script>',
  '+SUM(1)',
  '-2+3',
  '@x',
  '\tTab',
  '\rCR',
  'a,b"c',
  'x\u0085y',
  '\x7fdel',
  'sep\u2028line',
  '`tick`',
  '# heading',
  '-- block 9',
  '\\x1b literal',
  'nul\u0000byte',
];
const GENERAL_NAME = '<script>alert(1)</script>\n' + 'n'.repeat(1 << 20);
const KVS: Kv[] = [
  { key: 'general.architecture', value: 'llama' },
  { key: 'general.name', value: GENERAL_NAME },
  { key: '\x1b]0;pwned\x07.key', value: 'v' },
  { key: 'bidi\u202e.key', value: 'x\u202ey' },
  { key: 'crlf.key', value: 'line1\r\nline2' },
  { key: 'strs.key', value: ['a\nb', '\x1b[0m', '<b>'] },
];

const dir = mkdtempSync(join(tmpdir(), 'ql-outputs-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** The GGUF's own file name has a pipe, backticks and a newline. */
const ggufPath = join(dir, 'we|ird `name`\n.gguf');
writeFileSync(
  ggufPath,
  gguf(
    KVS,
    NAMES.map((name) => ({ name, values: VALUES })),
  ),
);
const LONG_NAMES = ['L'.repeat(5000), '\u202e'.repeat(200)];
const longPath = join(dir, 'long.safetensors');
writeFileSync(longPath, safetensors(LONG_NAMES.map((name) => ({ name, values: [1, -2] }))));

for (const name of NAMES) assert.ok(Buffer.byteLength(name) < 64, `${JSON.stringify(name)} fits GGML_MAX_NAME`);

// ---- Messages ----

test('error messages and shown text: control characters, DEL, C1, bidi controls, separators and lone surrogates are escaped, one by one', () => {
  assert.equal(
    new QuantLensError('invalid-value', 'tensor \x1b[31mred\x1b[0m\r at byte 7').message,
    'tensor \\x1b[31mred\\x1b[0m\\r at byte 7',
  );
  assert.equal(
    new QuantLensError('invalid-value', 'key a\nb\tc\u0000 \x7f\u0085\u009b \u202e\u2066\u2069 \u2028 \ud800!').message,
    'key a\\nb\\tc\\x00 \\x7f\\x85\\x9b \\u202e\\u2066\\u2069 \\u2028 \\ud800!',
  );
  // Normal names and unicode stay as they are.
  const plain = 'tensor blk.0.attn_q.weight has n_dims = 0 (must be 1..4), at byte 1234; 模型.权重 😀 e\u0301 ../x a|b';
  assert.equal(new QuantLensError('bad-tensor', plain).message, plain);
  // Every code point below U+10000, 2,000 at a time, plus astral ones and a surrogate pair.
  for (let start = 0; start < 0x10000; start += 2000) {
    const text = Array.from({ length: Math.min(2000, 0x10000 - start) }, (_, i) => String.fromCharCode(start + i)).join(' ');
    assert.equal(escapeText(text), esc(text), `U+${start.toString(16)}..`);
    assert.equal(showText(text, Infinity), esc(text));
    assert.equal(quoteText(text, Infinity), quoted(text, Infinity));
    assert.equal(JSON.parse(quoteText(text, Infinity)), text);
    assert.doesNotMatch(oneLine(new Error(text)), RAW_UNSAFE);
  }
  assert.equal(new QuantLensError('io', '\u{1f600}\u{10ffff} \ud83d\ude00').message, '\u{1f600}\u{10ffff} \ud83d\ude00');
});

test('error messages: a long name is cut to 120 characters with its length, the whole message to 500, the end kept; escaping twice changes nothing', () => {
  const long = new QuantLensError('bad-tensor', `tensor ${'A'.repeat(1_770_000)} has n_dims = 0, at byte 1234`);
  assert.equal(long.message, `tensor ${'A'.repeat(119)}… (1770000 chars) has n_dims = 0, at byte 1234`);
  const emoji = new QuantLensError('bad-tensor', `tensor ${'😀'.repeat(300)} at byte 9`);
  assert.equal(emoji.message, `tensor ${'😀'.repeat(119)}… (300 chars) at byte 9`);
  // 360 carriage returns and 272 escape sequences, as in the fuzz finding.
  const noisy = new QuantLensError('invalid-value', `value ${'\r'.repeat(360)}${'\x1b[2J'.repeat(272)} at byte 77`);
  assert.doesNotMatch(noisy.message, RAW_UNSAFE);
  assert.ok(chars(noisy.message) <= 500);
  assert.ok(noisy.message.endsWith(' at byte 77'));
  assert.ok(noisy.message.startsWith('value \\r\\r\\r'));
  // Many short words: the start and the end are kept around the total length.
  const words = `tensor ${'a b '.repeat(100_000)}at byte 5`;
  const m = new QuantLensError('invalid-value', words).message;
  assert.ok(chars(m) <= 500, `${chars(m)} chars`);
  assert.ok(m.startsWith('tensor a b a b'));
  assert.ok(m.endsWith('a b at byte 5'));
  assert.ok(m.includes(` … (${chars(words)} chars) … `));
  for (const e of [long, emoji, noisy, new QuantLensError('invalid-value', words)]) {
    assert.equal(new QuantLensError(e.code, e.message).message, e.message, 'a worker error re-raised keeps its text');
    assert.equal(oneLine(e), e.message);
  }
  assert.equal(oneLine('plain\nstring'), 'plain\\nstring');
});

test('readers: a GGUF tensor name and a safetensors name and dtype reach the message escaped; the CLI prints one bounded line and exits 2', async () => {
  const bad = join(dir, 'bad-dims.gguf');
  writeFileSync(bad, gguf([], [{ name: '\x1b[31m\r\u202eq', values: [], nDims: 0 }]));
  await assert.rejects(openModel(bad), (e: unknown) => {
    assert.ok(e instanceof QuantLensError);
    assert.ok(e.message.includes('\\x1b[31m\\r\\u202eq'), e.message);
    assert.doesNotMatch(e.message, RAW_UNSAFE);
    return true;
  });
  const huge = join(dir, 'bad-dtype.safetensors');
  writeFileSync(huge, safetensors([{ name: 'N'.repeat(1_770_000) + '\r', values: [1], dtype: '\x1b[2J\x1b[H' }]));
  await assert.rejects(openModel(huge), (e: unknown) => {
    assert.ok(e instanceof QuantLensError);
    assert.doesNotMatch(e.message, RAW_UNSAFE);
    assert.ok(chars(e.message) <= 500, `${chars(e.message)} chars`);
    return true;
  });
  for (const file of [bad, huge]) {
    const r = run('info', file);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error: [^\n]*\n$/);
    assert.doesNotMatch(r.stderr, RAW_UNSAFE);
    assert.ok(chars(r.stderr) <= 'error: '.length + 500 + 1, `${chars(r.stderr)} chars`);
  }
});

// ---- info ----

test('info: every name and value escaped and cut with its length; --json complete', () => {
  const r = run('info', ggufPath);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, RAW_UNSAFE);
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], esc(ggufPath));
  assert.ok(lines.includes(`  name          <script>alert(1)</script>\\n${'n'.repeat(93)}… (1048602 chars)`));
  const meta = lines.indexOf(`metadata (${KVS.length} keys)`);
  assert.deepEqual(lines.slice(meta + 1, meta + 1 + KVS.length), [
    `  ${'general.architecture'.padEnd(40)} STRING   "llama"`,
    `  ${'general.name'.padEnd(40)} STRING   "<script>alert(1)</script>\\n${'n'.repeat(93)}…" (1048602 chars)`,
    `  ${'\\x1b]0;pwned\\x07.key'.padEnd(40)} STRING   "v"`,
    `  ${'bidi\\u202e.key'.padEnd(40)} STRING   "x\\u202ey"`,
    `  ${'crlf.key'.padEnd(40)} STRING   "line1\\r\\nline2"`,
    `  ${'strs.key'.padEnd(40)} ARRAY    [STRING x 3] "a\\nb", "\\u001b[0m", "<b>"`,
  ]);
  const first = lines.indexOf(`tensors (${NAMES.length})`) + 2;
  assert.deepEqual(
    lines.slice(first, first + NAMES.length),
    NAMES.map(
      (name, i) =>
        `  ${shown(name, 120).padEnd(36)} ${'[4]'.padEnd(18)} ${'F32'.padEnd(9)} ${'32.000'.padStart(7)} ${'16'.padStart(12)} ${String(32 * i).padStart(12)}`,
    ),
  );
  // Literal spot checks of the rule.
  assert.ok(
    lines.includes(
      `  ${'\\x1b[31mred\\x1b[0m\\r'.padEnd(36)} ${'[4]'.padEnd(18)} F32       ${'32.000'.padStart(7)} ${'16'.padStart(12)} ${'96'.padStart(12)}`,
    ),
  );

  const long = run('info', longPath);
  assert.equal(long.code, 0, long.stderr);
  const longLines = long.stdout.split('\n');
  assert.ok(
    longLines.includes(
      `  ${'L'.repeat(120)}… (5000 chars) ${'[2]'.padEnd(18)} ${'F32'.padEnd(9)} ${'32.000'.padStart(7)} ${'8'.padStart(12)} ${'0'.padStart(12)}`,
    ),
  );
  assert.ok(
    longLines.includes(
      `  ${'\\u202e'.repeat(20)}… (200 chars) ${'[2]'.padEnd(18)} ${'F32'.padEnd(9)} ${'32.000'.padStart(7)} ${'8'.padStart(12)} ${'8'.padStart(12)}`,
    ),
  );
  assert.ok(Math.max(...longLines.map(chars)) < 300);

  const json = run('info', ggufPath, '--json');
  assert.equal(json.code, 0, json.stderr);
  const got = JSON.parse(json.stdout);
  assert.deepEqual(
    got.tensors.map((t: { name: string }) => t.name),
    NAMES,
  );
  assert.deepEqual(
    got.kv.map((k: { key: string }) => k.key),
    KVS.map((k) => k.key),
  );
  assert.equal(got.kv[1].value, GENERAL_NAME);
  assert.deepEqual(got.kv[5].values, KVS[5].value);
  assert.equal(got.files[0].path, ggufPath);
  assert.doesNotMatch(json.stdout, /[\u0000-\u0009\u000b-\u001f]/, 'JSON escapes control characters itself');
});

// ---- dump ----

test('dump: one line per record, odd names quoted as JSON strings; the outline and the grammar read it back', async () => {
  const model = await openModel(ggufPath);
  try {
    const text = dumpModel(model);
    assert.doesNotMatch(text, RAW_UNSAFE);
    const lines = text.split('\n');
    assert.ok(lines.includes(`file          "we|ird \`name\`\\n.gguf"`));
    assert.ok(lines.includes(`file          ${dumpName(basename(ggufPath))}`));
    assert.ok(lines.includes(`name          <script>alert(1)</script>\\n${'n'.repeat(173)}… (1048602 chars)`));
    const tensorLine = (name: string) => `${dumpName(name)} F32 [4] 32.0000 bpw 16 bytes`;
    const from = lines.indexOf(`== metadata (${KVS.length})`);
    assert.deepEqual(lines.slice(from), [
      `== metadata (${KVS.length})`,
      'general.architecture STRING "llama"',
      `general.name STRING "<script>alert(1)</script>\\n${'n'.repeat(173)}…" (1048602 chars)`,
      '"\\u001b]0;pwned\\u0007.key" STRING "v"',
      '"bidi\\u202e.key" STRING "x\\u202ey"',
      'crlf.key STRING "line1\\r\\nline2"',
      'strs.key ARRAY [STRING x 3] "a\\nb", "\\u001b[0m", "<b>"',
      '',
      `== tensors (${NAMES.length})`,
      '-- block 0',
      tensorLine(NAMES[0]),
      '-- global',
      ...NAMES.slice(1).map(tensorLine),
      '',
    ]);
    // Literal spot checks, and the quoted names read back with JSON.parse.
    assert.ok(lines.includes('"x\\n== tensors (9)\\n-- block 7" F32 [4] 32.0000 bpw 16 bytes'));
    assert.ok(lines.includes('"\\u202eevil\\u202c.txt" F32 [4] 32.0000 bpw 16 bytes'));
    assert.ok(lines.includes('模型.权重 F32 [4] 32.0000 bpw 16 bytes'));
    assert.ok(lines.includes('"\\\\x1b literal" F32 [4] 32.0000 bpw 16 bytes'));
    for (const name of NAMES) {
      const written = dumpName(name);
      if (written.startsWith('"')) assert.equal(JSON.parse(written), name);
    }

    const outline = dumpOutline(lines);
    assert.deepEqual(
      outline.map((s) => [s.kind, s.name]),
      [
        ['section', 'metadata'],
        ['section', 'tensors'],
      ],
    );
    assert.deepEqual(
      outline[0].children.map((s) => [s.kind, s.name, s.detail]),
      KVS.map((k) => ['key', dumpName(k.key), typeof k.value === 'string' ? 'STRING' : 'ARRAY']),
    );
    assert.deepEqual(
      outline[1].children.map((g) => [g.kind, g.name, g.children.map((t) => [t.kind, t.name, t.detail])]),
      [
        ['group', 'block 0', [['tensor', NAMES[0], 'F32']]],
        ['group', 'global', NAMES.slice(1).map((n) => ['tensor', dumpName(n), 'F32'])],
      ],
    );
    assert.equal(outline[1].endLine, lines.length - 1);

    // The TextMate grammar's tensor and metadata rules match every record line and capture the whole name.
    const tensorRule = new RegExp(GRAMMAR.repository.tensor.match, 'u');
    const keyRule = new RegExp(GRAMMAR.repository.metadata.begin, 'u');
    for (const name of NAMES) assert.equal(tensorRule.exec(tensorLine(name))?.[1], dumpName(name), tensorLine(name));
    for (const line of lines.slice(from + 1, from + 1 + KVS.length)) assert.ok(keyRule.test(line), line);
    const sectionRule = new RegExp(GRAMMAR.repository.section.match);
    const groupRule = new RegExp(GRAMMAR.repository.group.match);
    assert.deepEqual(
      lines.filter((l) => sectionRule.test(l)),
      [`== metadata (${KVS.length})`, `== tensors (${NAMES.length})`],
      'no record passes for a section',
    );
    assert.deepEqual(
      lines.filter((l) => groupRule.test(l)),
      ['-- block 0', '-- global'],
      'no record passes for a group',
    );
  } finally {
    await model.close();
  }
  const long = await openModel(longPath);
  try {
    const lines = dumpModel(long).split('\n');
    assert.ok(lines.includes(`"${'L'.repeat(200)}…" (5000 chars) F32 [2] 32.0000 bpw 8 bytes`));
    assert.ok(lines.includes(`"${'\\u202e'.repeat(33)}…" (200 chars) F32 [2] 32.0000 bpw 8 bytes`));
    assert.deepEqual(
      dumpOutline(lines)[1].children[0].children.map((t) => t.name),
      LONG_NAMES.map(dumpName),
    );
  } finally {
    await long.close();
  }
});

// ---- reports ----

/** RFC 4180: fields separated by commas, records by CRLF or LF, a quoted field may hold anything, "" is a quote. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quotedField = false;
  while (i < text.length) {
    const c = text[i];
    if (quotedField) {
      if (c === '"' && text[i + 1] === '"') ((field += '"'), (i += 2));
      else if (c === '"') ((quotedField = false), i++);
      else ((field += c), i++);
    } else if (c === '"' && field === '') ((quotedField = true), i++);
    else if (c === ',') (row.push(field), (field = ''), i++);
    else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      row.push(field);
      rows.push(row);
      ((row = []), (field = ''));
      i += c === '\r' ? 2 : 1;
    } else {
      assert.ok(c !== '"' && c !== '\r', `unquoted ${JSON.stringify(c)} at ${i}`);
      ((field += c), i++);
    }
  }
  assert.equal(field + row.join(''), '', 'the text ends with a record separator');
  return rows;
}

test('CSV: RFC 4180 quoting reads back every name; text cells starting with = + - @ tab or CR get a leading quote, numbers do not', async () => {
  const model = await openModel(ggufPath);
  try {
    const stats = new Map(model.tensors.map((t) => [t.name, computeTensorStats(model, t)]));
    const csv = buildReport({ model, stats }, 'csv');
    const rows = parseCsv(csv);
    assert.equal(rows.length, 1 + NAMES.length);
    assert.ok(
      rows.every((r) => r.length === 19),
      'every record has 19 fields (the last, compare_error, empty without a comparison)',
    );
    assert.deepEqual(
      rows.slice(1).map((r) => r[0]),
      NAMES.map((n) => (/^[=+\-@\t\r]/.test(n) ? `'${n}` : n)),
    );
    for (const r of rows.slice(1)) {
      assert.deepEqual(r.slice(1, 7), ['F32', '4', '32', '16', '-1.5', '2'], 'numbers as numbers, negative ones unprefixed');
      assert.equal(Number(r[7]), 0.0625);
    }
    const lines = csv.split('\n');
    assert.ok(lines.includes(`'=cmd|' /C calc'!A0,F32,4,32,16,-1.5,2,0.0625,${rows[12].slice(8).join(',')}`));
    assert.ok(lines.some((l) => l.startsWith('"a,b""c",F32,4,')));
    assert.ok(lines.some((l) => l.startsWith("'\tTab,F32,4,")));
    assert.ok(csv.includes('"\'\rCR",F32,4,'));
    assert.ok(csv.includes('"\x1b[31mred\x1b[0m\r",F32,4,'));
    assert.ok(lines.some((l) => l.startsWith("'-- block 9,F32,4,")));
  } finally {
    await model.close();
  }
});

test('Markdown: names and values escaped, no raw HTML, every table row keeps its cells; odd file names keep the file row whole', async () => {
  const model = await openModel(ggufPath);
  const long = await openModel(longPath);
  try {
    const stats = new Map(model.tensors.map((t) => [t.name, computeTensorStats(model, t)]));
    const reference = 'ref|`x`\n<i>.gguf';
    const md = buildReport({ model, stats, comparison: { reference, tensors: compareModels(model, model).tensors } }, 'md');
    assert.doesNotMatch(md, RAW_UNSAFE);
    assert.doesNotMatch(md, /</, 'no raw HTML at all');
    const lines = md.split('\n');
    assert.equal(lines[0], `### &lt;script&gt;alert(1)&lt;/script&gt;\\\\n${'n'.repeat(173)}… (1048602 chars)`);
    assert.ok(lines.includes('| file | we\\|ird \\`name\\`\\\\n.gguf |'));
    assert.ok(lines.includes(`| file | ${mdText(basename(ggufPath))} |`));
    assert.ok(lines.includes(`| compared with | ${mdText(reference)} |`));
    /** Cells of a table row, split at pipes no backslash escapes. */
    const cells = (line: string) =>
      line
        .split(/(?<!(?:^|[^\\])(?:\\\\)*\\)\|/)
        .slice(1, -1)
        .map((c) => c.trim());
    for (const [heading, count] of [
      ['#### Error against the reference, worst first', 6],
      ['#### Tensors', 7],
    ] as const) {
      const start = lines.indexOf(heading) + 4;
      const rows = lines.slice(start, start + NAMES.length);
      assert.ok(
        rows.every((r) => cells(r).length === count),
        `${heading}: ${count} cells in every row`,
      );
      assert.deepEqual(rows.map((r) => cells(r)[0]).sort(), NAMES.map(mdName).sort());
      assert.equal(lines[start + NAMES.length], '');
    }
    const tensorRows = lines.slice(lines.indexOf('#### Tensors') + 4);
    assert.equal(tensorRows[NAMES.indexOf('<script>alert(1)</script>')].split(' | ')[0], '| &lt;script&gt;alert(1)&lt;/script&gt;');
    assert.equal(tensorRows[NAMES.indexOf('a|b')].split(' | ')[0], '| a\\|b');
    assert.equal(tensorRows[NAMES.indexOf('-- block 9')].split(' | ')[0], '| \\-- block 9');
    assert.equal(tensorRows[NAMES.indexOf('# heading')].split(' | ')[0], '| \\# heading');
    assert.equal(tensorRows[NAMES.indexOf('`tick`')].split(' | ')[0], '| \\`tick\\`');
    assert.equal(tensorRows[0].split(' | ')[0], '| `blk.0.attn_q.weight`');

    const longMd = buildReport({ model: long, stats: new Map() }, 'md').split('\n');
    assert.ok(longMd.includes(`| ${'L'.repeat(200)}… (5000 chars) | F32 | 2 | 32 |  |  |  |`));
  } finally {
    await model.close();
    await long.close();
  }
});
