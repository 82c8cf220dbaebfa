/**
 * The Quant map tab: blocks × tensor kinds, each cell coloured by its type (bits per weight), by its error against a
 * reference, or by its measured output sensitivity (sensitivity.ts).
 */
import type { QuantMap } from '../src/core/analysis/quantMap.ts';
import type { Comparison } from '../src/core/compare/compare.ts';
import type { SensitivityView } from '../src/shared/webviewProtocol.ts';
import { h, fmt } from './dom.ts';
import { ERROR_SCALE, errorColor, heatGradient, labelColourOn, typeColor } from './colours.ts';
import { kldText, sensitivityColour, sensitivityLegend, sensitivityTitle } from './sensitivity.ts';
import * as l10n from './l10n.ts';

export type MapColour = 'type' | 'error' | 'sensitivity';

export function mapView(
  map: QuantMap,
  comparison: Comparison | undefined,
  colour: MapColour,
  on: { select(tensor: string): void; colourBy(colour: MapColour): void },
  sensitivity?: SensitivityView,
): HTMLElement {
  if (!map.blocks.length) return h('p', { class: 'muted' }, l10n.t('No blk.N / model.layers.N tensors: nothing to map.'));
  const errors = new Map(comparison?.tensors.map((t) => [t.name, t]));
  const byError = colour === 'error' && !!comparison;
  const bySensitivity = colour === 'sensitivity' && !!sensitivity;
  // a set of buttons laid out as a table, not an interactive grid: each cell is a button named by its tensor
  const grid = h('div', {
    class: 'quant-map',
    'data-testid': 'quant-map',
    role: 'group',
    'aria-label': l10n.t(
      'quant map: {0} blocks × {1} tensor kinds, coloured by {2}; each cell opens its tensor',
      map.blocks.length,
      map.kinds.length,
      bySensitivity ? 'output sensitivity' : byError ? 'error' : 'type',
    ),
  });
  grid.style.gridTemplateColumns = `max-content repeat(${map.kinds.length}, minmax(44px, 1fr))`;
  grid.appendChild(h('div', { class: 'map-corner' }, l10n.t('block')));
  for (const k of map.kinds) grid.appendChild(h('div', { class: 'map-kind', title: k }, k));
  const byKey = new Map(map.cells.map((c) => [`${c.block}|${c.kind}`, c]));
  const types = new Map<string, number>();
  for (const b of map.blocks) {
    grid.appendChild(h('div', { class: 'map-block' }, String(b)));
    for (const k of map.kinds) {
      const c = byKey.get(`${b}|${k}`);
      if (!c) {
        grid.appendChild(h('div', { class: 'map-cell empty' }));
        continue;
      }
      types.set(c.type, c.bitsPerWeight);
      const err = errors.get(c.tensor);
      const title = `${c.tensor}\n${c.type} · ${fmt(c.bitsPerWeight, 4)} bpw${err ? `\nrel. RMSE ${fmt(err.rel_rmse, 4)} · SNR ${err.snr_db === null ? '∞' : fmt(err.snr_db, 4)} dB` : ''}${sensitivity ? `\n${sensitivityTitle(sensitivity, c.tensor)}` : ''}`;
      const cell = h(
        'button',
        { class: 'map-cell', 'data-tensor': c.tensor, title, 'aria-label': title.replace(/\n/g, ', '), onclick: () => on.select(c.tensor) },
        bySensitivity ? kldText(sensitivity.kld[c.tensor]) : byError && err ? fmt(err.rel_rmse, 2) : c.type,
      );
      // a cell without a colour (no error measured, a type of unknown size) keeps the theme's own colours
      const kld = sensitivity?.kld[c.tensor];
      const background = bySensitivity
        ? kld !== undefined && sensitivityColour(kld)
        : byError
          ? err && errorColor(err.rel_rmse)
          : typeColor(c.bitsPerWeight);
      if (background) {
        cell.style.background = background;
        cell.style.color = labelColourOn(background);
      } else cell.classList.add('uncoloured');
      grid.appendChild(cell);
    }
  }
  const legend = bySensitivity
    ? sensitivityLegend(sensitivity)
    : byError
      ? errorLegend()
      : h(
          'div',
          { class: 'legend', 'data-testid': 'map-legend' },
          [...types]
            .sort((a, b) => a[1] - b[1])
            .map(([t, bits]) => {
              const sw = h('span', { class: 'swatch' });
              const colour = typeColor(bits);
              if (colour) sw.style.background = colour;
              else sw.classList.add('uncoloured');
              return h('span', { class: 'legend-item' }, sw, l10n.t(' {0} ({1} bpw)', t, fmt(bits, 3)));
            }),
        );
  const colourBy = h(
    'div',
    { class: 'seg', 'data-testid': 'map-colour' },
    (['type', 'error', 'sensitivity'] as const).map((k) =>
      h(
        'button',
        {
          class: `seg-btn${colour === k ? ' active' : ''}`,
          'aria-pressed': String(colour === k),
          'data-colour': k,
          disabled: (k === 'error' && !comparison) || (k === 'sensitivity' && !sensitivity),
          title:
            k === 'error' && !comparison
              ? 'Compare with a reference first'
              : k === 'sensitivity' && !sensitivity
                ? 'Run Measure Output Sensitivity… first'
                : undefined,
          onclick: () => on.colourBy(k),
        },
        k === 'type' ? 'colour by type' : k === 'error' ? 'colour by error' : 'colour by sensitivity',
      ),
    ),
  );
  const outside = map.outside.length
    ? h(
        'div',
        { class: 'outside' },
        l10n.t('Outside blocks: '),
        map.outside.map((o) =>
          h(
            'button',
            { class: 'link', onclick: () => on.select(o.tensor) },
            `${o.tensor} (${o.type}${bySensitivity && sensitivity.kld[o.tensor] !== undefined ? `, KLD ${kldText(sensitivity.kld[o.tensor])}` : ''})`,
          ),
        ),
      )
    : null;
  return h(
    'div',
    { class: 'map-view' },
    h('div', { class: 'map-bar' }, legend, colourBy),
    h('div', { class: 'map-scroll' }, grid),
    outside,
  );
}

/** The error scale's colour bar, its ticks as swatches a test (and a magnifier) can read, and a text alternative. */
export function errorLegend(): HTMLElement {
  const [first, last] = [Math.round(Math.log10(ERROR_SCALE.from)), Math.round(Math.log10(ERROR_SCALE.to))];
  const ticks = Array.from({ length: last - first + 1 }, (_, i) => 10 ** (first + i));
  const label = (e: number) => (e < 1e-3 ? e.toExponential(0) : String(e));
  const bar = h('span', { class: 'colour-bar', 'aria-hidden': 'true' });
  bar.style.background = heatGradient();
  return h(
    'div',
    {
      class: 'legend error-legend',
      'data-testid': 'map-legend',
      role: 'img',
      'aria-label': l10n.t(
        'colour by relative RMSE, log scale: {0} or less darkest, {1} or more lightest; each cell also shows its figure',
        label(ERROR_SCALE.from),
        label(ERROR_SCALE.to),
      ),
    },
    h('span', { class: 'legend-title' }, l10n.t('rel. RMSE')),
    h(
      'span',
      { class: 'colour-scale' },
      bar,
      h(
        'span',
        { class: 'colour-ticks' },
        ticks.map((e) => {
          const sw = h('span', { class: 'swatch', 'data-error': String(e) });
          sw.style.background = errorColor(e);
          return h('span', { class: 'legend-item' }, sw, ` ${label(e)}`);
        }),
      ),
    ),
  );
}
