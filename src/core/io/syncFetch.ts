/**
 * A blocking HTTP request, for ByteSource.readSync on a remote file (the scans in the worker and the CLI read
 * synchronously). One helper thread per process does the fetch; the caller sleeps on a shared flag until the
 * reply is on the message port, then takes it with receiveMessageOnPort. Nothing is polled.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';

export interface HttpRequest {
  url: string;
  headers: Record<string, string>;
  method: 'GET';
  /** Read at most this many body bytes; a longer body is cut and `truncated` set. */
  maxBody: number;
}

export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
  truncated: boolean;
  /** A network failure (DNS, refused, reset): no status. */
  networkError?: string;
}

/**
 * The helper thread's code: the same fetchOnce (it uses nothing but globals, so its source runs as it is), then the
 * reply on the caller's port and a notify on its flag.
 */
const helperSource = () => `
const { parentPort } = require('node:worker_threads');
const fetchOnce = ${fetchOnce.toString()};
parentPort.on('message', async ({ request, port, flag }) => {
  port.postMessage(await fetchOnce(request));
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
`;

let helper: Worker | undefined;

function helperThread(): Worker {
  if (!helper) {
    helper = new Worker(helperSource(), { eval: true });
    helper.unref(); // never keeps the process alive
  }
  return helper;
}

/** Does one request and blocks until its reply (or a network error) is in. */
export function fetchSync(request: HttpRequest): HttpReply {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  try {
    helperThread().postMessage({ request, port: port2, flag }, [port2 as MessagePort]);
    Atomics.wait(flag, 0, 0);
    const message = receiveMessageOnPort(port1);
    if (!message) throw new Error('the HTTP helper thread woke without a reply');
    return message.message as HttpReply;
  } finally {
    port1.close();
  }
}

/**
 * One request without following redirects, its body read up to maxBody. The extension host and the header readers
 * call it directly; fetchSync runs it on the helper thread. It must use only globals (see helperSource).
 */
export async function fetchOnce(request: HttpRequest): Promise<HttpReply> {
  try {
    const res = await fetch(request.url, { method: request.method, headers: request.headers, redirect: 'manual' });
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      headers[k] = v;
    });
    const parts: Uint8Array[] = [];
    let size = 0;
    let truncated = false;
    const declared = Number(headers['content-length'] ?? NaN);
    if (declared > request.maxBody) {
      // Longer than wanted (a server ignoring the range): say so without downloading it.
      await res.body?.cancel();
      return { status: res.status, headers, body: new Uint8Array(0), truncated: true };
    }
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (size + value.length > request.maxBody) {
          parts.push(value.subarray(0, request.maxBody - size));
          size = request.maxBody;
          truncated = true;
          await reader.cancel();
          break;
        }
        parts.push(value);
        size += value.length;
      }
    }
    const body = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      body.set(p, at);
      at += p.length;
    }
    return { status: res.status, headers, body, truncated };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    return { status: 0, headers: {}, body: new Uint8Array(0), truncated: false, networkError: String(err.cause?.code ?? err.message ?? e) };
  }
}
