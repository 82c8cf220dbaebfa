/**
 * A strict JSON parser (RFC 8259) over UTF-8 bytes, for JSON read from untrusted files (safetensors headers,
 * shard indexes). Unlike JSON.parse it reports the byte offset of every error, refuses duplicate keys,
 * builds null-prototype objects (a key such as `__proto__` or `constructor` is just a key), refuses invalid
 * UTF-8, lone surrogates and numbers beyond float64 (as serde_json does), bounds nesting, and allocates in
 * proportion to the input.
 */
import { QuantLensError, quoteText, showText } from '../errors.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
/** A parsed JSON object: null prototype, own keys only. */
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface JsonInput {
  bytes: Uint8Array;
  /** Absolute file offset of bytes[0], so errors name a position in the file. */
  baseOffset?: number;
  /** What the bytes are, for messages: "header", "model.safetensors.index.json". */
  what: string;
  file?: string;
  /**
   * Told the absolute offset of each number written with a fraction or an exponent (`4096.0`, `1e3`), for
   * callers whose fields must be written as integers (serde_json refuses `4096.0` for an integer field).
   */
  onNonIntegerLiteral?: (offset: number) => void;
}

/** Deeper nesting is refused (serde_json, which the safetensors reference uses, stops at 128 too). */
export const MAX_JSON_DEPTH = 128;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A string as it may appear in a one-line message: JSON-quoted, unsafe characters escaped, capped. */
export function quoteForMessage(s: string, max = 80): string {
  return quoteText(s, max);
}

/** A parsed value as it may appear in a one-line message: its JSON, escaped and capped. */
export function jsonForMessage(v: JsonValue, max = 80): string {
  return showText(JSON.stringify(v), max);
}

/** The JSON type of a parsed value, for messages ("a number, not a string"). */
export function jsonTypeName(v: JsonValue | undefined): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Parse a whole JSON document. */
export function parseJson(input: JsonInput): JsonValue {
  const p = new Parser(input);
  const value = p.value(0);
  p.end();
  return value;
}

/**
 * Stream the members of a top-level JSON object: each value is parsed on its own and handed to `onMember`
 * with the absolute offset of its first byte, so a caller can turn millions of members into its own records
 * without a tree of them in memory. Duplicate top-level keys are refused like nested ones.
 */
export function forEachJsonMember(input: JsonInput, onMember: (key: string, value: JsonValue, valueOffset: number) => void): void {
  const p = new Parser(input);
  p.skipWhitespace();
  if (p.peek() !== 0x7b) {
    const where = p.absolute(p.pos);
    throw new QuantLensError(
      'invalid-value',
      `${input.what} is not a JSON object: it starts with ${p.describeHere()} at byte ${where}`,
      where,
      input.file,
    );
  }
  const seen = new Set<string>();
  for (let more = p.openObject(); more; more = p.nextMember()) {
    const keyAt = p.skipWhitespace();
    const key = p.memberKey();
    if (seen.has(key)) p.fail(`duplicate key ${quoteForMessage(key)}`, keyAt);
    seen.add(key);
    const at = p.absolute(p.skipWhitespace());
    onMember(key, p.value(1), at);
  }
  p.end();
}

/**
 * The absolute offset of member `key`'s value in the object that starts at absolute offset `objectOffset`,
 * for pointing an error at one field. Parses only that object again; `objectOffset` when the key is absent.
 */
export function memberOffset(input: JsonInput, objectOffset: number, key: string): number {
  return memberSpan(input, objectOffset, key)[0];
}

/** Like memberOffset, with the absolute offset just after the value: [start, end). */
export function memberSpan(input: JsonInput, objectOffset: number, key: string): [number, number] {
  const p = new Parser({ ...input, onNonIntegerLiteral: undefined });
  p.pos = objectOffset - (input.baseOffset ?? 0);
  for (let more = p.openObject(); more; more = p.nextMember()) {
    const k = p.memberKey();
    const at = p.absolute(p.skipWhitespace());
    p.value(1);
    if (k === key) return [at, p.absolute(p.pos)];
  }
  return [objectOffset, objectOffset];
}

class Parser {
  pos = 0;
  private readonly stack: JsonValue[] = [];
  private readonly bytes: Uint8Array;
  private readonly base: number;

  constructor(private readonly input: JsonInput) {
    this.bytes = input.bytes;
    this.base = input.baseOffset ?? 0;
  }

  absolute(pos: number): number {
    return this.base + pos;
  }

  fail(message: string, at = this.pos): never {
    const where = this.base + at;
    throw new QuantLensError('invalid-value', `${this.input.what} is not valid JSON at byte ${where}: ${message}`, where, this.input.file);
  }

