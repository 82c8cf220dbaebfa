/**
 * The tensor detail panel: stats, weight histogram, scale distribution, |w| heatmap, block inspector (fields next
 * to raw bytes) and the what-if table with its error-vs-bits chart.
 */
import type { GroupView, LogicalRow, Requests, Tell, TensorRow, WebviewSettings } from '../src/shared/webviewProtocol.ts';
import type { WeightChecks } from '../src/shared/workerProtocol.ts';
import type { InspectedBlock } from '../src/core/analysis/inspectedBlock.ts';
import type { Heatmap } from '../src/core/analysis/heatmap.ts';
import type { TensorStats } from '../src/core/analysis/tensorStats.ts';
import type { ScaleDistribution } from '../src/core/analysis/blocks.ts';
import type { WhatIfRow } from '../src/core/analysis/whatIf.ts';
import type { TensorComparisonDetail } from '../src/core/compare/compare.ts';
import { h, el, clear, fmt, bytes, icon, themeColor, append } from './dom.ts';
import { drawHistogram, drawErrorVsBits } from './charts.ts';

export function statsTooltip(name: string, s: TensorStats): string {
  return `${name}\nmin ${fmt(s.min)}  max ${fmt(s.max)}\nmean ${fmt(s.mean)}  std ${fmt(s.std)}\nzeros ${s.zero_count}${s.nan_count ? `  NaN ${s.nan_count}` : ''}`;
}

const STAT_FIELDS: [keyof TensorStats, string][] = [
  ['count', 'values'],
  ['min', 'min'],
  ['max', 'max'],
  ['mean', 'mean'],
  ['std', 'std'],
  ['rms', 'rms'],
  ['absmax', 'absmax'],
  ['zero_count', 'zeros'],
  ['nan_count', 'NaN'],
  ['posinf_count', '+Inf'],
  ['neginf_count', '−Inf'],
];

/** What the panel sends the host: requests about the tensor shown (the editor routes their replies here), and tells. */
export type DetailRequest = 'block' | 'group' | 'whatIf' | 'candidateError';
export interface DetailHost {
  ask<K extends DetailRequest>(type: K, body: Requests[K]): void;
  tell(m: Tell): void;
}

export class TensorDetail {
  readonly element: HTMLElement;
  private row: TensorRow | undefined;
  private stats: TensorStats | undefined;
  private scales: ScaleDistribution | null | undefined;
  private scaleSeries: 'sub' | 'd' | 'dmin' = 'sub';
  private block: InspectedBlock | undefined;
  private imatrixFile: string | undefined;
  /** A what-if table was asked for and has not come: its error shows in the What if section, where the user is. */
  private whatIfPending = false;

  /** The importance matrix in use (undefined: none, after Unload), and what of the model it covers. */
  setImatrix(file: string | undefined, coverage?: string): void {
    this.imatrixFile = file && `${file}${coverage ? ` (${coverage})` : ''}`;
    this.q('imatrix-note')?.replaceWith(this.imatrixNote());
  }

  /** Asks for the what-if table with the user's own candidates (comma- or space-separated), if any. */
  private askWhatIf(tensor: string): void {
    const typed = (this.q('what-if-candidates') as HTMLInputElement | null)?.value ?? '';
    const candidates = typed.split(/[\s,]+/).filter(Boolean);
    this.host.ask('whatIf', { tensor, candidates });
    this.whatIfPending = true;
    const box = this.q('what-if-table');
    if (box) {
      clear(box);
      box.append(h('p', { class: 'muted', 'data-testid': 'what-if-computing' }, 'Computing the what-if table…'));
    }
    // the results appear in the What if section: bring it into view, where they (or an error) will show
    this.q('what-if-section')?.scrollIntoView({ block: 'start' });
  }

