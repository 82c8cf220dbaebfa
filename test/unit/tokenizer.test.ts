// Token lookup (issue 14): a leading space searched as the tokenizer's marker, byte-level tokens decoded, capped
// results counted, a bad id said, special token ids resolved. Expected values come from the corpus file's own
// bytes (its vocabulary read here from the payload offset its expected.json gives) or, for GPT-2's byte-level
// spelling, from the byte-to-unicode definition written out by hand below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openModel, openModelFromSource } from '../../src/core/formats/openModel.ts';
import { buildGgufFile } from '../../src/core/formats/ggufWriter.ts';
import { MemoryByteSource } from '../../src/core/io/byteSource.ts';
import { lookupTokens, specialTokenTexts, tokenById, tokenText, spellAsStored } from '../../src/core/analysis/tokenizer.ts';
import { corpusPath, readJson } from '../helpers/corpus.ts';

interface ExpectedKv {
  key: string;
  value?: unknown;
  length?: number;
  payload_offset?: number;
}

/** The corpus file's vocabulary, read straight from its bytes: per token a u64 length and UTF-8 bytes. */
function corpusVocabulary(file: string): { tokens: string[]; kv: ExpectedKv[] } {
  const expected = readJson<{ kv: ExpectedKv[] }>('gguf', file.replace(/\.gguf$/, '.expected.json'));
  const entry = expected.kv.find((k) => k.key === 'tokenizer.ggml.tokens')!;
  const bytes = readFileSync(corpusPath('gguf', file));
  const tokens: string[] = [];
  let at = entry.payload_offset!;
  for (let i = 0; i < entry.length!; i++) {
    const n = Number(bytes.readBigUInt64LE(at));
    tokens.push(bytes.subarray(at + 8, at + 8 + n).toString('utf8'));
    at += 8 + n;
  }
  return { tokens, kv: expected.kv };
}

const FILE = 'llama-tiny-Q4_K.gguf';

test('SentencePiece vocabulary: a leading space is searched as ▁, and shown as a space', async () => {
  const { tokens } = corpusVocabulary(FILE);
  const m = await openModel(corpusPath('gguf', FILE));
  try {
    const r = await lookupTokens(m, ' m');
    assert.equal(r.searched, '▁m');
    const containing = tokens.flatMap((t, id) => (t.includes('▁m') ? [id] : []));
    assert.ok(containing.length > 1, 'the corpus vocabulary has several tokens with ▁m');
    assert.equal(r.total, containing.length);
    // the exact token first, then the others in id order
    assert.equal(r.matches[0].id, tokens.indexOf('▁m'));
    assert.deepEqual(
      r.matches.slice(1).map((t) => t.id),
      containing.filter((id) => id !== tokens.indexOf('▁m')).slice(0, 49),
    );
    assert.equal(r.matches[0].text, '▁m');
    assert.equal(r.matches[0].decoded, ' m');
  } finally {
    await m.close();
  }
});

test('a lookup with more than 50 matches returns the first 50 and counts them all', async () => {
  const { tokens } = corpusVocabulary(FILE);
  const m = await openModel(corpusPath('gguf', FILE));
  try {
    const r = await lookupTokens(m, 'a');
    const containing = tokens.flatMap((t, id) => (t.includes('a') ? [id] : []));
    assert.ok(containing.length > 50, `${containing.length} tokens contain "a"`);
    assert.equal(r.total, containing.length);
    assert.equal(r.matches.length, 50);
    assert.deepEqual(
      r.matches.map((t) => t.id),
      containing.includes(tokens.indexOf('a'))
        ? [tokens.indexOf('a'), ...containing.filter((id) => id !== tokens.indexOf('a'))].slice(0, 50)
        : containing.slice(0, 50),
    );
  } finally {
    await m.close();
  }
});

test('an id resolves to its token; an id outside the vocabulary says why and returns nothing', async () => {
  const { tokens } = corpusVocabulary(FILE);
  const m = await openModel(corpusPath('gguf', FILE));
  try {
    const one = await lookupTokens(m, '7');
    assert.deepEqual(one.matches, [{ id: 7, text: tokens[7], decoded: tokens[7] }]);
    assert.equal(one.problem, undefined);
    const bad = await lookupTokens(m, String(tokens.length));
    assert.deepEqual(bad.matches, []);
    assert.equal(bad.problem, `no token has id ${tokens.length}: ids are 0 to 1,999`);
    assert.equal(tokens.length, 2000);
    assert.equal(await tokenById(m, tokens.length), undefined);
  } finally {
    await m.close();
  }
});

