/** The Metadata tab: every key with its type and value, long arrays page by page, and the tokenizer lookup. */
import type { MetadataRow } from '../src/shared/webviewProtocol.ts';
import type { ReplyRouter } from './replies.ts';
import { h, el, clear, icon } from './dom.ts';

const TOKENS_KEY = 'tokenizer.ggml.tokens';
/** Values shown per click of "Show values". */
const PAGE = 100;

/** One token of the lookup's results: its id and its text as shown (JSON-quoted). */
const tokenLine = (id: number, text: string) =>
  h('div', { class: 'token' }, h('span', { class: 'token-id' }, String(id)), h('code', {}, text));

export function metadataView(rows: MetadataRow[], ask: ReplyRouter['request']): HTMLElement {
  const tokenBox = el('vscode-textfield', {
    placeholder: 'token text or id',
    'data-testid': 'token-query',
    'aria-label': 'Find a token',
  }) as HTMLInputElement;
  const tokenResults = h('div', { class: 'token-results', 'data-testid': 'token-results' });
  const hasTokens = rows.some((r) => r.key === TOKENS_KEY);
  tokenBox.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key !== 'Enter') return;
    const q = tokenBox.value;
    if (/^\d+$/.test(q.trim())) {
      ask('arrayPage', { key: TOKENS_KEY, start: Number(q), count: 1 }, (m) => {
        clear(tokenResults);
        tokenResults.append(...m.values.map((v, i) => tokenLine(m.start + i, v)));
      });
    } else {
      ask('findTokens', { query: q }, (m) => {
        clear(tokenResults);
        if (!m.matches.length) tokenResults.append(h('div', { class: 'muted' }, `no token contains ${JSON.stringify(m.query)}`));
        for (const t of m.matches) tokenResults.append(tokenLine(t.id, JSON.stringify(t.text)));
      });
    }
  });
  const body = h('tbody', {});
  for (const r of rows) {
    const value = h('td', { class: 'meta-value' });
    if (r.arrayLength !== undefined) {
      value.appendChild(h('span', {}, r.display));
      if (r.arrayLength > 8 && r.arrayType !== 'ARRAY') {
        const more = h('div', { class: 'array-page', 'data-key': r.key });
        let start = 0;
        const btn = el(
          'vscode-button',
          {
            secondary: true,
            'data-testid': `page-${r.key}`,
            onclick: () => {
              ask('arrayPage', { key: r.key, start, count: PAGE }, (m) => {
                more.append(
                  h(
                    'div',
                    { class: 'array-values' },
                    m.values.map((v, i) =>
                      h(
                        'span',
                        { class: 'array-value', title: `[${m.start + i}]` },
                        h('span', { class: 'muted' }, `${m.start + i}: `),
                        v,
                        ' ',
                      ),
                    ),
                  ),
                );
              });
              start += PAGE;
            },
          },
          'Show values',
        );
        value.append(' ', btn, more);
      }
    } else if (r.text !== undefined) {
      value.appendChild(h('details', {}, h('summary', {}, r.display), h('pre', { class: 'long-text' }, r.text)));
    } else {
      value.textContent = r.display;
    }
    body.appendChild(h('tr', {}, h('td', { class: 'meta-key' }, r.key), h('td', { class: 'meta-type' }, r.type), value));
  }
  return h(
    'div',
    { class: 'metadata' },
    hasTokens ? h('div', { class: 'token-lookup' }, h('label', {}, icon('search'), ' Tokenizer lookup '), tokenBox, tokenResults) : null,
    h(
      'table',
      { class: 'meta-table', 'data-testid': 'metadata-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Key'), h('th', {}, 'Type'), h('th', {}, 'Value'))),
      body,
    ),
  );
}
