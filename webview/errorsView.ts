/** The Errors tab: every tensor compared with a reference, ranked by the precision it lost, with the model's aggregate. */
import type { Comparison, ComparedTensor } from '../src/core/compare/compare.ts';
import { h, el, fmt, append } from './dom.ts';
import { errorColor } from './colours.ts';
import { SHAPE_ORDER, shapeMismatchText } from '../src/core/compare/shapeText.ts';
import * as l10n from './l10n.ts';

/** The columns the table sorts by, each with the direction that puts the worst tensors first. */
const SORTS = {
  name: { label: 'tensor', worstFirst: 'ascending', value: (t: ComparedTensor) => t.name },
  rel_rmse: { label: 'rel. RMSE', worstFirst: 'descending', value: (t: ComparedTensor) => t.rel_rmse },
  snr_db: { label: 'SNR dB', worstFirst: 'ascending', value: (t: ComparedTensor) => t.snr_db ?? Infinity },
  max_abs: { label: 'max abs', worstFirst: 'descending', value: (t: ComparedTensor) => t.max_abs },
  cosine: { label: 'cosine', worstFirst: 'ascending', value: (t: ComparedTensor) => t.cosine },
} as const;
export type ErrorSortKey = keyof typeof SORTS;
export interface ErrorSort {
  key: ErrorSortKey;
  direction: 'ascending' | 'descending';
}
export const DEFAULT_ERROR_SORT: ErrorSort = { key: 'rel_rmse', direction: 'descending' };

/**
 * The model as a whole, each tensor weighted by its element count: the root of the mean squared relative RMSE,
 * the mean cosine, the lowest SNR and the largest absolute error.
 */
export function aggregateErrors(tensors: ComparedTensor[]): {
  relRmse: number;
  cosine: number;
  minSnr: number | null;
  maxAbs: number;
  count: number;
} {
  let n = 0;
  let relSq = 0;
  let cosine = 0;
  let minSnr: number | null = null;
  let maxAbs = 0;
  for (const t of tensors) {
    n += t.count;
    relSq += t.count * t.rel_rmse ** 2;
    cosine += t.count * t.cosine;
    if (t.snr_db !== null && (minSnr === null || t.snr_db < minSnr)) minSnr = t.snr_db;
    maxAbs = Math.max(maxAbs, t.max_abs);
  }
  return { relRmse: n ? Math.sqrt(relSq / n) : 0, cosine: n ? cosine / n : 1, minSnr, maxAbs, count: n };
}

