/**
 * A real HTTP server on loopback for the remote-source tests, in its own process (a synchronous read in the test
 * process blocks that process's event loop, so the server cannot live there). It serves the files named on the
 * command line (`name=path`, read on demand, so a sparse 5 GB file costs nothing) with range requests as the Hub's
 * CDN does, and misbehaves as the request path says, before `/f/`:
 *   noranges          answers 200 with the whole file
 *   auth              401 unless `authorization: Bearer hf_test_token`
 *   fail=N            the first N requests of this exact path get 503
 *   redirect=H        302 to http://H/f/<name> (another host name for the same server, no options)
 *   lie=N             206 with a Content-Range N bytes off
 *   slow=MS           every reply waits MS ms (a slow link, for cancelling mid-scan)
 * GET /__stats gives {requests, bytesSent} as JSON; POST /__reset clears them; POST /__etag bumps every file's ETag
 * (the file "changed on the server"). Prints its port on stdout when listening.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

const files = new Map(process.argv.slice(2).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
let requests: { path: string; host?: string; range?: string; authorization?: string }[] = [];
let bytesSent = 0;
let etagVersion = 1;
const failures = new Map<string, number>();

function send(res: ServerResponse, status: number, headers: Record<string, string | number>, body?: Buffer): void {
  res.writeHead(status, { ...headers, 'content-length': body?.length ?? 0 });
  if (body) bytesSent += body.length;
  res.end(body);
}

function readSpan(path: string, start: number, end: number): Buffer {
  const out = Buffer.alloc(end - start);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, out, 0, out.length, start);
  } finally {
    closeSync(fd);
  }
  return out;
}

const server = createServer((req, res) => {
  const slow = /\/slow=(\d+)\//.exec(req.url ?? '');
  if (slow) setTimeout(() => handle(req, res), Number(slow[1]));
  else handle(req, res);
});

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/__stats')
    return send(res, 200, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ requests, bytesSent })));
  if (url.pathname === '/__reset') {
    requests = [];
    bytesSent = 0;
    return send(res, 204, {});
  }
  if (url.pathname === '/__etag') {
    etagVersion++;
    return send(res, 204, {});
  }
  requests.push({ path: url.pathname, host: req.headers.host, range: req.headers.range, authorization: req.headers.authorization });
  const at = url.pathname.indexOf('/f/');
  if (at < 0) return send(res, 404, {});
  const options = new Map(
    url.pathname
      .slice(1, at)
      .split('/')
      .filter(Boolean)
      .map((s) => [s.split('=')[0], s.split('=')[1] ?? '']),
  );
  const name = decodeURIComponent(url.pathname.slice(at + 3));
  if (options.has('fail')) {
    const failed = failures.get(url.pathname) ?? 0;
    if (failed < Number(options.get('fail'))) {
      failures.set(url.pathname, failed + 1);
      return send(res, 503, {});
    }
  }
  if (options.has('auth') && req.headers.authorization !== 'Bearer hf_test_token') return send(res, 401, {});
  if (options.has('redirect')) {
    // To the plain file on the other host: what the Hub does when it sends a download to its CDN.
    return send(res, 302, { location: `http://${options.get('redirect')}${url.pathname.slice(at)}` });
  }
  const path = files.get(name);
  if (!path) return send(res, 404, {});
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  closeSync(fd);
  const etag = `"${name}-v${etagVersion}"`;
  const range = /^bytes=(\d+)-(\d+)?$/.exec(req.headers.range ?? '');
  if (!range || options.has('noranges')) return send(res, 200, { etag }, readSpan(path, 0, size));
  const start = Number(range[1]);
  const end = Math.min(size, range[2] !== undefined ? Number(range[2]) + 1 : size);
  if (start >= size) return send(res, 416, { 'content-range': `bytes */${size}` });
  const shift = Number(options.get('lie') ?? 0);
  send(
    res,
    206,
    { 'content-range': `bytes ${start + shift}-${end - 1 + shift}/${size}`, etag, 'accept-ranges': 'bytes' },
    readSpan(path, start, end),
  );
}

server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
process.stdin.on('end', () => process.exit(0)); // the test process went away
process.stdin.resume();
