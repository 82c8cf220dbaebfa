/**
 * A model file on an HTTP server that answers range requests (the Hugging Face Hub, a CDN, any static server),
 * read as a ByteSource: only the bytes a view needs are fetched.
 *
 * - Opening asks for the first 64 KiB and learns the size from Content-Range and the version from the
 *   ETag; every later reply must carry the same ETag and size, or the file changed on the server and the read stops.
 * - Redirects are followed by hand (at most 5). The token goes only to the host it was given for: a redirect to
 *   another host (the Hub's CDN) is requested without it.
 * - A server that ignores ranges (200 with the whole file) is refused unless the file is small enough to keep.
 * - Network errors, 429 and 5xx are retried three times; 401, 403 and 404 are one-line errors at once.
 * - Reads go through a bounded cache of fetched spans. A read that follows the previous one asks for more than it
 *   needs (64 KiB, doubling up to 1 MiB), so a header parsed in small pieces costs few requests; a large read asks
 *   for exactly its bytes.
 */
import { QuantLensError } from '../errors.ts';
import type { ByteSource } from './byteSource.ts';
import { fetchOnce, fetchSync, type HttpReply, type HttpRequest } from './syncFetch.ts';

/** A bearer token and the one host it may be sent to. */
export interface HttpAuth {
  host: string;
  token: string;
}

export interface HttpSourceOptions {
  auth?: HttpAuth;
  /** Bytes of fetched spans kept for later reads. */
  cacheBytes?: number;
  /** A server that ignores ranges is accepted for files up to this size (kept whole in memory). */
  maxWholeFile?: number;
  /** Wait before retry i (0, 1, 2), in ms; tests make it 0. */
  retryDelayMs?: (attempt: number) => number;
}

const MAX_REDIRECTS = 5;
const RETRIES = 3;
const FIRST_READ_AHEAD = 64 << 10;
const MAX_READ_AHEAD = 1 << 20;
const DEFAULT_CACHE_BYTES = 64 << 20;
const DEFAULT_MAX_WHOLE_FILE = 16 << 20;

/** What the server said, in one line. */
function describeStatus(status: number): string {
  if (status === 401) return 'HTTP 401: the server wants a token (a gated or private repository: set a Hugging Face token)';
  if (status === 403)
    return 'HTTP 403: access refused (for a gated repository, accept its terms on the Hub and use a token that may read it)';
  if (status === 404) return 'HTTP 404: no such file (check the repository, revision and file name)';
  if (status === 416) return 'HTTP 416: the server refused the byte range';
  return `HTTP ${status}`;
}

const retriable = (r: HttpReply) => r.status === 0 || r.status === 429 || r.status >= 500;

/** A fetched span of the file. */
interface Span {
  start: number;
  bytes: Uint8Array;
}

/**
 * One step of an exchange with the server: a request to send, or a pause before a retry. The protocol (redirects,
 * retries, checks) is written once as a generator of steps; `runAsync` and `runSync` carry the steps out.
 */
type Step = { request: HttpRequest } | { pauseMs: number };
type Exchange<T> = Generator<Step, T, HttpReply | undefined>;

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function runAsync<T>(exchange: Exchange<T>): Promise<T> {
  for (let step = exchange.next(undefined); ;) {
    if (step.done) return step.value;
    const s = step.value;
    step = exchange.next('request' in s ? await fetchOnce(s.request) : (await pause(s.pauseMs), undefined));
  }
}

function runSync<T>(exchange: Exchange<T>): T {
  for (let step = exchange.next(undefined); ;) {
    if (step.done) return step.value;
    const s = step.value;
    if ('request' in s) step = exchange.next(fetchSync(s.request));
    else {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, s.pauseMs);
      step = exchange.next(undefined);
    }
  }
}

let fetchedByThisThread = 0;

/** Bytes this thread (the worker, a helper, the CLI) has received over HTTP so far, for progress in bytes. */
export function bytesFetchedByThisThread(): number {
  return fetchedByThisThread;
}

