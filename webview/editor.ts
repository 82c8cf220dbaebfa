/**
 * The model editor's state (the tensors, the table, the detail panel, the comparison) and what changes it: the
 * model page, selecting a tensor, the replies about the tensor shown, and the host's notices.
 */
import type { ModelMessage, Notice, Reply, Requests, SensitivityView, TensorRow } from '../src/shared/webviewProtocol.ts';
import type { QuantMap } from '../src/core/analysis/quantMap.ts';
import type { Comparison } from '../src/core/compare/compare.ts';
import { h, el, clear, fmt, count, icon } from './dom.ts';
import { ask, saved, saveState, tell } from './host.ts';
import { TensorTable } from './tensorTable.ts';
import { TensorDetail, statsTooltip, type DetailRequest } from './detail.ts';
import { sizeByType, summaryView } from './summaryView.ts';
import { metadataView } from './metadataView.ts';
import { mapView, type MapColour } from './mapView.ts';
import { DEFAULT_ERROR_SORT, errorsView, type ErrorSort } from './errorsView.ts';
import { redrawCharts as redrawAllCharts } from './charts.ts';
import { openErrorView, truncationBanner } from './openErrorView.ts';
import * as l10n from './l10n.ts';

const app = document.getElementById('app')!;

let table: TensorTable | undefined;
let detail: TensorDetail | undefined;
let tensors: TensorRow[] = [];
let tabs: HTMLElement | undefined;
let quantMap: QuantMap | undefined;
let comparison: Comparison | undefined;
let mapColour: MapColour = 'type';
let errorSort: ErrorSort = DEFAULT_ERROR_SORT;
let modelMessage: ModelMessage | undefined;
/** Jobs asked for and not yet ended (done, cancelled or failed): Cancel shows while there is one. */
let runningJobs = 0;
let sensitivity: SensitivityView | undefined;
const TAB = { summary: 0, tensors: 1, metadata: 2, map: 3, errors: 4 };

const FAMILY_CONCEPTS: Record<string, string> = {
  float: 'Floating point: no scale and no zero-point; the only loss is mantissa rounding.',
  integer: 'Plain integers, shown as their values.',
  legacy:
    'Legacy ggml quant, per group of 32: one fp16 scale d (symmetric, w = d·q) or a scale and a minimum (asymmetric _1 types, w = d·q + m).',
  'k-quant':
    'K-quant: super-blocks of 256 holding per-group scales (and mins) that are themselves quantized against a super-scale d (and dmin).',
  'i-quant':
    'I-quant: groups of weights are points of a fixed codebook (grid) times a group scale, with signs stored apart; chosen with an importance matrix.',
  ternary: 'Ternary: every weight is −1, 0 or +1 times one scale per block.',
  fp4: 'FP4 (E2M1) values with a shared scale per group (E8M0 exponent for MXFP4, E4M3 per 16 for NVFP4).',
  binary: 'One or two bits per weight times one scale per block.',
  fp8: '8-bit floating point.',
  bool: 'Booleans.',
};

/** What a logical weight of a quantized Hugging Face checkpoint is. */
function logicalConcept(format: string): string {
  return `${format}: a logical weight stored as the packed component tensors below, decoded exactly as the reference library does. Shape, statistics and histogram are those of the dequantized [out, in] values; the block scales are its group scales.`;
}

function selectTab(index: number): void {
  const t = tabs as unknown as { selectedIndex: number } | undefined;
  if (t && t.selectedIndex !== index) t.selectedIndex = index;
}

function selectTensor(name: string, fromTable = false): void {
  const row = tensors.find((t) => t.name === name);
  if (!row) return;
  saveState({ selected: name });
  table?.select(name, !fromTable);
  selectTab(TAB.tensors);
  detail?.show(row, row.logical ? logicalConcept(row.logical.format) : (FAMILY_CONCEPTS[row.family] ?? ''));
  if (row.decodable) askJob('selectTensor', { tensor: name }, () => selectTensor(name));
}

