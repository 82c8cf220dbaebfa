/**
 * The Metadata tab: every key with its type and value, a search over keys and string values (Ctrl+F / Cmd+F),
 * long arrays page by page, and the tokenizer lookup.
 */
import type { MetadataRow, Reply } from '../src/shared/webviewProtocol.ts';
import type { ReplyRouter } from './replies.ts';
import { h, el, clear, icon } from './dom.ts';
import * as l10n from './l10n.ts';

const TOKENS_KEY = 'tokenizer.ggml.tokens';
/** Values shown per click of "Show values". */
const PAGE = 100;

/** One token of the lookup's results: its id, its text as stored (JSON-quoted) and what it stands for when that differs. */
function tokenLine(t: { id: number; text: string; decoded: string }): HTMLElement {
  return h(
    'div',
    { class: 'token', 'data-token-id': t.id },
    h('span', { class: 'token-id' }, String(t.id)),
    h('code', { 'data-testid': 'token-text' }, JSON.stringify(t.text)),
    t.decoded !== t.text
      ? h('span', { class: 'token-decoded', 'data-testid': 'token-decoded' }, ' = ', h('code', {}, JSON.stringify(t.decoded)))
      : null,
  );
}

/** The lookup's answer: the tokens, "first 50 of 1,234" when capped, or why there are none. */
function lookupResult(m: Reply<'findTokens'>): HTMLElement[] {
  if (m.problem) return [h('div', { class: 'muted', 'data-testid': 'token-problem' }, m.problem)];
  if (!m.matches.length)
    return [h('div', { class: 'muted', 'data-testid': 'token-problem' }, l10n.t('no token contains {0}', JSON.stringify(m.searched)))];
  const spelled = m.searched !== m.query ? ` (searched as ${JSON.stringify(m.searched)})` : '';
  const count =
    m.total > m.matches.length
      ? `first ${m.matches.length} of ${m.total.toLocaleString('en-US')} tokens containing ${JSON.stringify(m.query)}${spelled}`
      : `${m.total.toLocaleString('en-US')} token${m.total === 1 ? '' : 's'}${/^\s*\d+\s*$/.test(m.query) ? '' : ` containing ${JSON.stringify(m.query)}${spelled}`}`;
  return [h('div', { class: 'muted', 'data-testid': 'token-count' }, count), ...m.matches.map(tokenLine)];
}

/** Whether a metadata row matches the search: every word in its key, or in its value when that is text. */
function rowMatches(r: MetadataRow, words: string[]): boolean {
  const key = r.key.toLowerCase();
  const value = r.type === 'STRING' ? (r.text ?? r.display).toLowerCase() : '';
  return words.every((w) => key.includes(w) || value.includes(w));
}

export function metadataView(rows: MetadataRow[], ask: ReplyRouter['request']): HTMLElement {
  const tokenBox = el('vscode-textfield', {
    placeholder: l10n.t('token text or id'),
    'data-testid': 'token-query',
    'aria-label': l10n.t('Find a token'),
  }) as HTMLInputElement;
  const tokenResults = h('div', { class: 'token-results', 'data-testid': 'token-results', 'aria-live': 'polite' });
  const hasTokens = rows.some((r) => r.key === TOKENS_KEY);
  tokenBox.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key !== 'Enter') return;
    // the previous answer goes at once: a slow or failed lookup never leaves it standing as if it were this one's
    clear(tokenResults);
    ask('findTokens', { query: tokenBox.value }, (m) => {
      clear(tokenResults);
      tokenResults.append(...lookupResult(m));
    });
  });

  const search = el('vscode-textfield', {
    placeholder: l10n.t('Search keys and values (Ctrl+F)'),
    'data-testid': 'metadata-search',
    'aria-label': l10n.t('Search metadata keys and values'),
    'aria-keyshortcuts': 'Control+F Meta+F',
  }) as HTMLInputElement;
  search.appendChild(h('span', { slot: 'content-before', class: 'codicon codicon-search' }));
  const searchCount = h('span', {
    class: 'muted meta-search-count',
    'data-testid': 'metadata-search-count',
    role: 'status',
    'aria-live': 'polite',
  });

  const body = h('tbody', {});
  const tableRows: [MetadataRow, HTMLElement][] = [];
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
          l10n.t('Show values'),
        );
        value.append(' ', btn, more);
      }
    } else if (r.text !== undefined) {
      value.appendChild(h('details', {}, h('summary', {}, r.display), h('pre', { class: 'long-text' }, r.text)));
    } else {
      value.textContent = r.display;
    }
    const tr = h('tr', { 'data-key': r.key }, h('td', { class: 'meta-key' }, r.key), h('td', { class: 'meta-type' }, r.type), value);
    tableRows.push([r, tr]);
    body.appendChild(tr);
  }

  const applySearch = () => {
    const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const [r, tr] of tableRows) {
      const match = !words.length || rowMatches(r, words);
      tr.hidden = !match;
      if (match) shown++;
    }
    searchCount.textContent = words.length ? `${shown} of ${rows.length} keys match` : '';
  };
  search.addEventListener('input', applySearch);
  search.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key !== 'Escape' || !search.value) return;
    e.stopPropagation();
    search.value = '';
    applySearch();
  });

  return h(
    'div',
    { class: 'metadata' },
    h('div', { class: 'toolbar meta-search' }, search, searchCount),
    hasTokens
      ? h('div', { class: 'token-lookup' }, h('label', {}, icon('search'), l10n.t(' Tokenizer lookup ')), tokenBox, tokenResults)
      : null,
    h(
      'table',
      { class: 'meta-table', 'data-testid': 'metadata-table' },
      h('thead', {}, h('tr', {}, h('th', {}, l10n.t('Key')), h('th', {}, l10n.t('Type')), h('th', {}, l10n.t('Value')))),
      body,
    ),
  );
}