export class HttpByteSource implements ByteSource {
  /** Bytes received from the server so far (for progress and for the tests). */
  bytesFetched = 0;
  /** Requests sent, redirects and retries included. */
  requests = 0;
  private spans: Span[] = [];
  private cachedBytes = 0;
  private nextSequential = -1;
  private readAhead = FIRST_READ_AHEAD;
  private size_ = 0;
  private etag: string | undefined;
  private whole?: Uint8Array;

  private constructor(
    readonly name: string,
    private readonly options: HttpSourceOptions,
  ) {}

  get size(): number {
    return this.size_;
  }

  /** Opens `url`: one request for its first byte, which gives the size and version. */
  static async open(url: string, options: HttpSourceOptions = {}): Promise<HttpByteSource> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new QuantLensError('usage', `not a URL: ${url}`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
      throw new QuantLensError('usage', `${url}: only http and https URLs can be opened`);
    const source = new HttpByteSource(parsed.href, options);
    await runAsync(source.probe());
    return source;
  }

  async read(offset: number, target: Uint8Array): Promise<number> {
    return runAsync(this.readSteps(offset, target));
  }

  readSync(offset: number, target: Uint8Array): number {
    return runSync(this.readSteps(offset, target));
  }

  async close(): Promise<void> {
    this.spans = [];
    this.cachedBytes = 0;
  }

  /**
   * Asks for the first 64 KiB (every reader starts there): the reply gives the size (Content-Range) and the version
   * (ETag), or the whole small file.
   */
  private *probe(): Exchange<void> {
    const reply = yield* this.exchange(0, FIRST_READ_AHEAD);
    this.etag = reply.headers.etag;
    if (reply.status === 200) {
      const length = Number(reply.headers['content-length'] ?? reply.body.length);
      const max = this.options.maxWholeFile ?? DEFAULT_MAX_WHOLE_FILE;
      if (reply.truncated || length > max)
        throw new QuantLensError(
          'io',
          `${this.name}: the server ignores range requests and would send all ${length} bytes; only files up to ${max} bytes are read that way`,
          undefined,
          this.name,
        );
      this.whole = reply.body;
      this.size_ = reply.body.length;
      return;
    }
    const total = /^bytes \d+-\d+\/(\d+)$/.exec(reply.headers['content-range'] ?? '');
    if (reply.status !== 206 || !total)
      throw new QuantLensError(
        'io',
        `${this.name}: the reply to a range request has no Content-Range with the file size (HTTP ${reply.status})`,
        undefined,
        this.name,
      );
    this.size_ = Number(total[1]);
    this.check(reply, 0, Math.min(FIRST_READ_AHEAD, this.size));
    this.nextSequential = reply.body.length;
    this.keep({ start: 0, bytes: reply.body });
  }

  private *readSteps(offset: number, target: Uint8Array): Exchange<number> {
    const want = Math.max(0, Math.min(target.length, this.size - offset));
    if (want === 0) return 0;
    const into = target.subarray(0, want);
    if (this.serve(offset, into)) return want;
    const { start, end } = this.plan(offset, want);
    const reply = yield* this.exchange(start, end);
    this.check(reply, start, end);
    this.keep({ start, bytes: reply.body });
    into.set(reply.body.subarray(offset - start, offset - start + want));
    return want;
  }

  /** Fills `target` from the cache if one span holds it all. */
  private serve(offset: number, target: Uint8Array): boolean {
    if (this.whole) {
      target.set(this.whole.subarray(offset, offset + target.length));
      return true;
    }
    for (const s of this.spans) {
      if (offset >= s.start && offset + target.length <= s.start + s.bytes.length) {
        target.set(s.bytes.subarray(offset - s.start, offset - s.start + target.length));
        return true;
      }
    }
    return false;
  }

