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
import { h, el, clear, fmt, bytes, icon, append } from './dom.ts';
import { drawHistogram, drawErrorVsBits, canvasPng } from './charts.ts';
import { heatGradient, heatRgb } from './colours.ts';
import * as l10n from './l10n.ts';

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
  /** Whether the tensor has a row in the Errors tab (after Compare) and a cell in the quant map, and going there. */
  inErrors(tensor: string): boolean;
  inMap(tensor: string): boolean;
  showInErrors(tensor: string): void;
  showInMap(tensor: string): void;
}

/** A heatmap on the page: its cells, and the tensor rows and columns they cover. */
type PaintedHeatmap = Pick<Heatmap, 'width' | 'height' | 'cells' | 'max' | 'rows' | 'columns'>;

/** The rows and columns [from, to) that cell (x, y) covers (core/analysis/heatmap.ts maps row r to cell ⌊r·height/rows⌋). */
export function cellSpan(m: Pick<Heatmap, 'width' | 'height' | 'rows' | 'columns'>, x: number, y: number) {
  const edge = (i: number, cells: number, n: number) => Math.ceil((i * n) / cells);
  return {
    rows: [edge(y, m.height, m.rows), edge(y + 1, m.height, m.rows)],
    columns: [edge(x, m.width, m.columns), edge(x + 1, m.width, m.columns)],
  };
}