  /** What the what-if error is weighted by, with Unload when an importance matrix is in use. */
  private imatrixNote(): HTMLElement {
    return h(
      'p',
      { class: 'muted small', 'data-testid': 'imatrix-note' },
      ...(this.imatrixFile
        ? [
            `Error weighted by the importance matrix ${this.imatrixFile}. `,
            el(
              'vscode-button',
              {
                secondary: true,
                'data-testid': 'unload-imatrix',
                onclick: () => this.host.tell({ type: 'command', command: 'unloadImatrix' }),
              },
              'Unload',
            ),
          ]
        : ['Load a llama.cpp importance matrix to weight the error by how much each input column is used.']),
    );
  }

  constructor(
    private readonly host: DetailHost,
    private settings: WebviewSettings,
  ) {
    this.element = h(
      'aside',
      { class: 'detail', 'data-testid': 'detail' },
      h('p', { class: 'muted empty-detail' }, 'Select a tensor to see its statistics, histogram, block scales and blocks.'),
    );
  }

  /** Redraw the charts (after a theme change: chart colours come from the theme). */
  redraw(): void {
    this.drawHistogram();
    if (this.row && this.scales !== undefined) this.onScales(this.row.name, this.scales);
  }

  setSettings(s: WebviewSettings): void {
    this.settings = s;
    this.drawHistogram();
  }

  private q<T extends Element = HTMLElement>(testid: string): T | null {
    return this.element.querySelector<T>(`[data-testid="${testid}"]`);
  }

  show(row: TensorRow, concept: string): void {
    this.row = row;
    this.stats = undefined;
    this.scales = undefined;
    this.block = undefined;
    this.whatIfPending = false;
    clear(this.element);
    // a new tensor starts at its name, not where the last one was scrolled to
    this.element.scrollTop = 0;
    const logBox = el('vscode-checkbox', {
      label: 'log scale',
      'data-testid': 'log-scale',
      checked: this.settings.histogramScale === 'log',
    }) as HTMLInputElement;
    logBox.addEventListener('change', () => {
      this.settings = { ...this.settings, histogramScale: logBox.checked ? 'log' : 'linear' };
      this.drawHistogram();
    });
    append(this.element, [
      h(
        'div',
        { class: 'detail-head' },
        h('h2', { 'data-testid': 'detail-name' }, row.name),
        h(
          'div',
          { class: 'chips' },
          h('span', { class: `type-chip family-${row.family}`, 'data-testid': 'detail-type' }, row.type),
          h('span', { class: 'chip' }, `[${row.shape.join(' × ')}]`),
          h('span', { class: 'chip' }, `${Number.isFinite(row.bitsPerWeight) ? fmt(row.bitsPerWeight, 4) : '?'} bpw`),
          h('span', { class: 'chip' }, bytes(row.nbytes)),
        ),
        h('p', { class: 'concept' }, concept),
        h(
          'div',
          { class: 'detail-actions' },
          el('vscode-button', { 'data-testid': 'what-if', disabled: !row.decodable, onclick: () => this.askWhatIf(row.name) }, 'What if…'),
          row.logical
            ? null
            : el(
                'vscode-button',
                {
                  secondary: true,
                  'data-testid': 'requantize',
                  onclick: () => this.host.tell({ type: 'command', command: 'requantize', tensors: [row.name] }),
                },
                'Requantize…',
              ),
          el('vscode-button', { secondary: true, 'data-testid': 'cancel', onclick: () => this.host.tell({ type: 'cancel' }) }, 'Cancel'),
        ),
      ),
      h('div', { class: 'job', 'data-testid': 'job', role: 'status', 'aria-live': 'polite' }),
      row.decodable
        ? null
        : h(
            'div',
            { class: 'error-line', role: 'alert', 'data-testid': 'tensor-error' },
            icon('error'),
            ` ${row.logical?.error ?? `${row.type}: this tensor cannot be decoded`}; everything else in the file is usable.`,
          ),
      row.logical ? logicalSection(row.logical) : null,
      h(
        'section',
        {},
        h('h3', {}, 'Statistics ', h('span', { class: 'muted' }, '(every value, exact)')),
        h('dl', { class: 'stats', 'data-testid': 'stats' }),
      ),
      h('section', { class: 'against', 'data-testid': 'against' }),
      h(
        'section',
        {},
        h('div', { class: 'section-head' }, h('h3', {}, 'Weight histogram'), logBox),
        h(
          'div',
          { class: 'chart-box' },
          h('canvas', {
            id: 'histogram',
            'data-testid': 'histogram',
            role: 'img',
            'aria-label': `weight histogram of ${row.name}; the statistics above give its exact figures`,
          }),
        ),
      ),
      row.quantized
        ? h(
            'section',
            {},
            h('div', { class: 'section-head' }, h('h3', {}, 'Block scales'), h('div', { class: 'seg', 'data-testid': 'scale-series' })),
            h(
              'div',
              { class: 'chart-box small' },
              h('canvas', {
                id: 'scales',
                'data-testid': 'scales',
                role: 'img',
                'aria-label': `distribution of the block scales of ${row.name}; the note below summarises it`,
              }),
            ),
            h('p', { class: 'muted', 'data-testid': 'scales-note' }),
          )
        : null,
      ...this.valueSections(row),
    ]);
  }

