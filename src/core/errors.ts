/** Every error the core raises on purpose is a QuantLensError: a code, a one-line message, and where. */
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
  | 'usage'
  | 'cancelled';

export class QuantLensError extends Error {
  override readonly name = 'QuantLensError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Absolute byte offset in the file where the problem was found, when it has one. */
    readonly byteOffset?: number,
    readonly file?: string,
  ) {
    super(message.replace(/\s*\n\s*/g, ' '));
  }
}

/** A one-line description of any thrown value, for UIs and the CLI. */
export function oneLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.replace(/\s*\n\s*/g, ' ');
}