type JobRequest = 'selectTensor' | 'whatIf' | 'candidateError' | 'comparisonReport';
const JOBS: readonly string[] = ['selectTensor', 'whatIf', 'candidateError', 'comparisonReport'] satisfies JobRequest[];

/** Ask for a job: counted while it runs (Cancel shows), and `again` behind the Compute again of a cancelled one. */
function askJob<K extends JobRequest>(type: K, body: Requests[K], again: () => void = () => askJob(type, body)): void {
  runningJobs++;
  detail?.setRunning(true);
  ask(type, body, (m) => {
    if (m.type === 'jobDone' || m.type === 'jobCancelled' || m.type === 'jobError') {
      runningJobs = Math.max(0, runningJobs - 1);
      detail?.setRunning(runningJobs > 0);
    }
    if (m.type === 'jobCancelled') detail?.onCancelled(m.tensor, again);
    else onTensorReply(m);
  });
}

/** Replies about the tensor shown (its analyses, a block, what-if, a candidate's error) and the progress of the editor's jobs. */
function onTensorReply(m: Reply<'selectTensor' | 'block' | 'group' | 'whatIf' | 'candidateError' | 'comparisonReport'>): void {
  switch (m.type) {
    case 'stats':
      table?.setTooltip(m.tensor, statsTooltip(m.tensor, m.stats));
      return detail?.onStats(m.tensor, m.stats);
    case 'scales':
      return detail?.onScales(m.tensor, m.scales);
    case 'block':
      return detail?.onBlock(m.view);
    case 'group':
      return detail?.onGroup(m.view);
    case 'checks':
      return detail?.onChecks(m.checks);
    case 'heatmap':
      return detail?.onHeatmap(m.heatmap);
    case 'whatIf':
      return detail?.onWhatIf(m.tensor, m.rows);
    case 'candidateError':
      return detail?.onCandidateError(m.tensor, m.candidate, m.stats);
    case 'tensorComparison':
      return detail?.onComparison(m.detail);
    case 'progress':
      return detail?.onProgress(m.label, m.done, m.total, m.fetched);
    case 'jobDone':
      return detail?.onProgress('', 1, 1);
    case 'jobError':
      return detail?.onError(m.message, m.tensor);
    case 'jobCancelled':
      // a job's cancellation shows where it was asked (askJob), with its Compute again
      return;
  }
}

/** Show an element of another tab (a tensor's Errors row or map cell): that tab, the element scrolled to, focused. */
function showElsewhere(tab: number, selector: string): void {
  selectTab(tab);
  // the tab's panel shows on its next update
  requestAnimationFrame(() => {
    for (const e of app.querySelectorAll('.linked')) e.classList.remove('linked');
    const target = app.querySelector<HTMLElement>(selector);
    if (!target) return;
    target.classList.add('linked');
    target.scrollIntoView({ block: 'center' });
    target.focus();
  });
}

function renderMap(): void {
  const panel = document.querySelector('[data-testid="map-panel"]');
  if (!panel || !quantMap) return;
  clear(panel);
  panel.append(
    mapView(
      quantMap,
      comparison,
      mapColour,
      {
        select: (tensor) => selectTensor(tensor),
        colourBy: (colour) => {
          mapColour = colour;
          renderMap();
        },
      },
      sensitivity,
    ),
  );
}

function renderErrors(): void {
  const panel = document.querySelector('[data-testid="errors-panel"]');
  if (!panel) return;
  clear(panel);
  panel.append(
    errorsView(comparison, errorSort, {
      select: (tensor) => selectTensor(tensor),
      compare: () => tell({ type: 'command', command: 'compare' }),
      report: (reference) => askJob('comparisonReport', { reference }),
      sortBy: (sort) => {
        errorSort = sort;
        renderErrors();
        panel.querySelector<HTMLElement>(`th[data-sort="${sort.key}"] button`)?.focus();
      },
    }),
  );
}