  /** The heatmap, the block inspector (a logical weight: its group inspector) and the what-if sections. */
  private valueSections(row: TensorRow): HTMLElement[] {
    return [
      h(
        'section',
        {},
        h('h3', {}, '|w| heatmap ', h('span', { class: 'muted' }, '(max per cell; rows down, columns across)')),
        h(
          'div',
          { class: 'heatmap-box' },
          h('canvas', {
            id: 'heatmap',
            'data-testid': 'heatmap',
            width: 1,
            height: 1,
            role: 'img',
            'aria-label': 'heatmap of |w| over the rows and columns of this tensor, brighter for larger magnitudes',
          }),
          h('div', { class: 'muted', 'data-testid': 'heatmap-scale' }),
        ),
      ),
      row.logical
        ? h('section', { class: 'inspector' }, h('h3', {}, 'Group inspector'), h('div', { 'data-testid': 'group-inspector' }))
        : h('section', { class: 'inspector' }, h('h3', {}, 'Block inspector'), h('div', { 'data-testid': 'block-inspector' })),
      h(
        'section',
        { 'data-testid': 'what-if-section' },
        h(
          'div',
          { class: 'section-head' },
          h('h3', {}, 'What if'),
          el(
            'vscode-button',
            { secondary: true, 'data-testid': 'load-imatrix', onclick: () => this.host.tell({ type: 'command', command: 'loadImatrix' }) },
            'Importance matrix…',
          ),
        ),
        this.imatrixNote(),
        h(
          'label',
          { class: 'small candidates' },
          'More candidates ',
          el('vscode-textfield', {
            'data-testid': 'what-if-candidates',
            placeholder: 'q5_1, iq4_nl, int4-asym-g64 …',
            'aria-label': 'more what-if candidates: ggml types or schemes, separated by commas',
          }),
        ),
        h(
          'div',
          { 'data-testid': 'what-if-table', 'aria-live': 'polite' },
          h('p', { class: 'muted' }, 'Compute the error every candidate type or scheme would give this tensor.'),
        ),
      ),
    ];
  }

  /** `fetched`: bytes received so far for a model opened by URL. */
  onProgress(label: string, done: number, total: number, fetched?: number): void {
    const box = this.q('job');
    if (!box) return;
    clear(box);
    if (done >= total) return;
    const bar = el('vscode-progress-bar', { value: String(done / total), max: '1' });
    const got = fetched ? ` · ${bytes(fetched)} fetched` : '';
    box.append(h('span', { class: 'muted', 'data-testid': 'job-progress' }, `${label} ${Math.floor((100 * done) / total)}%${got}`), bar);
  }

  /** A job's one-line error; one about another tensor (cancelled when this one was selected) is not shown. */
  onError(message: string, tensor?: string): void {
    if (tensor !== undefined && tensor !== this.row?.name) return;
    const box = this.q('job');
    if (!box) return;
    clear(box);
    box.append(h('div', { class: 'error-line', role: 'alert', 'data-testid': 'job-error' }, icon('error'), ` ${message}`));
    const table = this.whatIfPending ? this.q('what-if-table') : null;
    if (table) {
      this.whatIfPending = false;
      clear(table);
      table.append(h('div', { class: 'error-line', 'data-testid': 'what-if-error' }, icon('error'), ` ${message}`));
      table.scrollIntoView({ block: 'nearest' });
    }
  }

