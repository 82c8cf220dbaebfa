/** The Errors tab: every tensor compared with a reference, ranked by the precision it lost. */
import type { Comparison } from '../src/core/compare/compare.ts';
import { h, el, fmt, append } from './dom.ts';
import { errorColor } from './colours.ts';
import { SHAPE_ORDER, shapeMismatchText } from '../src/core/compare/shapeText.ts';

export function errorsView(
  comparison: Comparison | undefined,
  on: { select(tensor: string): void; compare(): void; report(reference: string): void },
): HTMLElement {
  const box = h('div', { class: 'errors', 'data-testid': 'errors' });
  if (!comparison) {
    box.append(
      h(
        'p',
        { class: 'muted' },
        'Compare this model with a reference — its source checkpoint (safetensors, single or sharded) or another quantization — to rank every tensor by the precision it lost.',
      ),
      el('vscode-button', { 'data-testid': 'errors-compare', onclick: () => on.compare() }, 'Compare with…'),
    );
    return box;
  }
  const c = comparison;
  const ranked = [...c.tensors].sort((a, b) => b.rel_rmse - a.rel_rmse);
  const maxErr = Math.max(...ranked.map((t) => t.rel_rmse).filter((x) => Number.isFinite(x)), 1e-12);
  append(box, [
    h(
      'div',
      { class: 'errors-head' },
      h('span', {}, `Against `, h('code', {}, c.reference.split(/[\\/]/).pop()!), ` · ${c.tensors.length} tensors paired`),
      el('vscode-button', { secondary: true, 'data-testid': 'errors-report', onclick: () => on.report(c.reference) }, 'Open as Markdown'),
    ),
    h(
      'table',
      { class: 'what-if ranked', 'data-testid': 'ranked-errors' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['#', 'tensor', 'type', 'reference', 'rel. RMSE', '', 'SNR dB', 'max abs', 'cosine'].map((x) => h('th', {}, x)),
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
            { 'data-tensor': t.name, class: 'clickable', onclick: () => on.select(t.name) },
            h('td', { class: 'num' }, i + 1),
            h('td', { class: 'mono' }, t.name),
            h('td', {}, t.type_name),
            h('td', {}, t.reference_type_name),
            h('td', { class: 'num' }, fmt(t.rel_rmse, 4)),
            h('td', { class: 'bar-cell' }, bar),
            h('td', { class: 'num' }, t.snr_db === null ? '∞' : fmt(t.snr_db, 4)),
            h('td', { class: 'num' }, fmt(t.max_abs, 4)),
            h('td', { class: 'num' }, fmt(t.cosine, 7)),
          );
        }),
      ),
    ),
    c.missingInReference.length ? h('p', { class: 'muted' }, `Not in the reference: ${c.missingInReference.join(', ')}`) : null,
    c.missingInModel.length ? h('p', { class: 'muted' }, `Only in the reference: ${c.missingInModel.join(', ')}`) : null,
    c.shapeMismatches.length
      ? h('p', { class: 'error-line' }, `Shapes differ (${SHAPE_ORDER}): ${c.shapeMismatches.map(shapeMismatchText).join('; ')}`)
      : null,
  ]);
  return box;
}