/** "rows 4–5" / "row 4" of a [from, to) span. */
function span(word: string, [from, to]: number[]): string {
  return to - from > 1 ? `${word}s ${from}–${to - 1}` : `${word} ${from}`;
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
  private heatmap: Heatmap | undefined;
  /** The |error| heatmap against the reference, once compared. */
  private errorHeatmap: PaintedHeatmap | undefined;
  private running = false;

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
      box.append(h('p', { class: 'muted', 'data-testid': 'what-if-computing' }, l10n.t('Computing the what-if table…')));
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
              l10n.t('Unload'),
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
      h('p', { class: 'muted empty-detail' }, l10n.t('Select a tensor to see its statistics, histogram, block scales and blocks.')),
    );
  }

  /** Whether a job of the editor runs: Cancel shows only then. */
  setRunning(running: boolean): void {
    this.running = running;
    const cancel = this.q('cancel');
    if (cancel) cancel.hidden = !running;
  }

  /** A "Save as PNG" button for the canvas `testid` (a chart or a heatmap), saved through the extension. */
  private saveButton(testid: string, what: string): HTMLElement {
    return el('vscode-button', {
      secondary: true,
      icon: 'save',
      class: 'save-png',
      'data-testid': `save-${testid}`,
      title: l10n.t('Save the {0} as PNG', what),
      'aria-label': l10n.t('Save the {0} as PNG', what),
      onclick: () => {
        const canvas = this.q<HTMLCanvasElement>(testid);
        if (!canvas || !this.row) return;
        const name = `${this.row.name.replace(/[^\w.-]+/g, '_')}-${testid}.png`;
        this.host.tell({ type: 'savePng', name, png: canvasPng(canvas) });
      },
    });
  }

  /** Links to where else this tensor shows: its Errors row (once compared) and its quant map cell. */
  updateLinks(): void {
    const box = this.q('detail-links');
    const row = this.row;
    if (!box || !row) return;
    clear(box);
    if (this.host.inErrors(row.name))
      box.append(
        h(
          'button',
          { class: 'link', 'data-testid': 'link-errors', onclick: () => this.host.showInErrors(row.name) },
          icon('list-ordered'),
          l10n.t(' its Errors row'),
        ),
      );
    if (this.host.inMap(row.name))
      box.append(
        h(
          'button',
          { class: 'link', 'data-testid': 'link-map', onclick: () => this.host.showInMap(row.name) },
          icon('table'),
          l10n.t(' its map cell'),
        ),
      );
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
    this.heatmap = undefined;
    this.errorHeatmap = undefined;
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
          h('span', { class: 'chip' }, l10n.t('{0} bpw', Number.isFinite(row.bitsPerWeight) ? fmt(row.bitsPerWeight, 4) : '?')),
          h('span', { class: 'chip' }, bytes(row.nbytes)),
        ),
        h('p', { class: 'concept' }, concept),
        h(
          'div',
          { class: 'detail-actions' },
          el(
            'vscode-button',
            { 'data-testid': 'what-if', disabled: !row.decodable, onclick: () => this.askWhatIf(row.name) },
            l10n.t('What if…'),
          ),
          row.logical
            ? null
            : el(
                'vscode-button',
                {
                  secondary: true,
                  'data-testid': 'requantize',
                  onclick: () => this.host.tell({ type: 'command', command: 'requantize', tensors: [row.name] }),
                },
                l10n.t('Requantize…'),
              ),
          el(
            'vscode-button',
            { secondary: true, 'data-testid': 'cancel', hidden: !this.running, onclick: () => this.host.tell({ type: 'cancel' }) },
            l10n.t('Cancel'),
          ),
        ),
        h('div', { class: 'detail-links', 'data-testid': 'detail-links' }),
      ),
      h('div', { class: 'job', 'data-testid': 'job', role: 'status', 'aria-live': 'polite' }),
      row.decodable
        ? null
        : h(
            'div',
            { class: 'error-line', role: 'alert', 'data-testid': 'tensor-error' },
            icon('error'),
            l10n.t(' {0}; everything else in the file is usable.', row.logical?.error ?? `${row.type}: this tensor cannot be decoded`),
          ),
      row.logical ? logicalSection(row.logical) : null,
      h(
        'section',
        {},
        h('h3', {}, l10n.t('Statistics '), h('span', { class: 'muted' }, l10n.t('(every value, exact)'))),
        h('dl', { class: 'stats', 'data-testid': 'stats' }),
      ),
      h('section', { class: 'against', 'data-testid': 'against' }),
      h(
        'section',
        {},
        h(
          'div',
          { class: 'section-head' },
          h('h3', {}, l10n.t('Weight histogram')),
          h('div', { class: 'section-tools' }, logBox, this.saveButton('histogram', 'weight histogram')),
        ),
        h(
          'div',
          { class: 'chart-box' },
          h('canvas', {
            id: 'histogram',
            'data-testid': 'histogram',
            role: 'img',
            'aria-label': l10n.t('weight histogram of {0}; the statistics above give its exact figures', row.name),
          }),
        ),
      ),
      row.quantized
        ? h(
            'section',
            {},
            h(
              'div',
              { class: 'section-head' },
              h('h3', {}, l10n.t('Block scales')),
              h(
                'div',
                { class: 'section-tools' },
                h('div', { class: 'seg', 'data-testid': 'scale-series' }),
                this.saveButton('scales', 'block scales chart'),
              ),
            ),
            h(
              'div',
              { class: 'chart-box small' },
              h('canvas', {
                id: 'scales',
                'data-testid': 'scales',
                role: 'img',
                'aria-label': l10n.t('distribution of the block scales of {0}; the note below summarises it', row.name),
              }),
            ),
            h('p', { class: 'muted', 'data-testid': 'scales-note' }),
          )
        : null,
      ...this.valueSections(row),
    ]);
    this.updateLinks();
  }

  /** The heatmap, the block inspector (a logical weight: its group inspector) and the what-if sections. */
  private valueSections(row: TensorRow): HTMLElement[] {
    return [
      h(
        'section',
        {},
        h(
          'div',
          { class: 'section-head' },
          h('h3', {}, l10n.t('|w| heatmap '), h('span', { class: 'muted' }, l10n.t('(max per cell; rows down, columns across)'))),
          this.saveButton('heatmap', '|w| heatmap'),
        ),
        h(
          'div',
          { class: 'heatmap-box' },
          this.heatmapCanvas(
            'heatmap',
            'max |w|',
            () => this.heatmap,
            l10n.t(
              'heatmap of |w| over the rows and columns of this tensor, lighter for larger magnitudes; arrow keys move over its cells, Enter inspects the block of one',
            ),
          ),
          h('div', { class: 'heat-tip', 'data-testid': 'heatmap-tip', role: 'tooltip', hidden: true }),
          h('div', { class: 'heatmap-bar', 'data-testid': 'heatmap-bar' }),
          h('div', { class: 'muted', 'data-testid': 'heatmap-scale' }),
        ),
      ),
      row.logical
        ? h('section', { class: 'inspector' }, h('h3', {}, l10n.t('Group inspector')), h('div', { 'data-testid': 'group-inspector' }))
        : h('section', { class: 'inspector' }, h('h3', {}, l10n.t('Block inspector')), h('div', { 'data-testid': 'block-inspector' })),
      h(
        'section',
        { 'data-testid': 'what-if-section' },
        h(
          'div',
          { class: 'section-head' },
          h('h3', {}, l10n.t('What if')),
          el(
            'vscode-button',
            { secondary: true, 'data-testid': 'load-imatrix', onclick: () => this.host.tell({ type: 'command', command: 'loadImatrix' }) },
            l10n.t('Importance matrix…'),
          ),
        ),
        this.imatrixNote(),
        h(
          'label',
          { class: 'small candidates' },
          l10n.t('More candidates '),
          el('vscode-textfield', {
            'data-testid': 'what-if-candidates',
            placeholder: l10n.t('q5_1, iq4_nl, int4-asym-g64 …'),
            'aria-label': l10n.t('more what-if candidates: ggml types or schemes, separated by commas'),
          }),
        ),
        h(
          'div',
          { 'data-testid': 'what-if-table', 'aria-live': 'polite' },
          h('p', { class: 'muted' }, l10n.t('Compute the error every candidate type or scheme would give this tensor.')),
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

  /**
   * A job the user cancelled (or left by selecting again): said as such, not as an error, with a button that asks
   * again. One about another tensor is not shown.
   */
  onCancelled(tensor: string | undefined, again: () => void): void {
    if (tensor !== undefined && tensor !== this.row?.name) return;
    const box = this.q('job');
    if (!box) return;
    const cancelled = () =>
      h(
        'div',
        { class: 'cancelled', 'data-testid': 'job-cancelled' },
        icon('circle-slash'),
        h('span', {}, l10n.t('Cancelled')),
        el('vscode-button', { secondary: true, 'data-testid': 'compute-again', onclick: () => again() }, l10n.t('Compute again')),
      );
    box.replaceChildren(cancelled());
    const table = this.whatIfPending ? this.q('what-if-table') : null;
    if (table) {
      this.whatIfPending = false;
      table.replaceChildren(
        h('p', { class: 'muted' }, l10n.t('The what-if table was cancelled: Compute again above, or What if… once more.')),
      );
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
    drawHistogram(canvas, [{ label: 'weights', histogram: this.stats.histogram, colour: 'blue' }], this.settings.histogramScale, () => {
      canvas.dataset.drawn = 'true';
    });
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
    if (s.histogram) drawHistogram(canvas, [{ label: this.scaleSeries, histogram: s.histogram, colour: 'purple' }], 'linear');
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
        l10n.t(
          'error of {0} (reconstruction − original): mean {1}, std {2}, from {3} to {4}, {5} weights exact',
          candidate,
          fmt(s.mean),
          fmt(s.std),
          fmt(s.min),
          fmt(s.max),
          s.zero_count,
        ),
      ),
      h('div', { class: 'chart-box small' }, canvas),
    );
    drawHistogram(canvas, [{ label: `${candidate} error`, histogram: s.histogram, colour: 'red' }], 'log', () => {
      canvas.dataset.drawn = 'true';
    });
  }

  onComparison(c: TensorComparisonDetail): void {
    if (c.name !== this.row?.name) return;
    const box = this.q('against');
    if (!box) return;
    clear(box);
    const overlay = h('canvas', { 'data-testid': 'overlay' });
    const errorHist = h('canvas', { 'data-testid': 'error-histogram' });
    this.errorHeatmap = c.heatmap;
    const heat = this.heatmapCanvas(
      'error-heatmap',
      'max |error|',
      () => this.errorHeatmap,
      l10n.t(
        'heatmap of |error| against the reference over the rows and columns of this tensor, lighter for larger errors; arrow keys move over its cells, Enter inspects the block of one',
      ),
    );
    const m = c.metrics;
    box.append(
      h('h3', {}, l10n.t('Against the reference')),
      h(
        'p',
        { 'data-testid': 'against-metrics' },
        l10n.t(
          'rel. RMSE {0} · SNR {1} dB · max |error| {2} · cosine {3}',
          fmt(m.rel_rmse, 4),
          m.snr_db === null ? '∞' : fmt(m.snr_db, 4),
          fmt(m.max_abs, 4),
          fmt(m.cosine, 7),
        ),
      ),
      h('div', { class: 'section-head' }, h('span', { class: 'muted small' }, l10n.t('values')), this.saveButton('overlay', 'overlay')),
      h('div', { class: 'chart-box small' }, overlay),
      h('div', { class: 'muted small' }, l10n.t('this file filled, the reference outlined')),
      h(
        'div',
        { class: 'section-head' },
        h('span', { class: 'muted small' }, l10n.t('error = this file − reference')),
        this.saveButton('error-histogram', 'error histogram'),
      ),
      h('div', { class: 'chart-box small' }, errorHist),
      h(
        'div',
        { class: 'heatmap-box' },
        heat,
        h('div', { class: 'heat-tip', 'data-testid': 'error-heatmap-tip', role: 'tooltip', hidden: true }),
        colourBar(c.heatmap.max, '|error|'),
        h('div', { class: 'muted' }, l10n.t('|error| per cell (sqrt scale), dark 0 → light yellow {0}', fmt(c.heatmap.max))),
      ),
    );
    if (c.values.counts.length) {
      drawHistogram(
        overlay,
        [
          { label: 'this file', histogram: c.values, colour: 'blue' },
          { label: 'reference', histogram: c.referenceValues, colour: 'yellow' },
        ],
        'log',
      );
    }
    if (c.error.counts.length) drawHistogram(errorHist, [{ label: 'error', histogram: c.error, colour: 'red' }], 'log');
    paintHeatmap(heat, c.heatmap);
  }

  onHeatmap(m: Heatmap): void {
    if (m.tensor !== this.row?.name) return;
    const canvas = this.q<HTMLCanvasElement>('heatmap');
    if (!canvas) return;
    this.heatmap = m;
    paintHeatmap(canvas, m);
    this.q('heatmap-bar')?.replaceChildren(colourBar(m.max, 'max |w|'));
    this.q('heatmap-scale')!.textContent =
      `${m.height} × ${m.width} cells over ${m.rows} rows × ${m.columns} columns · dark 0 → light yellow ${fmt(m.max)} (sqrt scale) · hover a cell for its figure, click it to inspect its block`;
  }

  /**
   * A heatmap's canvas (`testid`: the |w| heatmap, or the |error| one against the reference): a cell's rows, columns
   * and value on hover (or the arrow keys) in the tip `testid-tip`, its block on click (or Enter).
   */
  private heatmapCanvas(testid: string, what: string, heat: () => PaintedHeatmap | undefined, label: string): HTMLCanvasElement {
    const canvas = h('canvas', { id: testid, 'data-testid': testid, width: 1, height: 1, tabindex: 0, role: 'img', 'aria-label': label });
    /** The cell the keyboard is on. */
    let cursor = { x: 0, y: 0 };
    const show = (cell: { x: number; y: number } | undefined) => this.showHeatCell(canvas, this.q(`${testid}-tip`), heat(), what, cell);
    const cellAt = (e: MouseEvent) => {
      const r = canvas.getBoundingClientRect();
      const m = heat();
      if (!m || !r.width || !r.height) return undefined;
      const x = Math.floor(((e.clientX - r.left - canvas.clientLeft) / canvas.clientWidth) * m.width);
      const y = Math.floor(((e.clientY - r.top - canvas.clientTop) / canvas.clientHeight) * m.height);
      return x >= 0 && y >= 0 && x < m.width && y < m.height ? { x, y } : undefined;
    };
    canvas.addEventListener('mousemove', (e) => show(cellAt(e)));
    canvas.addEventListener('mouseleave', () => show(undefined));
    canvas.addEventListener('click', (e) => {
      const cell = cellAt(e);
      const m = heat();
      if (cell && m) this.inspectHeatCell(m, cell);
    });
    canvas.addEventListener('blur', () => show(undefined));
    canvas.addEventListener('keydown', (e) => {
      const m = heat();
      if (!m) return;
      const moves: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
      if (e.key in moves) {
        const [dx, dy] = moves[e.key];
        cursor = { x: Math.max(0, Math.min(m.width - 1, cursor.x + dx)), y: Math.max(0, Math.min(m.height - 1, cursor.y + dy)) };
        show(cursor);
      } else if (e.key === 'Enter' || e.key === ' ') this.inspectHeatCell(m, cursor);
      else return;
      e.preventDefault();
    });
    canvas.addEventListener('focus', () => show(cursor));
    return canvas;
  }

  /** Where a heatmap cell starts: the block (a logical weight: the group) holding its first weight. */
  private heatCellTarget(
    m: PaintedHeatmap,
    cell: { x: number; y: number },
  ): { row: number; column: number; block?: number; group?: number } {
    const { rows, columns } = cellSpan(m, cell.x, cell.y);
    const target = { row: rows[0], column: columns[0] };
    const groups = this.scales?.groups;
    if (this.row?.logical) return groups ? { ...target, group: Math.floor((columns[0] * groups.groupsPerRow) / m.columns) } : target;
    if (!this.block) return target;
    const blockSize = Math.max(1, Math.round((this.row?.nElements ?? 0) / this.block.blockCount));
    return { ...target, block: Math.floor((rows[0] * m.columns + columns[0]) / blockSize) };
  }

  private showHeatCell(
    canvas: HTMLCanvasElement,
    tip: HTMLElement | null,
    m: PaintedHeatmap | undefined,
    what: string,
    cell: { x: number; y: number } | undefined,
  ): void {
    if (!tip) return;
    if (!cell || !m) {
      tip.hidden = true;
      return;
    }
    const { rows, columns } = cellSpan(m, cell.x, cell.y);
    const target = this.heatCellTarget(m, cell);
    const where = target.block !== undefined ? ` · block ${target.block}` : target.group !== undefined ? ` · group ${target.group}` : '';
    const value = m.cells[cell.y * m.width + cell.x];
    tip.textContent = `${span('row', rows)} · ${span('column', columns)} · ${what} ${fmt(value, 4)}${where}`;
    tip.dataset.value = String(value);
    tip.hidden = false;
    // beside the cell, inside the box
    const left = canvas.offsetLeft + ((cell.x + 1) / m.width) * canvas.clientWidth + 8;
    const top = canvas.offsetTop + (cell.y / m.height) * canvas.clientHeight;
    tip.style.left = `${Math.min(left, canvas.offsetLeft + canvas.clientWidth - 40)}px`;
    tip.style.top = `${top}px`;
  }

  /** Open the block (a logical weight: the group) where a heatmap cell starts, and bring the inspector into view. */
  private inspectHeatCell(m: PaintedHeatmap, cell: { x: number; y: number }): void {
    const target = this.heatCellTarget(m, cell);
    const row = this.row;
    if (!row) return;
    if (target.block !== undefined) this.host.ask('block', { tensor: row.name, index: target.block });
    else if (target.group !== undefined) this.host.ask('group', { tensor: row.name, row: target.row, group: target.group });
    else return;
    this.element.querySelector('.inspector')?.scrollIntoView({ block: 'start' });
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
      'aria-label': l10n.t('block index'),
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
          'aria-label': l10n.t('previous block'),
          title: l10n.t('previous block'),
          onclick: () => go(v.blockIndex - 1),
        }),
        h('span', {}, l10n.t('block ')),
        index,
        h('span', { class: 'muted' }, l10n.t(' of {0} · file offset {1}', v.blockCount, v.offset)),
        el('vscode-button', {
          secondary: true,
          icon: 'chevron-right',
          'aria-label': l10n.t('next block'),
          title: l10n.t('next block'),
          onclick: () => go(v.blockIndex + 1),
        }),
      ),
      h(
        'table',
        { class: 'fields', 'data-testid': 'block-fields' },
        h('thead', {}, h('tr', {}, h('th', {}, l10n.t('field')), h('th', {}, l10n.t('bytes')), h('th', {}, l10n.t('decoded')))),
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
      h('div', { class: 'muted small' }, l10n.t('raw bytes ({0}) — hover a field to highlight its bytes', v.raw.length)),
      hex,
      h('div', { class: 'muted small' }, l10n.t('dequantized values ({0})', v.values.length)),
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
          'aria-label': l10n.t('previous group'),
          title: l10n.t('previous group'),
          onclick: () => go(v.row, v.group - 1),
        }),
        h('span', {}, l10n.t('row ')),
        field('row', v.row, dims?.rows, 'group-row'),
        h('span', { class: 'muted' }, dims ? ` of ${dims.rows}` : ''),
        h('span', {}, l10n.t(' group ')),
        field('group', v.group, dims?.groupsPerRow, 'group-col'),
        h('span', { class: 'muted' }, dims ? ` of ${dims.groupsPerRow}` : ''),
        el('vscode-button', {
          secondary: true,
          icon: 'chevron-right',
          'aria-label': l10n.t('next group'),
          title: l10n.t('next group'),
          onclick: () => go(v.row, v.group + 1),
        }),
      ),
      h(
        'p',
        { 'data-testid': 'group-params' },
        l10n.t('scale {0}', fmt(v.scale, 6)),
        v.zero === undefined ? '' : ` · ${v.zeroKind === 'bias' ? 'bias' : 'zero point'} ${fmt(v.zero, 6)}`,
        l10n.t(' · {0} columns', v.columns.length),
      ),
      h(
        'div',
        { class: 'values', 'data-testid': 'group-values' },
        v.columns
          .slice(0, 256)
          .map((c, i) =>
            h(
              'span',
              { class: 'group-value', 'data-col': c, title: l10n.t('column {0}: code {1} → {2}', c, v.codes[i], v.values[i]) },
              `${v.codes[i]}→${fmt(v.values[i], 4)} `,
            ),
          ),
      ),
      h(
        'table',
        { class: 'fields', 'data-testid': 'group-sources' },
        h('thead', {}, h('tr', {}, h('th', {}, l10n.t('component')), h('th', {}, l10n.t('file offset')), h('th', {}, l10n.t('bytes')))),
        h(
          'tbody',
          {},
          v.sources.slice(0, 64).map((s) =>
            h(
              'tr',
              { 'data-role': s.role, title: l10n.t('{0} in {1}', s.tensor, s.file) },
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
    const save = h('div', { class: 'section-tools end' }, this.saveButton('error-vs-bits', 'error-against-bits chart'));
    const weighted = rows.some((r) => r.metrics.weighted_rel_rmse !== undefined);
    const requantization =
      this.row?.family !== 'float'
        ? h(
            'p',
            { class: 'note small', 'data-testid': 'what-if-requantization' },
            icon('info'),
            l10n.t(
              ' This tensor is already {0}: these figures are the error of quantizing its dequantized values again, not the precision it lost when it was made. For that, compare the model with its float source (Compare With…, then the Errors tab).',
              this.row?.type,
            ),
          )
        : null;
    box.append(
      requantization ?? '',
      save,
      h(
        'div',
        {
          class: 'chart-box small',
          role: 'img',
          'aria-label': l10n.t('error against bits per weight for {0} candidates; the table below lists them', rows.length),
        },
        canvas,
      ),
      h(
        'table',
        { class: 'what-if', 'aria-label': l10n.t('what-if error of {0}', tensor) },
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
                  title: l10n.t("Show the distribution of this candidate's error"),
                  tabindex: 0,
                  onclick: () => this.host.ask('candidateError', { tensor, candidate: r.candidate }),
                  onkeydown: (e: Event) => {
                    if ((e as KeyboardEvent).key !== 'Enter' && (e as KeyboardEvent).key !== ' ') return;
                    e.preventDefault();
                    this.host.ask('candidateError', { tensor, candidate: r.candidate });
                  },
                },
                h('td', {}, r.label, r.current ? h('span', { class: 'chip' }, l10n.t('current')) : null),
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
    h('h3', {}, l10n.t('Components '), h('span', { class: 'muted' }, l10n.t('({0}, as stored)', l.format))),
    h(
      'table',
      { class: 'fields', 'data-testid': 'components' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, l10n.t('role')),
          h('th', {}, l10n.t('tensor')),
          h('th', {}, l10n.t('shape')),
          h('th', {}, l10n.t('dtype')),
          h('th', {}, l10n.t('bytes')),
        ),
      ),
      h(
        'tbody',
        {},
        l.components.map((c) =>
          h(
            'tr',
            { 'data-component': c.name, title: l10n.t('file offset {0}', c.offset) },
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
      { class: 'muted small', 'data-testid': 'diagnostics', 'aria-label': l10n.t('diagnostics') },
      l.diagnostics.map((d) => h('li', {}, d)),
    ),
  );
}

/** The colour bar of a heatmap: 0 to its largest value along the scale (sqrt), with both ends written. */
function colourBar(max: number, what: string): HTMLElement {
  const bar = h('span', { class: 'colour-bar', 'aria-hidden': 'true' });
  bar.style.background = heatGradient();
  return h(
    'div',
    {
      class: 'colour-bar-row',
      role: 'img',
      'aria-label': l10n.t('colour scale: {0} 0 darkest, {1} lightest, square-root scale', what, fmt(max)),
    },
    h('span', { class: 'small' }, '0'),
    bar,
    h('span', { class: 'small' }, `${fmt(max)} ${what}`),
  );
}

/** A max-per-cell grid to pixels on the heat scale, sqrt so outliers stand out without flattening the rest. */
function paintHeatmap(canvas: HTMLCanvasElement, m: PaintedHeatmap): void {
  canvas.width = m.width;
  canvas.height = m.height;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(m.width, m.height);
  const max = m.max || 1;
  for (let i = 0; i < m.cells.length; i++) {
    const [r, g, b] = heatRgb(Math.sqrt(Math.min(1, m.cells[i] / max)));
    img.data[4 * i] = r;
    img.data[4 * i + 1] = g;
    img.data[4 * i + 2] = b;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}