  /** Remembers a span, dropping the oldest ones beyond the cache size. */
  private keep(span: Span): void {
    const limit = this.options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    if (span.bytes.length > limit) return;
    this.spans.push(span);
    this.cachedBytes += span.bytes.length;
    while (this.cachedBytes > limit) this.cachedBytes -= this.spans.shift()!.bytes.length;
  }

  /** The range to ask for: the read itself, plus read-ahead when a small read follows the previous one. */
  private plan(offset: number, length: number): { start: number; end: number } {
    this.readAhead = offset === this.nextSequential ? Math.min(MAX_READ_AHEAD, this.readAhead * 2) : FIRST_READ_AHEAD;
    this.nextSequential = offset + length;
    return { start: offset, end: Math.min(this.size, offset + Math.max(length, this.readAhead)) };
  }

  /** A reply to bytes [start, end) must be those bytes of the same version of the file. */
  private check(reply: HttpReply, start: number, end: number): void {
    const where = `${this.name} at byte ${start}`;
    if (reply.status === 200) throw new QuantLensError('io', `${where}: the server stopped answering range requests`, start, this.name);
    if (this.etag !== undefined && reply.headers.etag !== this.etag) {
      throw new QuantLensError(
        'io',
        `${this.name} changed on the server while it was being read (ETag ${reply.headers.etag ?? 'absent'}, was ${this.etag})`,
        start,
        this.name,
      );
    }
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(reply.headers['content-range'] ?? '');
    if (!range || Number(range[1]) !== start || Number(range[3]) !== this.size) {
      throw new QuantLensError(
        'io',
        `${where}: the server sent another range (${reply.headers['content-range'] ?? 'no Content-Range'}) of a file of ${this.size} bytes`,
        start,
        this.name,
      );
    }
    if (reply.body.length !== end - start)
      throw new QuantLensError('truncated', `${where}: the server sent ${reply.body.length} of ${end - start} bytes`, start, this.name);
  }

  private headersFor(url: URL, start: number, end: number): Record<string, string> {
    const headers: Record<string, string> = { range: `bytes=${start}-${end - 1}`, 'accept-encoding': 'identity' };
    const auth = this.options.auth;
    if (auth && url.host === auth.host) headers.authorization = `Bearer ${auth.token}`;
    return headers;
  }

  /** One range request: redirects followed by hand, transient failures retried, errors said in one line. */
  private *exchange(start: number, end: number): Exchange<HttpReply> {
    for (let attempt = 0; ; attempt++) {
      let url = new URL(this.name);
      let reply: HttpReply;
      for (let hop = 0; ; hop++) {
        this.requests++;
        const maxBody = Math.max(end - start, this.options.maxWholeFile ?? DEFAULT_MAX_WHOLE_FILE) + 1;
        reply = (yield { request: { url: url.href, headers: this.headersFor(url, start, end), method: 'GET', maxBody } })!;
        this.bytesFetched += reply.body.length;
        fetchedByThisThread += reply.body.length;
        const location = reply.headers.location;
        if (reply.status < 300 || reply.status >= 400 || !location) break;
        if (hop === MAX_REDIRECTS) throw new QuantLensError('io', `${this.name}: more than ${MAX_REDIRECTS} redirects`, start, this.name);
        url = new URL(location, url);
        if (url.protocol !== 'https:' && url.protocol !== 'http:')
          throw new QuantLensError('io', `${this.name}: redirected to a ${url.protocol} URL`, start, this.name);
      }
      if (!retriable(reply) || attempt === RETRIES) {
        if (reply.networkError)
          throw new QuantLensError('io', `${this.name} at byte ${start}: network error (${reply.networkError})`, start, this.name);
        if (reply.status !== 200 && reply.status !== 206)
          throw new QuantLensError('io', `${this.name}: ${describeStatus(reply.status)}`, start, this.name);
        return reply;
      }
      yield { pauseMs: this.options.retryDelayMs?.(attempt) ?? 200 * 4 ** attempt };
    }
  }
}