  onStats(tensor: string, s: TensorStats): void {
    if (tensor !== this.row?.name) return;
    this.stats = s;
    const dl = this.q('stats')!;
    clear(dl);
    for (const [k, label] of STAT_FIELDS) {
      const v = s[k] as number;
      if ((k === 'nan_count' || k === 'posinf_count' || k === 'neginf_count') && !v) continue;
      dl.append(
        h(
          'div',
          { class: 'stat' },
          h('dt', {}, label),
          h(
            'dd',
            { 'data-testid': `stat-${k}`, 'data-value': String(v), title: String(v) },
            typeof v === 'number' && Number.isInteger(v) && k.endsWith('count') ? String(v) : fmt(v, 6),
          ),
        ),
      );
    }
    this.drawHistogram();
  }

  private drawHistogram(): void {
    const canvas = this.q<HTMLCanvasElement>('histogram');
    if (!canvas || !this.stats?.histogram) return;
    canvas.dataset.drawn = 'false';
    drawHistogram(
      canvas,
      [{ label: 'weights', histogram: this.stats.histogram, color: themeColor('charts-blue', '#3794ff') }],
      this.settings.histogramScale,
      () => {
        canvas.dataset.drawn = 'true';
      },
    );
  }

  onScales(tensor: string, scales: ScaleDistribution | null): void {
    if (tensor !== this.row?.name) return;
    this.scales = scales;
    const seg = this.q('scale-series');
    if (!seg || !scales) return;
    clear(seg);
    const options: ['sub' | 'd' | 'dmin', string][] = [];
    if (scales.sub) options.push(['sub', 'sub-block scales']);
    options.push(['d', scales.groups ? 'group scales' : scales.subBlocksPerBlock ? 'super-block d' : 'block scale d']);
    if (scales.dmin)
      options.push([
        'dmin',
        scales.groups ? (scales.groups.zeroKind === 'bias' ? 'biases' : 'zero points') : scales.subBlocksPerBlock ? 'dmin' : 'block min m',
      ]);
    if (!options.some(([k]) => k === this.scaleSeries)) this.scaleSeries = options[0][0];
    for (const [k, label] of options) {
      seg.append(
        h(
          'button',
          {
            class: `seg-btn${k === this.scaleSeries ? ' active' : ''}`,
            'aria-pressed': String(k === this.scaleSeries),
            'data-series': k,
            onclick: () => {
              this.scaleSeries = k;
              this.onScales(tensor, scales);
            },
          },
          label,
        ),
      );
    }
    const s = scales[this.scaleSeries]!;
    const canvas = this.q<HTMLCanvasElement>('scales')!;
    if (s.histogram)
      drawHistogram(canvas, [{ label: this.scaleSeries, histogram: s.histogram, color: themeColor('charts-purple', '#b180d7') }], 'linear');
    const note = this.q('scales-note')!;
    const what = scales.groups
      ? `${scales.groups.rows} rows × ${scales.groups.groupsPerRow} groups`
      : `${scales.blocks} blocks${scales.subBlocksPerBlock ? ` × ${scales.subBlocksPerBlock} sub-blocks` : ''}`;
    const series = options.find(([k]) => k === this.scaleSeries)![1];
    note.textContent = `${what}: ${series} from ${fmt(s.min)} to ${fmt(s.max)}, mean ${fmt(s.mean)}. A long right tail means a few blocks hold outliers that stretch their scale.`;
  }

