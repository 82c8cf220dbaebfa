/**
 * The output-sensitivity colouring of the quant map and the table's KLD column (Measure Output Sensitivity…):
 * each tensor's KLD with only its group quantized, on a log scale from green (1e-5) to red (1).
 */
import type { SensitivityView } from '../src/shared/webviewProtocol.ts';
import { h } from './dom.ts';

const LOW = -5;

/** Colour of a KLD, as an hsl() colour (labelColourOn reads it). */
export function sensitivityColour(kld: number): string {
  if (!(kld > 0)) return 'hsl(130, 60%, 42%)';
  const t = Math.max(0, Math.min(1, (Math.log10(kld) - LOW) / -LOW));
  return `hsl(${Math.round(130 * (1 - t))}, 60%, 42%)`;
}

/** A KLD in a cell: three significant digits. */
export const kldText = (kld: number | undefined) => (kld === undefined ? '–' : kld === 0 ? '0' : kld.toPrecision(2));

/** What a tensor's value means, for a tooltip. */
export const sensitivityTitle = (s: SensitivityView, tensor: string) =>
  s.kld[tensor] === undefined
    ? 'output sensitivity not measured'
    : `KLD ${s.kld[tensor].toPrecision(4)} with its ${s.by === 'kind' ? 'kind across all blocks' : 'block'} alone at ${s.quantType}`;

export function sensitivityLegend(s: SensitivityView): HTMLElement {
  return h(
    'div',
    { class: 'legend', 'data-testid': 'sensitivity-legend' },
    `KLD with one ${s.by === 'kind' ? 'kind' : 'block'} at ${s.quantType}: `,
    [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1].map((v) => {
      const sw = h('span', { class: 'swatch' });
      sw.style.background = sensitivityColour(v);
      return h('span', { class: 'legend-item' }, sw, ` ${v}`);
    }),
  );
}