test('bos, eos and unknown token ids resolve to their tokens text', async () => {
  const { tokens, kv } = corpusVocabulary(FILE);
  const m = await openModel(corpusPath('gguf', FILE));
  try {
    const texts = await specialTokenTexts(m);
    const ids = kv.filter((k) => /^tokenizer\.ggml\.\w+_token_id$/.test(k.key));
    assert.deepEqual(
      ids.map((k) => k.key),
      ['tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.unknown_token_id'],
    );
    for (const k of ids) assert.equal(texts.get(k.key), JSON.stringify(tokens[k.value as number]), k.key);
    assert.equal(texts.get('tokenizer.ggml.bos_token_id'), '"<s>"');
  } finally {
    await m.close();
  }
});

/**
 * GPT-2's byte-to-unicode spelling, by its definition: bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF are their own
 * code points; the 68 others, in byte order, are U+0100 onwards (0x00 → U+0100, 0x0A → U+010A, 0x20 → U+0120,
 * 0x7F → U+0121, 0xA0 → U+0142, 0xAD → U+0143).
 */
const G = {
  space: '\u0120', // Ġ
  newline: '\u010a', // Ċ
  del: '\u0121',
  nbsp: '\u0142',
  softHyphen: '\u0143',
};

async function gpt2Model() {
  const vocabulary = [
    '<|endoftext|>',
    'hello',
    `${G.space}hello`,
    `${G.space}world`,
    G.newline,
    'Ã©tÃ©', // "été": é is C3 A9, and both bytes are their own code points
    'Ã', // the first byte of é alone
    `${G.space}${G.space}`,
    G.softHyphen,
  ];
  const file = buildGgufFile(
    [
      { key: 'general.architecture', type: 'STRING', value: 'gpt2' },
      { key: 'tokenizer.ggml.model', type: 'STRING', value: 'gpt2' },
      { key: 'tokenizer.ggml.tokens', type: 'ARRAY', value: { elementType: 'STRING', values: vocabulary } },
      { key: 'tokenizer.ggml.bos_token_id', type: 'UINT32', value: 0 },
      { key: 'tokenizer.ggml.padding_token_id', type: 'UINT32', value: 99 },
    ],
    [{ name: 't', shape: [4], ggmlTypeId: 0, nbytes: 16, data: new Uint8Array(16) }],
  );
  return { vocabulary, model: await openModelFromSource(new MemoryByteSource(file)) };
}

test('GPT-2 byte-level spelling: the byte table, both ways', () => {
  assert.equal(spellAsStored('byte-level', ' hello'), `${G.space}hello`);
  assert.equal(spellAsStored('byte-level', 'a\nb'), `a${G.newline}b`);
  assert.equal(spellAsStored('byte-level', 'été'), 'Ã©tÃ©');
  assert.equal(spellAsStored('byte-level', '\x7f\xa0\xad'), `${G.del}Â${G.nbsp}Â${G.softHyphen}`);
  assert.equal(tokenText('byte-level', `${G.space}${G.space}`), '  ');
  assert.equal(tokenText('byte-level', 'Ã'), '\\xc3', 'half a character is shown as its byte');
  assert.equal(tokenText('byte-level', '<|endoftext|>'), '<|endoftext|>');
  assert.equal(tokenText('sentencepiece', '▁the▁end'), ' the end');
  assert.equal(spellAsStored('sentencepiece', ' the end'), '▁the▁end');
});

test('GPT-2 vocabulary: a leading space is searched as Ġ and the tokens are decoded for display', async () => {
  const { model } = await gpt2Model();
  try {
    const r = await lookupTokens(model, ' hello');
    assert.equal(r.searched, `${G.space}hello`);
    assert.deepEqual(r.matches, [{ id: 2, text: `${G.space}hello`, decoded: ' hello' }]);
    const plain = await lookupTokens(model, 'hello');
    assert.deepEqual(
      plain.matches.map((t) => [t.id, t.decoded]),
      [
        [1, 'hello'],
        [2, ' hello'],
      ],
    );
    const accented = await lookupTokens(model, 'été');
    assert.deepEqual(accented.matches, [{ id: 5, text: 'Ã©tÃ©', decoded: 'été' }]);
    const newline = await lookupTokens(model, '4');
    assert.deepEqual(newline.matches, [{ id: 4, text: G.newline, decoded: '\n' }]);
    const texts = await specialTokenTexts(model);
    assert.equal(texts.get('tokenizer.ggml.bos_token_id'), '"<|endoftext|>"');
    assert.equal(texts.get('tokenizer.ggml.padding_token_id'), 'not in the vocabulary of 9 tokens');
  } finally {
    await model.close();
  }
});