  onCandidateError(tensor: string, candidate: string, s: TensorStats): void {
    if (tensor !== this.row?.name) return;
    const box = this.q('candidate-error');
    if (!box || !s.histogram) return;
    clear(box);
    const canvas = h('canvas', { 'data-testid': 'candidate-error-histogram' });
    box.append(
      h(
        'div',
        { class: 'muted small' },
        `error of ${candidate} (reconstruction − original): mean ${fmt(s.mean)}, std ${fmt(s.std)}, from ${fmt(s.min)} to ${fmt(s.max)}, ${s.zero_count} weights exact`,
      ),
      h('div', { class: 'chart-box small' }, canvas),
    );
    drawHistogram(
      canvas,
      [{ label: `${candidate} error`, histogram: s.histogram, color: themeColor('charts-red', '#f14c4c') }],
      'log',
      () => {
        canvas.dataset.drawn = 'true';
      },
    );
  }

  onComparison(c: TensorComparisonDetail): void {
    if (c.name !== this.row?.name) return;
    const box = this.q('against');
    if (!box) return;
    clear(box);
    const overlay = h('canvas', { 'data-testid': 'overlay' });
    const errorHist = h('canvas', { 'data-testid': 'error-histogram' });
    const heat = h('canvas', { 'data-testid': 'error-heatmap', width: 1, height: 1 });
    const m = c.metrics;
    box.append(
      h('h3', {}, 'Against the reference'),
      h(
        'p',
        { 'data-testid': 'against-metrics' },
        `rel. RMSE ${fmt(m.rel_rmse, 4)} · SNR ${m.snr_db === null ? '∞' : fmt(m.snr_db, 4)} dB · max |error| ${fmt(m.max_abs, 4)} · cosine ${fmt(m.cosine, 7)}`,
      ),
      h('div', { class: 'chart-box small' }, overlay),
      h('div', { class: 'muted small' }, 'error = this file − reference'),
      h('div', { class: 'chart-box small' }, errorHist),
      h('div', { class: 'heatmap-box' }, heat, h('div', { class: 'muted' }, `|error| per cell, black 0 → yellow ${fmt(c.heatmap.max)}`)),
    );
    if (c.values.counts.length) {
      drawHistogram(
        overlay,
        [
          { label: 'this file', histogram: c.values, color: themeColor('charts-blue', '#3794ff') },
          { label: 'reference', histogram: c.referenceValues, color: themeColor('charts-orange', '#d18616') },
        ],
        'log',
      );
    }
    if (c.error.counts.length)
      drawHistogram(errorHist, [{ label: 'error', histogram: c.error, color: themeColor('charts-red', '#f14c4c') }], 'log');
    paintHeatmap(heat, c.heatmap);
  }

  onHeatmap(m: Heatmap): void {
    if (m.tensor !== this.row?.name) return;
    const canvas = this.q<HTMLCanvasElement>('heatmap');
    if (!canvas) return;
    paintHeatmap(canvas, m);
    this.q('heatmap-scale')!.textContent = `${m.height} × ${m.width} cells · black 0 → yellow ${fmt(m.max)} (sqrt scale)`;
  }