export function errorsView(
  comparison: Comparison | undefined,
  sort: ErrorSort,
  on: { select(tensor: string): void; compare(): void; report(reference: string): void; sortBy(sort: ErrorSort): void },
): HTMLElement {
  const box = h('div', { class: 'errors', 'data-testid': 'errors' });
  if (!comparison) {
    box.append(
      h(
        'p',
        { class: 'muted' },
        l10n.t(
          'Compare this model with a reference — its source checkpoint (safetensors, single or sharded) or another quantization — to rank every tensor by the precision it lost.',
        ),
      ),
      el('vscode-button', { 'data-testid': 'errors-compare', onclick: () => on.compare() }, l10n.t('Compare with…')),
    );
    return box;
  }
  const c = comparison;
  const by = SORTS[sort.key].value;
  const sign = sort.direction === 'ascending' ? 1 : -1;
  const order = (x: string | number, y: string | number) =>
    typeof x === 'string' || typeof y === 'string' ? String(x).localeCompare(String(y)) : x === y ? 0 : x < y ? -1 : 1;
  const ranked = [...c.tensors].sort((a, b) => sign * order(by(a), by(b)) || a.name.localeCompare(b.name));
  const maxErr = Math.max(...ranked.map((t) => t.rel_rmse).filter((x) => Number.isFinite(x)), 1e-12);
  const whole = aggregateErrors(c.tensors);
  /** A header: a button that sorts by its column (worst first, then the other way), its state in aria-sort. */
  const header = (key: ErrorSortKey | undefined, label: string) => {
    if (!key) return h('th', {}, label);
    const active = sort.key === key;
    const next: ErrorSort = {
      key,
      direction: active ? (sort.direction === 'ascending' ? 'descending' : 'ascending') : SORTS[key].worstFirst,
    };
    return h(
      'th',
      { 'aria-sort': active ? sort.direction : 'none', 'data-sort': key },
      h(
        'button',
        { class: `sort-btn${active ? ' sorted' : ''}`, title: l10n.t('sort by {0}', label), onclick: () => on.sortBy(next) },
        label,
        active
          ? h('span', { class: `codicon codicon-arrow-${sort.direction === 'ascending' ? 'up' : 'down'}`, 'aria-hidden': 'true' })
          : null,
      ),
    );
  };
  const open = (name: string) => (e: Event) => {
    if (e instanceof KeyboardEvent && e.key !== 'Enter' && e.key !== ' ') return;
    e.preventDefault();
    on.select(name);
  };
  append(box, [
    h(
      'div',
      { class: 'errors-head' },
      h(
        'span',
        {},
        l10n.t('Against '),
        h('code', {}, c.reference.split(/[\\/]/).pop()!),
        l10n.t(' · {0} tensors paired', c.tensors.length),
      ),
      el(
        'vscode-button',
        { secondary: true, 'data-testid': 'errors-report', onclick: () => on.report(c.reference) },
        l10n.t('Open as Markdown'),
      ),
    ),
    h(
      'div',
      { class: 'ranked-scroll' },
      h(
        'table',
        { class: 'what-if ranked', 'data-testid': 'ranked-errors' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            header(undefined, '#'),
            header('name', 'tensor'),
            header(undefined, 'type'),
            header(undefined, 'reference'),
            header('rel_rmse', 'rel. RMSE'),
            h('th', { 'aria-label': l10n.t('rel. RMSE bar') }),
            header('snr_db', 'SNR dB'),
            header('max_abs', 'max abs'),
            header('cosine', 'cosine'),
          ),
        ),
        h(
          'tbody',
          {},
          ranked.map((t, i) => {
            const bar = h('div', { class: 'bar' });
            bar.style.width = `${Math.round((100 * t.rel_rmse) / maxErr)}%`;
            bar.style.background = errorColor(t.rel_rmse);
            return h(
              'tr',
              { 'data-tensor': t.name, class: 'clickable', tabindex: 0, onclick: open(t.name), onkeydown: open(t.name) },
              h('td', { class: 'num' }, i + 1),
              h('td', { class: 'mono' }, t.name),
              h('td', { class: 'type' }, t.type_name),
              h('td', { class: 'type' }, t.reference_type_name),
              h('td', { class: 'num' }, fmt(t.rel_rmse, 4)),
              h('td', { class: 'bar-cell' }, bar),
              h('td', { class: 'num' }, t.snr_db === null ? '∞' : fmt(t.snr_db, 4)),
              h('td', { class: 'num' }, fmt(t.max_abs, 4)),
              h('td', { class: 'num' }, fmt(t.cosine, 7)),
            );
          }),
        ),
        h(
          'tfoot',
          {},
          h(
            'tr',
            {
              'data-testid': 'errors-aggregate',
              title: l10n.t(
                'The whole model, each tensor weighted by its element count: root mean square rel. RMSE, lowest SNR, largest error, mean cosine',
              ),
            },
            h('td', {}, ''),
            h('th', { scope: 'row', colspan: 3 }, l10n.t('whole model ({0} tensors, weighted by elements)', c.tensors.length)),
            h('td', { class: 'num', 'data-testid': 'aggregate-rel-rmse' }, fmt(whole.relRmse, 4)),
            h('td', {}, ''),
            h('td', { class: 'num', 'data-testid': 'aggregate-snr' }, whole.minSnr === null ? '∞' : `min ${fmt(whole.minSnr, 4)}`),
            h('td', { class: 'num', 'data-testid': 'aggregate-max-abs' }, fmt(whole.maxAbs, 4)),
            h('td', { class: 'num', 'data-testid': 'aggregate-cosine' }, l10n.t('mean {0}', fmt(whole.cosine, 7))),
          ),
        ),
      ),
    ),
    c.missingInReference.length ? h('p', { class: 'muted' }, l10n.t('Not in the reference: {0}', c.missingInReference.join(', '))) : null,
    c.missingInModel.length ? h('p', { class: 'muted' }, l10n.t('Only in the reference: {0}', c.missingInModel.join(', '))) : null,
    c.shapeMismatches.length
      ? h(
          'p',
          { class: 'error-line' },
          l10n.t('Shapes differ ({0}): {1}', SHAPE_ORDER, c.shapeMismatches.map(shapeMismatchText).join('; ')),
        )
      : null,
  ]);
  return box;
}
