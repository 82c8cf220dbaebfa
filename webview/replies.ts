/**
 * Requests to the extension host, and the routing of its replies: each request gets an id, each reply carries it
 * back (inReplyTo) and goes to the handler of the request it answers, until the request's last reply. No DOM.
 */
import {
  LAST_REPLIES,
  type FromWebview,
  type Reply,
  type Request,
  type RequestType,
  type Requests,
  type ToWebview,
} from '../src/shared/webviewProtocol.ts';

export type ReplyHandler<K extends RequestType> = (reply: Reply<K>) => void;

export class ReplyRouter {
  private nextId = 1;
  private readonly waiting = new Map<number, { type: RequestType; onReply: (reply: Reply) => void }>();

  constructor(private readonly send: (m: FromWebview) => void) {}

  /** Ask the host; its replies to this request, and only those, go to onReply. */
  request<K extends RequestType>(type: K, body: Requests[K], onReply: ReplyHandler<K>): void {
    const id = this.nextId++;
    this.waiting.set(id, { type, onReply: onReply as (reply: Reply) => void });
    // the body is this type's (request's signature): together they are a Request
    this.send({ ...body, type, id } as Request);
  }

  /**
   * Hand a reply to the handler of its request, and tell whether `m` was a reply at all (a notice is not). A
   * reply to a request that has had its last one is dropped.
   */
  route(m: ToWebview): m is Reply {
    if (!('inReplyTo' in m)) return false;
    const waiting = this.waiting.get(m.inReplyTo);
    if (!waiting) return true;
    if ((LAST_REPLIES[waiting.type] as readonly string[]).includes(m.type)) this.waiting.delete(m.inReplyTo);
    waiting.onReply(m);
    return true;
  }

  /** Requests still waiting for their last reply. */
  get pending(): number {
    return this.waiting.size;
  }
}