  onBlock(v: InspectedBlock): void {
    if (v.tensor !== this.row?.name) return;
    this.block = v;
    const box = this.q('block-inspector')!;
    clear(box);
    const index = el('vscode-textfield', {
      type: 'number',
      value: String(v.blockIndex),
      min: 0,
      max: v.blockCount - 1,
      'data-testid': 'block-index',
      'aria-label': 'block index',
    }) as HTMLInputElement;
    const go = (i: number) => this.host.ask('block', { tensor: v.tensor, index: Math.max(0, Math.min(v.blockCount - 1, i)) });
    index.addEventListener('change', () => go(Number(index.value)));
    const hex = h(
      'div',
      { class: 'hex', 'data-testid': 'block-hex' },
      v.raw.map((b, i) => h('span', { class: 'byte', 'data-i': i }, b.toString(16).padStart(2, '0'))),
    );
    const highlight = (from: number, size: number, on: boolean) => {
      for (const s of hex.querySelectorAll<HTMLElement>('.byte')) {
        const i = Number(s.dataset.i);
        s.classList.toggle('hl', on && i >= from && i < from + size);
      }
    };
    box.append(
      h(
        'div',
        { class: 'block-nav' },
        el('vscode-button', {
          secondary: true,
          icon: 'chevron-left',
          'aria-label': 'previous block',
          title: 'previous block',
          onclick: () => go(v.blockIndex - 1),
        }),
        h('span', {}, 'block '),
        index,
        h('span', { class: 'muted' }, ` of ${v.blockCount} · file offset ${v.offset}`),
        el('vscode-button', {
          secondary: true,
          icon: 'chevron-right',
          'aria-label': 'next block',
          title: 'next block',
          onclick: () => go(v.blockIndex + 1),
        }),
      ),
      h(
        'table',
        { class: 'fields', 'data-testid': 'block-fields' },
        h('thead', {}, h('tr', {}, h('th', {}, 'field'), h('th', {}, 'bytes'), h('th', {}, 'decoded'))),
        h(
          'tbody',
          {},
          v.record.fields.map((f) =>
            h(
              'tr',
              {
                'data-field': f.name,
                onmouseenter: () => highlight(f.offset, f.size, true),
                onmouseleave: () => highlight(f.offset, f.size, false),
              },
              h('td', { class: 'field-name' }, f.name),
              h('td', { class: 'muted' }, f.size ? `${f.offset}..${f.offset + f.size - 1}` : '—'),
              h(
                'td',
                {},
                h(
                  'div',
                  { class: 'field-values' },
                  f.values.length > 64
                    ? `${f.values
                        .slice(0, 64)
                        .map((x) => fmt(x, 4))
                        .join(' ')} … (${f.values.length})`
                    : f.values.map((x) => fmt(x, 6)).join(' '),
                ),
                f.note ? h('div', { class: 'muted small' }, f.note) : null,
              ),
            ),
          ),
        ),
      ),
      h('div', { class: 'muted small' }, `raw bytes (${v.raw.length}) — hover a field to highlight its bytes`),
      hex,
      h('div', { class: 'muted small' }, `dequantized values (${v.values.length})`),
      h(
        'div',
        { class: 'values', 'data-testid': 'block-values' },
        v.values
          .slice(0, 256)
          .map((x) => fmt(x, 4))
          .join('  '),
      ),
    );
  }

  /** A logical weight's group: its scale and zero, each column's stored code and value, the bytes they come from. */
  /** A logical weight's data-level checks: its complete scheme, and its diagnostics (act-order, v1 zero overflow ...). */
  onChecks(c: WeightChecks): void {
    if (c.tensor !== this.row?.name || !this.row.logical) return;
    const chip = this.q('detail-type');
    if (chip) chip.textContent = c.scheme;
    const notes = [...(c.error ? [c.error] : []), ...c.diagnostics];
    const list = this.q('diagnostics');
    if (!list) return;
    clear(list);
    list.append(...notes.map((d) => h('li', {}, d)));
  }