  peek(): number {
    return this.pos < this.bytes.length ? this.bytes[this.pos] : -1;
  }

  describeHere(): string {
    const b = this.peek();
    if (b < 0) return 'the end of the input';
    return b >= 0x21 && b <= 0x7e ? `'${String.fromCharCode(b)}'` : `byte 0x${b.toString(16).padStart(2, '0')}`;
  }

  /** Skip JSON whitespace (space, tab, LF, CR); returns the new position. */
  skipWhitespace(): number {
    const b = this.bytes;
    let i = this.pos;
    while (i < b.length && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
    this.pos = i;
    return i;
  }

  end(): void {
    this.skipWhitespace();
    if (this.pos < this.bytes.length) this.fail(`unexpected ${this.describeHere()} after the JSON value`);
  }

  expect(byte: number, what: string): void {
    this.skipWhitespace();
    if (this.peek() !== byte) this.fail(`expected ${what}, found ${this.describeHere()}`);
    this.pos++;
  }

  value(depth: number): JsonValue {
    if (depth > MAX_JSON_DEPTH) this.fail(`nested deeper than ${MAX_JSON_DEPTH} levels`);
    this.skipWhitespace();
    switch (this.peek()) {
      case 0x7b: {
        // {
        const obj: JsonObject = Object.create(null);
        for (let more = this.openObject(); more; more = this.nextMember()) {
          const keyAt = this.skipWhitespace();
          const key = this.memberKey();
          if (Object.hasOwn(obj, key)) this.fail(`duplicate key ${quoteForMessage(key)}`, keyAt);
          obj[key] = this.value(depth + 1);
        }
        return obj;
      }
      case 0x5b: {
        // [
        // Elements go on a shared stack and leave it as one array of exactly their number.
        const mark = this.stack.length;
        this.pos++;
        this.skipWhitespace();
        if (this.peek() !== 0x5d) {
          for (;;) {
            this.stack.push(this.value(depth + 1));
            this.skipWhitespace();
            const b = this.peek();
            this.pos++;
            if (b === 0x5d) break;
            if (b !== 0x2c) this.fail(`expected ',' or ']' in an array, found ${this.describeAt(this.pos - 1)}`, this.pos - 1);
          }
        } else this.pos++;
        return this.stack.splice(mark);
      }
      case 0x22:
        return this.string();
      case 0x74:
        return this.literal('true', true);
      case 0x66:
        return this.literal('false', false);
      case 0x6e:
        return this.literal('null', null);
      default: {
        const b = this.peek();
        if (b === 0x2d || (b >= 0x30 && b <= 0x39)) return this.number();
        return this.fail(`expected a JSON value, found ${this.describeHere()}`);
      }
    }
  }

  private describeAt(pos: number): string {
    const saved = this.pos;
    this.pos = pos;
    const d = this.describeHere();
    this.pos = saved;
    return d;
  }

  /** Consume the '{' of an object; false when the object is empty (its '}' consumed too). */
  openObject(): boolean {
    this.expect(0x7b, "'{'");
    this.skipWhitespace();
    if (this.peek() !== 0x7d) return true;
    this.pos++;
    return false;
  }

  /** A member's key and its ':'; the caller parses the value next. */
  memberKey(): string {
    this.skipWhitespace();
    if (this.peek() !== 0x22) this.fail(`expected a string key, found ${this.describeHere()}`);
    const key = this.string();
    this.expect(0x3a, "':' after a key");
    return key;
  }

  /** After a member's value: true at ',' (another member follows), false at the closing '}'. */
  nextMember(): boolean {
    this.skipWhitespace();
    const b = this.peek();
    this.pos++;
    if (b === 0x2c) return true;
    if (b !== 0x7d) this.fail(`expected ',' or '}' in an object, found ${this.describeAt(this.pos - 1)}`, this.pos - 1);
    return false;
  }

  private literal<T extends JsonValue>(word: string, value: T): T {
    for (let i = 0; i < word.length; i++) {
      if (this.bytes[this.pos + i] !== word.charCodeAt(i)) this.fail(`expected ${word}`);
    }
    this.pos += word.length;
    return value;
  }

  private number(): number {
    const b = this.bytes;
    const start = this.pos;
    let i = start;
    if (b[i] === 0x2d) i++;
    if (b[i] === 0x30) i++;
    else if ((i = this.skipDigits(i)) === -1) this.fail('expected a digit in a number');
    let integer = true;
    if (b[i] === 0x2e) {
      integer = false;
      if ((i = this.skipDigits(i + 1)) === -1) this.fail('expected a digit after the decimal point');
    }
    if (b[i] === 0x65 || b[i] === 0x45) {
      integer = false;
      i++;
      if (b[i] === 0x2b || b[i] === 0x2d) i++;
      if ((i = this.skipDigits(i)) === -1) this.fail('expected a digit in the exponent');
    }
    this.pos = i;
    if (!integer) this.input.onNonIntegerLiteral?.(this.base + start);
    if (integer && i - start <= 15) {
      // Short integers exactly, without making a string.
      let v = 0;
      for (let k = b[start] === 0x2d ? start + 1 : start; k < i; k++) v = v * 10 + (b[k] - 0x30);
      return b[start] === 0x2d ? -v : v;
    }
    const v = Number(utf8.decode(b.subarray(start, i)));
    if (!Number.isFinite(v)) this.fail('number out of range', start);
    return v;
  }

  /** The position after the digits at `i`, or -1 (with `pos` at `i`) when there are none. */
  private skipDigits(i: number): number {
    const b = this.bytes;
    const from = i;
    while (i < b.length && b[i] >= 0x30 && b[i] <= 0x39) i++;
    if (i > from) return i;
    this.pos = from;
    return -1;
  }

  private string(): string {
    const b = this.bytes;
    const start = ++this.pos; // after the opening quote
    let i = start;
    while (i < b.length && b[i] !== 0x22 && b[i] !== 0x5c && b[i] >= 0x20 && b[i] < 0x80) i++;
    if (b[i] === 0x22) {
      this.pos = i + 1;
      return utf8.decode(b.subarray(start, i));
    }
    // Slow path: escapes or non-ASCII text.
    const parts: string[] = [];
    let run = start;
    for (;;) {
      if (i >= b.length) this.fail('unterminated string', start - 1);
      const c = b[i];
      if (c === 0x22) break;
      if (c < 0x20) this.fail(`control character 0x${c.toString(16).padStart(2, '0')} in a string (it must be escaped)`, i);
      if (c < 0x80 && c !== 0x5c) {
        i++;
        continue;
      }
      if (c >= 0x80) {
        i += this.utf8SequenceLength(i);
        continue;
      }
      // A backslash escape.
      if (i > run) parts.push(utf8.decode(b.subarray(run, i)));
      const e = b[i + 1];
      const simple =
        e === 0x22
          ? '"'
          : e === 0x5c
            ? '\\'
            : e === 0x2f
              ? '/'
              : e === 0x62
                ? '\b'
                : e === 0x66
                  ? '\f'
                  : e === 0x6e
                    ? '\n'
                    : e === 0x72
                      ? '\r'
                      : e === 0x74
                        ? '\t'
                        : undefined;
      if (simple !== undefined) {
        parts.push(simple);
        i += 2;
      } else if (e === 0x75) {
        const unit = this.hex4(i + 2);
        if (unit >= 0xd800 && unit <= 0xdbff && b[i + 6] === 0x5c && b[i + 7] === 0x75) {
          const low = this.hex4(i + 8);
          if (low < 0xdc00 || low > 0xdfff) this.fail(`lone surrogate \\u${unit.toString(16)} in a string`, i);
          parts.push(String.fromCharCode(unit, low));
          i += 12;
        } else {
          if (unit >= 0xd800 && unit <= 0xdfff) this.fail(`lone surrogate \\u${unit.toString(16)} in a string`, i);
          parts.push(String.fromCharCode(unit));
          i += 6;
        }
      } else {
        this.fail(e === undefined ? 'unterminated string' : `invalid escape \\${this.describeAt(i + 1)} in a string`, i);
      }
      run = i;
    }
    if (i > run) parts.push(utf8.decode(b.subarray(run, i)));
    this.pos = i + 1;
    return parts.join('');
  }

  private hex4(at: number): number {
    let v = 0;
    for (let k = at; k < at + 4; k++) {
      const c = this.bytes[k];
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d < 0) this.fail('expected 4 hex digits after \\u', k);
      v = v * 16 + d;
    }
    return v;
  }

  /** Length of the well-formed UTF-8 sequence at `at` (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
  private utf8SequenceLength(at: number): number {
    const b = this.bytes;
    const c = b[at];
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return this.fail(`invalid UTF-8 byte 0x${c.toString(16)}`, at);
    for (let k = 1; k < n; k++) {
      const x = b[at + k];
      if (x === undefined || x < (k === 1 ? lo : 0x80) || x > (k === 1 ? hi : 0xbf))
        this.fail(`invalid UTF-8 sequence starting with byte 0x${c.toString(16)}`, at);
    }
    return n;
  }
}
