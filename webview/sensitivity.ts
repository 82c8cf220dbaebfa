/**
 * The output-sensitivity colouring of the quant map and the table's KLD column (Measure Output Sensitivity…):
 * each tensor's KLD with only its group quantized, on the colour-blind-safe log scale of colours.ts (1e-5 to 1).
 */
import type { SensitivityView } from '../src/shared/webviewProtocol.ts';
import { h } from './dom.ts';
import { heatGradient, heatRgb } from './colours.ts';
import * as l10n from './l10n.ts';

/** The scale's range: KLD 1e-5 (and below, 0 included) to 1, on a log scale. */
const LOW = -5;

/** Colour of a KLD on the colour-blind-safe scale the error colouring uses (darkest: least sensitive). */
export function sensitivityColour(kld: number): string {
  const t = kld > 0 ? Math.max(0, Math.min(1, (Math.log10(kld) - LOW) / -LOW)) : 0;
  const [r, g, b] = heatRgb(t);
  return `rgb(${r}, ${g}, ${b})`;
}

/** A KLD in a cell: three significant digits. */
export const kldText = (kld: number | undefined) => (kld === undefined ? '–' : kld === 0 ? '0' : kld.toPrecision(2));

/** What a tensor's value means, for a tooltip. */
export const sensitivityTitle = (s: SensitivityView, tensor: string) =>
  s.kld[tensor] === undefined
    ? 'output sensitivity not measured'
    : `KLD ${s.kld[tensor].toPrecision(4)} with its ${s.by === 'kind' ? 'kind across all blocks' : 'block'} alone at ${s.quantType}`;

/** The scale's colour bar with its ticks, and a text alternative. */
export function sensitivityLegend(s: SensitivityView): HTMLElement {
  const what = `KLD with one ${s.by === 'kind' ? 'kind' : 'block'} at ${s.quantType}`;
  const bar = h('span', { class: 'colour-bar', 'aria-hidden': 'true' });
  bar.style.background = heatGradient();
  return h(
    'div',
    {
      class: 'legend error-legend',
      'data-testid': 'sensitivity-legend',
      role: 'img',
      'aria-label': l10n.t('colour by {0}, log scale: 1e-5 or less darkest, 1 or more lightest; each cell also shows its figure', what),
    },
    h('span', { class: 'legend-title' }, `${what}:`),
    h(
      'span',
      { class: 'colour-scale' },
      bar,
      h(
        'span',
        { class: 'colour-ticks' },
        [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1].map((v) => {
          const sw = h('span', { class: 'swatch' });
          sw.style.background = sensitivityColour(v);
          return h('span', { class: 'legend-item' }, sw, ` ${v < 1e-3 ? v.toExponential(0) : v}`);
        }),
      ),
    ),
  );
}