  onGroup(v: GroupView): void {
    if (v.weight !== this.row?.name) return;
    const box = this.q('group-inspector');
    if (!box) return;
    clear(box);
    const dims = this.scales?.groups;
    const field = (label: string, value: number, max: number | undefined, testid: string) => {
      const input = el('vscode-textfield', {
        type: 'number',
        value: String(value),
        min: 0,
        max,
        'data-testid': testid,
        'aria-label': label,
      }) as HTMLInputElement;
      input.addEventListener('change', () =>
        go(testid === 'group-row' ? Number(input.value) : v.row, testid === 'group-col' ? Number(input.value) : v.group),
      );
      return input;
    };
    const go = (row: number, group: number) => {
      const clamp = (x: number, n: number | undefined) => Math.max(0, n === undefined ? x : Math.min(n - 1, x));
      this.host.ask('group', { tensor: v.weight, row: clamp(row, dims?.rows), group: clamp(group, dims?.groupsPerRow) });
    };
    box.append(
      h(
        'div',
        { class: 'block-nav' },
        el('vscode-button', {
          secondary: true,
          icon: 'chevron-left',
          'aria-label': 'previous group',
          title: 'previous group',
          onclick: () => go(v.row, v.group - 1),
        }),
        h('span', {}, 'row '),
        field('row', v.row, dims?.rows, 'group-row'),
        h('span', { class: 'muted' }, dims ? ` of ${dims.rows}` : ''),
        h('span', {}, ' group '),
        field('group', v.group, dims?.groupsPerRow, 'group-col'),
        h('span', { class: 'muted' }, dims ? ` of ${dims.groupsPerRow}` : ''),
        el('vscode-button', {
          secondary: true,
          icon: 'chevron-right',
          'aria-label': 'next group',
          title: 'next group',
          onclick: () => go(v.row, v.group + 1),
        }),
      ),
      h(
        'p',
        { 'data-testid': 'group-params' },
        `scale ${fmt(v.scale, 6)}`,
        v.zero === undefined ? '' : ` · ${v.zeroKind === 'bias' ? 'bias' : 'zero point'} ${fmt(v.zero, 6)}`,
        ` · ${v.columns.length} columns`,
      ),
      h(
        'div',
        { class: 'values', 'data-testid': 'group-values' },
        v.columns
          .slice(0, 256)
          .map((c, i) =>
            h(
              'span',
              { class: 'group-value', 'data-col': c, title: `column ${c}: code ${v.codes[i]} → ${v.values[i]}` },
              `${v.codes[i]}→${fmt(v.values[i], 4)} `,
            ),
          ),
      ),
      h(
        'table',
        { class: 'fields', 'data-testid': 'group-sources' },
        h('thead', {}, h('tr', {}, h('th', {}, 'component'), h('th', {}, 'file offset'), h('th', {}, 'bytes'))),
        h(
          'tbody',
          {},
          v.sources.slice(0, 64).map((s) =>
            h(
              'tr',
              { 'data-role': s.role, title: `${s.tensor} in ${s.file}` },
              h('td', { class: 'field-name' }, s.role),
              h('td', { class: 'muted' }, `${s.offset}..${s.offset + s.length - 1}`),
              h(
                'td',
                {},
                h(
                  'span',
                  { class: 'hex' },
                  s.bytes
                    .slice(0, 32)
                    .map((b) => b.toString(16).padStart(2, '0'))
                    .join(' ') + (s.bytes.length > 32 ? ` … (${s.bytes.length})` : ''),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  onWhatIf(tensor: string, rows: WhatIfRow[]): void {
    if (tensor !== this.row?.name) return;
    this.whatIfPending = false;
    const box = this.q('what-if-table')!;
    clear(box);
    const canvas = h('canvas', { 'data-testid': 'error-vs-bits' });
    const weighted = rows.some((r) => r.metrics.weighted_rel_rmse !== undefined);
    const requantization =
      this.row?.family !== 'float'
        ? h(
            'p',
            { class: 'note small', 'data-testid': 'what-if-requantization' },
            icon('info'),
            ` This tensor is already ${this.row?.type}: these figures are the error of quantizing its dequantized values again, not the precision it lost when it was made. For that, compare the model with its float source (Compare With…, then the Errors tab).`,
          )
        : null;
    box.append(
      requantization ?? '',
      h(
        'div',
        {
          class: 'chart-box small',
          role: 'img',
          'aria-label': `error against bits per weight for ${rows.length} candidates; the table below lists them`,
        },
        canvas,
      ),
      h(
        'table',
        { class: 'what-if', 'aria-label': `what-if error of ${tensor}` },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['candidate', 'bpw', 'size', 'rel. RMSE', ...(weighted ? ['imatrix-weighted'] : []), 'SNR dB', 'max abs', 'cosine'].map((c) =>
              h('th', {}, c),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          [...rows]
            .sort((a, b) => b.bitsPerWeight - a.bitsPerWeight)
            .map((r) =>
              h(
                'tr',
                {
                  class: `clickable${r.current ? ' current' : ''}`,
                  'data-candidate': r.candidate,
                  title: "Show the distribution of this candidate's error",
                  tabindex: 0,
                  onclick: () => this.host.ask('candidateError', { tensor, candidate: r.candidate }),
                  onkeydown: (e: Event) => {
                    if ((e as KeyboardEvent).key !== 'Enter' && (e as KeyboardEvent).key !== ' ') return;
                    e.preventDefault();
                    this.host.ask('candidateError', { tensor, candidate: r.candidate });
                  },
                },
                h('td', {}, r.label, r.current ? h('span', { class: 'chip' }, 'current') : null),
                h('td', { class: 'num' }, fmt(r.bitsPerWeight, 4)),
                h('td', { class: 'num' }, bytes(r.bytes)),
                h('td', { class: 'num' }, fmt(r.metrics.rel_rmse, 4)),
                weighted ? h('td', { class: 'num' }, fmt(r.metrics.weighted_rel_rmse, 4)) : null,
                h('td', { class: 'num' }, r.metrics.snr_db === null ? '∞' : fmt(r.metrics.snr_db, 4)),
                h('td', { class: 'num' }, fmt(r.metrics.max_abs, 4)),
                h('td', { class: 'num' }, fmt(r.metrics.cosine, 7)),
              ),
            ),
        ),
      ),
      h('div', { 'data-testid': 'candidate-error' }),
      h(
        'p',
        { class: 'muted small' },
        this.row?.logical
          ? 'Re-quantization error of the dequantized values: each candidate re-quantizes this weight as decoded, so the figures are not the checkpoint’s own loss; Compare with the original checkpoint gives that.'
          : this.row?.family === 'float'
            ? "Error against this tensor's own values."
            : "Requantization error: against this tensor's dequantized values (a source file via Compare gives the error against the original).",
      ),
    );
    box.scrollIntoView({ block: 'nearest' });
    drawErrorVsBits(
      canvas,
      rows.map((r) => ({
        label: r.label,
        bits: r.bitsPerWeight,
        error: r.metrics.weighted_rel_rmse ?? r.metrics.rel_rmse,
        current: r.current,
        ggml: r.label.includes('(ggml)'),
      })),
    );
  }
}

/** A logical weight's components (the tensors it is decoded from) and its diagnostics. */
function logicalSection(l: LogicalRow): HTMLElement {
  return h(
    'section',
    {},
    h('h3', {}, 'Components ', h('span', { class: 'muted' }, `(${l.format}, as stored)`)),
    h(
      'table',
      { class: 'fields', 'data-testid': 'components' },
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, 'role'), h('th', {}, 'tensor'), h('th', {}, 'shape'), h('th', {}, 'dtype'), h('th', {}, 'bytes')),
      ),
      h(
        'tbody',
        {},
        l.components.map((c) =>
          h(
            'tr',
            { 'data-component': c.name, title: `file offset ${c.offset}` },
            h('td', { class: 'field-name' }, c.role),
            h('td', {}, c.name),
            h('td', {}, `[${c.shape.join(' × ')}]`),
            h('td', {}, c.dtype),
            h('td', { class: 'num' }, bytes(c.nbytes)),
          ),
        ),
      ),
    ),
    // header-level findings now; the data-level ones arrive with the weight's checks (onChecks)
    h(
      'ul',
      { class: 'muted small', 'data-testid': 'diagnostics', 'aria-label': 'diagnostics' },
      l.diagnostics.map((d) => h('li', {}, d)),
    ),
  );
}

/** A max-per-cell grid to pixels, sqrt scale so outliers stand out without flattening the rest. */
function paintHeatmap(canvas: HTMLCanvasElement, m: { width: number; height: number; cells: number[]; max: number }): void {
  canvas.width = m.width;
  canvas.height = m.height;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(m.width, m.height);
  const max = m.max || 1;
  for (let i = 0; i < m.cells.length; i++) {
    // sqrt scale so that outliers stand out without flattening the rest
    const t = Math.sqrt(Math.min(1, m.cells[i] / max));
    img.data[4 * i] = Math.round(255 * Math.min(1, 2 * t));
    img.data[4 * i + 1] = Math.round(255 * Math.max(0, 2 * t - 1));
    img.data[4 * i + 2] = Math.round(80 * (1 - t));
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}
