/**
 * Every error the core raises on purpose is a QuantLensError: a code, a one-line message, and where.
 *
 * Text that comes from a file (names, keys, values) may hold anything: terminal escape sequences, carriage
 * returns, bidi overrides, megabytes. It reaches a terminal, a report or the editor only through the helpers
 * here, which make unsafe characters visible (`\n`, `\x1b`, `\u202e`) and bound its length:
 * - `safeMessage` (applied by the QuantLensError constructor and by `oneLine`): every message is escaped, a run
 *   of more than MAX_RUN non-space characters is cut with its length shown, and the whole message is capped at
 *   MAX_MESSAGE characters, keeping its end (where the byte offset is).
 * - `showText`: a name or value escaped and cut at a given length, "… (N chars)" telling the full length.
 * - `quoteText`: the same as a JSON string literal (for the text dump and metadata values).
 */
export type ErrorCode =
  | 'bad-magic'
  | 'unsupported-version'
  | 'big-endian'
  | 'truncated'
  | 'invalid-value'
  | 'limit-exceeded'
  | 'bad-tensor'
  | 'unknown-type'
  | 'not-decodable'
  | 'io'
  | 'wasm'
  | 'usage'
  | 'cancelled'
  /** The llama.cpp runtime is missing, or its process died. */
  | 'engine';

/** Names and values quoted into messages and text outputs show at most this many characters. */
export const MAX_SHOWN = 120;
/** A run of non-space characters in a message (usually a name from the file) longer than this is cut. */
export const MAX_RUN = 120;
/** No message is longer than this. */
export const MAX_MESSAGE = 500;

/**
 * Characters shown as escapes: C0 controls, DEL, C1 controls, the bidi embeddings, overrides and isolates
 * (U+202A-202E, U+2066-2069), the line and paragraph separators (editors break lines there) and unpaired
 * surrogates.
 */
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const UNSAFE_ONE = new RegExp(`^(?:${UNSAFE.source})$`);

const hex = (code: number, digits: number) => code.toString(16).padStart(digits, '0');

/** `\n`, `\x1b`, `\u202e` in messages; in a JSON string literal, JSON's own escapes (`\n`, `\u001b`, `\"`, `\\`). */
function escapeChar(c: string, json: boolean): string {
  const code = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  if (json) {
    if (c === '"' || c === '\\') return `\\${c}`;
    if (c === '\b') return '\\b';
    if (c === '\f') return '\\f';
    return `\\u${hex(code, 4)}`;
  }
  return code <= 0xff ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`;
}

/** The text with every unsafe character escaped; backslashes are left alone, so escaping twice changes nothing. */
export function escapeText(text: string): string {
  return text.replace(UNSAFE, (c) => escapeChar(c, false));
}

/** The longest prefix of `text` whose escaped form fits in `max` characters, escaped, and whether it is all of it. */
function escapedPrefix(text: string, max: number, json: boolean): { shown: string; whole: boolean } {
  let shown = '';
  let width = 0;
  let i = 0;
  while (i < text.length) {
    const c = String.fromCodePoint(text.codePointAt(i)!);
    const escaped = UNSAFE_ONE.test(c) || (json && (c === '"' || c === '\\'));
    const piece = escaped ? escapeChar(c, json) : c;
    const w = escaped ? piece.length : 1;
    if (width + w > max) break;
    shown += piece;
    width += w;
    i += c.length;
  }
  return { shown, whole: i >= text.length };
}

/** Index in `text` just after its first n characters (code points). */
function indexAfter(text: string, n: number): number {
  let i = 0;
  for (let k = 0; k < n && i < text.length; k++) i += text.codePointAt(i)! > 0xffff ? 2 : 1;
  return i;
}

/** Length in characters (code points, so an emoji counts once), as "(N chars)" reports it. */
export function countChars(text: string): number {
  let pairs = 0;
  for (let i = 0; i < text.length - 1; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        pairs++;
        i++;
      }
    }
  }
  return text.length - pairs;
}

/** A name or value for display: escaped, and cut after `max` characters with "… (N chars)" giving its length. */
export function showText(text: string, max = MAX_SHOWN): string {
  const { shown, whole } = escapedPrefix(text, max, false);
  return whole ? shown : `${shown}… (${countChars(text)} chars)`;
}

/** A string as a JSON string literal (all unsafe characters escaped), cut as showText does: `"abc…" (N chars)`. */
export function quoteText(text: string, max = MAX_SHOWN): string {
  const { shown, whole } = escapedPrefix(text, max, true);
  return whole ? `"${shown}"` : `"${shown}…" (${countChars(text)} chars)`;
}

/**
 * A name that needs no quoting anywhere: a letter, digit or `_`, then letters, combining marks, digits and
 * `_ . : / + -` (every llama.cpp and Hugging Face tensor name, and CJK ones). Outputs show other names quoted or escaped.
 * The pattern of a Unicode (`u`) regular expression.
 */
export const PLAIN_NAME = String.raw`[\p{L}\p{N}_][\p{L}\p{M}\p{N}_.:\/+\-]*`;
/** Built on first use: its Unicode classes cost about a millisecond to build, which `quantlens info` does not need. */
let plainName: RegExp | undefined;

export function isPlainName(text: string): boolean {
  return (plainName ??= new RegExp(`^${PLAIN_NAME}$`, 'u')).test(text);
}

/**
 * A message safe to print: unsafe characters escaped, long runs cut, at most MAX_MESSAGE characters (the start
 * and the end kept). Applying it twice gives the same text.
 */
export function safeMessage(text: string): string {
  const runs = escapeText(text).replace(
    new RegExp(`\\S{${MAX_RUN + 1},}`, 'gu'),
    (run) => `${run.slice(0, indexAfter(run, MAX_RUN - 1))}… (${countChars(run)} chars)`,
  );
  const length = countChars(runs);
  if (length <= MAX_MESSAGE) return runs;
  const marker = ` … (${length} chars) … `;
  const tail = 100;
  let tailStart = runs.length - tail;
  const t = runs.charCodeAt(tailStart);
  if (t >= 0xdc00 && t <= 0xdfff) tailStart++;
  return runs.slice(0, indexAfter(runs, MAX_MESSAGE - marker.length - tail)) + marker + runs.slice(tailStart);
}

export class QuantLensError extends Error {
  override readonly name = 'QuantLensError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Absolute byte offset in the file where the problem was found, when it has one. */
    readonly byteOffset?: number,
    readonly file?: string,
    /**
     * The CLI option that supplies what is missing (`--imatrix`): the CLI adds it to the message; the editor, which
     * has its own commands for it, shows the message alone.
     */
    readonly cliOption?: string,
  ) {
    super(safeMessage(message));
  }
}

/** A one-line, escaped and bounded description of any thrown value, for UIs and the CLI. */
export function oneLine(e: unknown): string {
  return safeMessage(e instanceof Error ? e.message : String(e));
}

/** The one line as the CLI prints it: with the option that would supply what is missing, when the error names one. */
export function cliLine(e: unknown): string {
  const option = e instanceof QuantLensError ? e.cliOption : undefined;
  return option ? `${oneLine(e)} (${option})` : oneLine(e);
}