export function renderModel(m: ModelMessage): void {
  tensors = m.tensors;
  clear(app);
  table = new TensorTable(m.tensors, (name) => selectTensor(name, true));
  modelMessage = m;
  if (sensitivity) table.setSensitivity(sensitivity);
  runningJobs = 0;
  detail = new TensorDetail(
    {
      ask: (type, body) =>
        JOBS.includes(type) ? askJob(type as JobRequest, body as Requests[JobRequest]) : ask<DetailRequest>(type, body, onTensorReply),
      tell,
      inErrors: (tensor) => !!comparison?.tensors.some((t) => t.name === tensor),
      inMap: (tensor) => !!quantMap?.cells.some((c) => c.tensor === tensor),
      showInErrors: (tensor) => showElsewhere(TAB.errors, `[data-testid="ranked-errors"] tr[data-tensor="${CSS.escape(tensor)}"]`),
      showInMap: (tensor) => showElsewhere(TAB.map, `.map-cell[data-tensor="${CSS.escape(tensor)}"]`),
    },
    m.settings,
  );
  const filter = el('vscode-textfield', {
    placeholder: l10n.t('Filter tensors (text, or /regex/)'),
    'data-testid': 'tensor-filter',
    'aria-label': l10n.t('Filter tensors'),
    value: saved.filter ?? '',
  }) as HTMLInputElement;
  filter.appendChild(h('span', { slot: 'content-before', class: 'codicon codicon-filter' }));
  filter.addEventListener('input', () => {
    table!.setFilter(filter.value);
    saveState({ filter: filter.value });
  });
  if (saved.filter) table.setFilter(saved.filter);
  const group = el('vscode-checkbox', { label: 'Group by block', 'data-testid': 'group-by-block' }) as HTMLInputElement;
  group.addEventListener('change', () => table!.setGrouped(group.checked));

  const header = h(
    'header',
    { class: 'top' },
    h(
      'div',
      { class: 'title' },
      icon('graph'),
      h('span', { class: 'file-name', 'data-testid': 'file-name' }, m.fileName),
      h(
        'span',
        { class: 'muted' },
        l10n.t(
          ' · {0} · {1} parameters · {2}',
          m.summary.format,
          count(m.summary.parameterCount),
          m.summary.fileType ?? fmt(m.summary.averageBitsPerWeight, 3) + ' bpw',
        ),
      ),
      m.quantization ? h('span', { class: 'muted', 'data-testid': 'quantization' }, ` · ${m.quantization}`) : null,
    ),
    h(
      'div',
      { class: 'actions' },
      el(
        'vscode-button',
        { secondary: true, 'data-testid': 'cmd-showAsText', onclick: () => tell({ type: 'command', command: 'showAsText' }) },
        l10n.t('Show as text'),
      ),
      el(
        'vscode-button',
        { secondary: true, 'data-testid': 'cmd-exportReport', onclick: () => tell({ type: 'command', command: 'exportReport' }) },
        l10n.t('Export stats…'),
      ),
      el(
        'vscode-button',
        { secondary: true, 'data-testid': 'cmd-compare', onclick: () => tell({ type: 'command', command: 'compare' }) },
        l10n.t('Compare with…'),
      ),
    ),
  );

  tabs = el('vscode-tabs', { 'data-testid': 'tabs', 'selected-index': String(saved.tab ?? 1) });
  tabs.addEventListener('vsc-tabs-select', (e) => saveState({ tab: (e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex }));
  tabs.append(
    el('vscode-tab-header', { slot: 'header', 'data-testid': 'tab-summary' }, l10n.t('Summary')),
    el('vscode-tab-panel', {}, summaryView(m.fileName, m.summary, m.memory, m.quantization)),
    el('vscode-tab-header', { slot: 'header', 'data-testid': 'tab-tensors' }, l10n.t('Tensors ({0})', m.tensors.length)),
    el(
      'vscode-tab-panel',
      {},
      h(
        'div',
        { class: 'tensors-view' },
        h('div', { class: 'table-pane' }, h('div', { class: 'toolbar' }, filter, group), table.element),
        detail.element,
      ),
    ),
    el('vscode-tab-header', { slot: 'header', 'data-testid': 'tab-metadata' }, l10n.t('Metadata ({0})', m.metadata.length)),
    el('vscode-tab-panel', {}, metadataView(m.metadata, ask)),
    el('vscode-tab-header', { slot: 'header', 'data-testid': 'tab-map' }, l10n.t('Quant map')),
    el('vscode-tab-panel', {}, h('div', { 'data-testid': 'map-panel' })),
    el('vscode-tab-header', { slot: 'header', 'data-testid': 'tab-errors' }, l10n.t('Errors')),
    el('vscode-tab-panel', {}, h('div', { 'data-testid': 'errors-panel' })),
  );
  app.append(header, ...(m.truncation ? [truncationBanner(m.truncation)] : []), tabs);
  quantMap = m.quantMap;
  renderMap();
  renderErrors();
  if (saved.selected) selectTensor(saved.selected);
  document.body.dataset.ready = 'true';
}

/**
 * Ctrl+F / Cmd+F while the editor has the focus (VS Code hands the key to the webview, whose find widget is off):
 * the tensor filter on the Tensors tab, else the Metadata tab's search.
 */
function onFindKey(e: KeyboardEvent): void {
  if (!(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey || e.key.toLowerCase() !== 'f' || !tabs) return;
  e.preventDefault();
  const onTensors = (tabs as unknown as { selectedIndex: number }).selectedIndex === TAB.tensors;
  if (!onTensors) selectTab(TAB.metadata);
  const box = app.querySelector<HTMLElement>(onTensors ? '[data-testid="tensor-filter"]' : '[data-testid="metadata-search"]');
  const focus = () => {
    const input = box?.shadowRoot?.querySelector('input');
    if (!input) return box?.focus();
    input.focus();
    input.select();
  };
  // a tab just selected shows its panel on the next frame (an element still hidden cannot take the focus)
  if (onTensors) focus();
  else requestAnimationFrame(focus);
}
document.addEventListener('keydown', onFindKey);

export function renderOpenError(message: string, unreadable: boolean): void {
  clear(app);
  app.append(openErrorView(document.title, message, unreadable));
  document.body.dataset.ready = 'true';
}

/** What the host sends of its own accord. */
export function onNotice(m: Notice): void {
  switch (m.type) {
    case 'settings':
      return detail?.setSettings(m.settings);
    case 'reveal':
      return selectTensor(m.tensor);
    case 'imatrix':
      return detail?.setImatrix(m.file, m.coverage);
    case 'sensitivity':
      sensitivity = m.sensitivity;
      mapColour = 'sensitivity';
      renderMap();
      table?.setSensitivity(m.sensitivity);
      return selectTab(TAB.map);
    case 'comparison':
      comparison = m.comparison;
      mapColour = 'error';
      renderErrors();
      renderMap();
      detail?.updateLinks();
      if (modelMessage)
        document
          .querySelector('[data-testid="size-by-type"]')
          ?.replaceWith(
            sizeByType(modelMessage.summary.byType, { name: m.comparison.reference.split(/[\\/]/).pop()!, shares: m.referenceTypes }),
          );
      for (const t of m.comparison.tensors)
        table?.setTooltip(
          t.name,
          `${t.name}\nrel. RMSE ${fmt(t.rel_rmse, 4)} against the reference · SNR ${t.snr_db === null ? '∞' : fmt(t.snr_db, 4)} dB`,
        );
      return selectTab(TAB.errors);
  }
}

/** Chart colours are read from the theme when drawn: redraw them when it changes. */
export function redrawCharts(): void {
  redrawAllCharts();
}
