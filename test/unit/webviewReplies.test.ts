/**
 * The webview's request routing (webview/replies.ts): each request carries an id, each reply its request's id,
 * and a reply goes to the one who asked, whatever it holds. Before the ids, a "Show values" page of one token
 * (a vocabulary one more than a multiple of 100) landed in the token lookup, which asks for one token at a time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplyRouter } from '../../webview/replies.ts';
import type { FromWebview, Reply, ToWebview } from '../../src/shared/webviewProtocol.ts';

function router() {
  const sent: FromWebview[] = [];
  return { sent, replies: new ReplyRouter((m) => sent.push(m)) };
}
const idOf = (m: FromWebview) => ('id' in m ? m.id : assert.fail(`${m.type} is not a request`));

test('a one-value page of "Show values" goes to its button, a token looked up by id to the lookup', () => {
  const { sent, replies } = router();
  const page: Reply<'arrayPage'>[] = [];
  const lookup: Reply<'arrayPage'>[] = [];
  replies.request('arrayPage', { key: 'tokenizer.ggml.tokens', start: 7, count: 1 }, (m) => lookup.push(m));
  replies.request('arrayPage', { key: 'tokenizer.ggml.tokens', start: 200, count: 100 }, (m) => page.push(m));
  const [askedLookup, askedPage] = sent.map(idOf);
  assert.notEqual(askedLookup, askedPage);
  // the page is answered first, with the one value left at the end of a 201-token vocabulary
  assert.equal(
    replies.route({ type: 'arrayPage', key: 'tokenizer.ggml.tokens', start: 200, values: ['"tok200"'], inReplyTo: askedPage }),
    true,
  );
  assert.equal(
    replies.route({ type: 'arrayPage', key: 'tokenizer.ggml.tokens', start: 7, values: ['"tok7"'], inReplyTo: askedLookup }),
    true,
  );
  assert.deepEqual(
    page.map((m) => m.values),
    [['"tok200"']],
  );
  assert.deepEqual(
    lookup.map((m) => m.values),
    [['"tok7"']],
  );
  assert.equal(replies.pending, 0);
});

test("a job's replies reach its handler until its last one (jobDone or jobError); later ones are dropped", () => {
  const { sent, replies } = router();
  const got: string[] = [];
  replies.request('selectTensor', { tensor: 'a' }, (m) => got.push(m.type));
  const id = idOf(sent[0]);
  const answers: ToWebview[] = [
    { type: 'progress', label: 'a', done: 1, total: 2, inReplyTo: id },
    { type: 'heatmap', heatmap: { tensor: 'a', width: 1, height: 1, cells: [0], max: 0, rows: 1, columns: 1 }, inReplyTo: id },
    { type: 'jobDone', inReplyTo: id },
    { type: 'jobDone', inReplyTo: id },
  ];
  for (const m of answers) assert.equal(replies.route(m), true);
  assert.deepEqual(got, ['progress', 'heatmap', 'jobDone']);
  assert.equal(replies.pending, 0);
});

test('the request sent carries its type, body and a fresh id; notices are not replies', () => {
  const { sent, replies } = router();
  replies.request('findTokens', { query: '</s>' }, () => assert.fail('no reply was sent'));
  replies.request('block', { tensor: 't', index: 3 }, () => assert.fail('no reply was sent'));
  assert.deepEqual(sent, [
    { type: 'findTokens', query: '</s>', id: 1 },
    { type: 'block', tensor: 't', index: 3, id: 2 },
  ]);
  assert.equal(replies.route({ type: 'reveal', tensor: 't' }), false);
  assert.equal(replies.route({ type: 'imatrix', file: 'x.dat' }), false);
  assert.equal(replies.pending, 2);
});

test('a cancelled job ends with jobCancelled: later replies to it are dropped', () => {
  const { sent, replies } = router();
  const got: string[] = [];
  replies.request('whatIf', { tensor: 'a' }, (m) => got.push(m.type));
  const id = idOf(sent[0]);
  for (const m of [
    { type: 'progress', label: 'a', done: 1, total: 2, inReplyTo: id },
    { type: 'jobCancelled', tensor: 'a', inReplyTo: id },
    { type: 'jobDone', inReplyTo: id },
  ] satisfies ToWebview[])
    assert.equal(replies.route(m), true);
  assert.deepEqual(got, ['progress', 'jobCancelled']);
  assert.equal(replies.pending, 0);
});
