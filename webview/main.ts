/** The model editor's webview: summary, metadata, tensor table, quant-mix map and tensor detail. */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import './styles.css';
import type { FromWebview, MetadataRow, TensorRow, ToWebview, WebviewSettings } from '../src/shared/webviewProtocol.ts';
import type { Comparison } from '../src/core/compare/compare.ts';
import type { ModelSummary } from '../src/core/analysis/summary.ts';
import type { QuantMap } from '../src/core/analysis/quantMap.ts';
import type { MemoryFit } from '../src/core/analysis/memoryFit.ts';
import { h, el, clear, fmt, bytes, count, icon, append } from './dom.ts';
import { TensorTable } from './tensorTable.ts';
import { TensorDetail, statsTooltip } from './detail.ts';

declare function acquireVsCodeApi(): { postMessage(m: FromWebview): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();
const post = (m: FromWebview) => vscode.postMessage(m);
const app = document.getElementById('app')!;

interface ViewState {
  selected?: string;
  filter?: string;
  tab?: number;
}
const saved = (vscode.getState() as ViewState | undefined) ?? {};
const saveState = (patch: Partial<ViewState>) => vscode.setState({ ...((vscode.getState() as ViewState) ?? {}), ...patch });

let table: TensorTable | undefined;
let detail: TensorDetail | undefined;
let tensors: TensorRow[] = [];
let tabs: HTMLElement | undefined;
let quantMap: QuantMap | undefined;
let comparison: Comparison | undefined;
let mapColour: 'type' | 'error' = 'type';
const TAB = { summary: 0, tensors: 1, metadata: 2, map: 3, errors: 4 };

const FAMILY_CONCEPTS: Record<string, string> = {
  float: 'Floating point: no scale and no zero-point; the only loss is mantissa rounding.',
  integer: 'Plain integers, shown as their values.',
  legacy: 'Legacy ggml quant, per group of 32: one fp16 scale d (symmetric, w = d·q) or a scale and a minimum (asymmetric _1 types, w = d·q + m).',
  'k-quant': 'K-quant: super-blocks of 256 holding per-group scales (and mins) that are themselves quantized against a super-scale d (and dmin).',
  'i-quant': 'I-quant: groups of weights are points of a fixed codebook (grid) times a group scale, with signs stored apart; chosen with an importance matrix.',
  ternary: 'Ternary: every weight is −1, 0 or +1 times one scale per block.',
  fp4: 'FP4 (E2M1) values with a shared scale per group (E8M0 exponent for MXFP4, E4M3 per 16 for NVFP4).',
  binary: 'One or two bits per weight times one scale per block.',
  fp8: '8-bit floating point.',
  bool: 'Booleans.',
};

function selectTab(index: number): void {
  const t = tabs as unknown as { selectedIndex: number } | undefined;
  if (t && t.selectedIndex !== index) t.selectedIndex = index;
}

/** Colour of an error: relative RMSE on a log scale, green (1e-4) to red (1). */
function errorColor(relRmse: number): string {
  if (!(relRmse > 0)) return 'hsl(130, 55%, 40%)';
  const t = Math.max(0, Math.min(1, (Math.log10(relRmse) + 4) / 4));
  return `hsl(${Math.round(130 * (1 - t))}, 60%, 42%)`;
}

function selectTensor(name: string, fromTable = false): void {
  const row = tensors.find((t) => t.name === name);
  if (!row) return;
  saveState({ selected: name });
  table?.select(name, !fromTable);
  selectTab(TAB.tensors);
  detail?.show(row, FAMILY_CONCEPTS[row.family] ?? '');
  if (row.decodable) post({ type: 'selectTensor', tensor: name });
}

function summaryView(fileName: string, s: ModelSummary, memory: MemoryFit): HTMLElement {
  const card = (label: string, value: string, testid: string, title?: string, wide = false) =>
    h('div', { class: wide ? 'card wide' : 'card', title }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value', 'data-testid': testid }, value));
  const maxBytes = Math.max(...s.byType.map((b) => b.bytes), 1);
  const ctxInput = el('vscode-textfield', { type: 'number', value: String(memory.contextLength), 'data-testid': 'context-length', min: 1, 'aria-label': 'context length' }) as HTMLInputElement;
  const fits = h('div', { class: 'fits' });
  const kvPerToken = memory.kvCacheBytes !== undefined ? memory.kvCacheBytes / memory.contextLength : undefined;
  const renderFits = () => {
    const ctx = Math.max(1, Number(ctxInput.value) || memory.contextLength);
    const kv = kvPerToken !== undefined ? kvPerToken * ctx : 0;
    const total = memory.weightsBytes + kv;
    clear(fits);
    fits.appendChild(h('div', { class: 'fits-line', 'data-testid': 'fits-total' }, `weights ${bytes(memory.weightsBytes)} + KV cache ${kvPerToken !== undefined ? bytes(kv) : '?'} (f16, ${ctx} tokens) = ${bytes(total)}`));
    fits.appendChild(h('div', { class: 'fits-chips' }, [4, 6, 8, 12, 16, 24, 32, 48, 64, 80, 128].map((g) =>
      h('span', { class: `chip ${total <= g * 2 ** 30 ? 'fits-yes' : 'fits-no'}`, title: total <= g * 2 ** 30 ? `fits in ${g} GiB` : `does not fit in ${g} GiB` }, total <= g * 2 ** 30 ? icon('check') : icon('close'), ` ${g} GiB`))));
    if (memory.note) fits.appendChild(h('div', { class: 'muted' }, `KV cache unknown: ${memory.note}`));
  };
  ctxInput.addEventListener('input', renderFits);
  renderFits();
  return h('div', { class: 'summary', 'data-testid': 'summary' },
    h('div', { class: 'cards' },
      card('Architecture', s.architecture ?? '—', 'architecture'),
      card('Name', s.name ?? fileName, 'model-name', s.name ?? fileName, true),
      card('Parameters', count(s.parameterCount), 'parameters', String(s.parameterCount)),
      card('File type', s.fileType ?? '—', 'file-type', 'general.file_type in llama.cpp words'),
      card('Size', bytes(s.tensorBytes), 'size', `${s.tensorBytes} bytes of tensor data; ${s.fileBytes} bytes on disk in ${s.files} file(s)`),
      card('Bits per weight', fmt(s.averageBitsPerWeight, 4), 'bpw'),
      card('Tensors', String(s.tensorCount), 'tensor-count'),
      card('Format', s.format, 'format')),
    h('div', { class: 'panels' },
      h('section', { class: 'panel' }, h('h3', {}, 'Size by type'),
        h('table', { class: 'by-type', 'data-testid': 'size-by-type' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Type'), h('th', {}, 'Tensors'), h('th', {}, 'Parameters'), h('th', {}, 'Bytes'), h('th', {}, ''))),
          h('tbody', {}, s.byType.map((b) => h('tr', {},
            h('td', {}, h('span', { class: 'type-chip' }, b.type)), h('td', { class: 'num' }, b.tensors), h('td', { class: 'num' }, count(b.parameters)), h('td', { class: 'num' }, bytes(b.bytes)),
            h('td', { class: 'bar-cell' }, h('div', { class: 'bar', 'data-width': String(Math.round((100 * b.bytes) / maxBytes)) }))))))),
      h('section', { class: 'panel' }, h('h3', {}, 'Fits in'), h('label', { class: 'inline' }, 'Context length ', ctxInput), fits),
      h('section', { class: 'panel concepts' }, h('h3', {}, 'Reading the numbers'),
        h('ul', {},
          h('li', {}, h('b', {}, 'Scale and zero-point. '), 'A quantized weight is w = scale·q (symmetric) or w = scale·q + min (asymmetric); the block inspector shows both, field by field.'),
          h('li', {}, h('b', {}, 'Granularity. '), 'One scale per tensor, per channel (row) or per group: smaller groups cost bits for scales but keep an outlier from stretching everyone\'s scale. The what-if table compares them.'),
          h('li', {}, h('b', {}, 'Outliers. '), 'A single large weight sets its block\'s scale and rounds its neighbours coarsely: look for hot cells in the |w| heatmap and wide tails in the scale distribution.'),
          h('li', {}, h('b', {}, 'Families. '), 'Legacy (Q4_0…Q8_0: one scale per 32), K-quants (super-blocks of 256 with quantized sub-scales), I-quants (codebooks chosen with an importance matrix).'),
          h('li', {}, h('b', {}, 'Weights are a proxy. '), 'What matters is the error on the layer\'s outputs; an importance matrix (llama.cpp imatrix) weights the error by how much each input column is used.')))));
}

function metadataView(rows: MetadataRow[]): HTMLElement {
  const tokenBox = el('vscode-textfield', { placeholder: 'token text or id', 'data-testid': 'token-query', 'aria-label': 'Find a token' }) as HTMLInputElement;
  const tokenResults = h('div', { class: 'token-results', 'data-testid': 'token-results' });
  const hasTokens = rows.some((r) => r.key === 'tokenizer.ggml.tokens');
  tokenBox.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key !== 'Enter') return;
    const q = tokenBox.value;
    if (/^\d+$/.test(q.trim())) post({ type: 'arrayPage', key: 'tokenizer.ggml.tokens', start: Number(q), count: 1 });
    else post({ type: 'findTokens', query: q });
  });
  const body = h('tbody', {});
  for (const r of rows) {
    const value = h('td', { class: 'meta-value' });
    if (r.arrayLength !== undefined) {
      value.appendChild(h('span', {}, r.display));
      if (r.arrayLength > 8 && r.arrayType !== 'ARRAY') {
        const more = h('div', { class: 'array-page', 'data-key': r.key });
        let start = 0;
        const page = 100;
        const btn = el('vscode-button', { secondary: true, 'data-testid': `page-${r.key}`, onclick: () => {
          post({ type: 'arrayPage', key: r.key, start, count: page });
          start += page;
        } }, 'Show values');
        value.append(' ', btn, more);
      }
    } else if (r.text !== undefined) {
      value.appendChild(h('details', {}, h('summary', {}, r.display), h('pre', { class: 'long-text' }, r.text)));
    } else {
      value.textContent = r.display;
    }
    body.appendChild(h('tr', {}, h('td', { class: 'meta-key' }, r.key), h('td', { class: 'meta-type' }, r.type), value));
  }
  return h('div', { class: 'metadata' },
    hasTokens ? h('div', { class: 'token-lookup' }, h('label', {}, icon('search'), ' Tokenizer lookup '), tokenBox, tokenResults) : null,
    h('table', { class: 'meta-table', 'data-testid': 'metadata-table' }, h('thead', {}, h('tr', {}, h('th', {}, 'Key'), h('th', {}, 'Type'), h('th', {}, 'Value'))), body));
}

/** Colour of a type: hue from red (few bits) to green (many bits). */
function typeColor(bits: number): string {
  if (!Number.isFinite(bits)) return 'var(--vscode-disabledForeground)';
  const t = Math.max(0, Math.min(1, (Math.log2(bits) - 0.5) / (Math.log2(32) - 0.5)));
  return `hsl(${Math.round(t * 130)}, 55%, 45%)`;
}

/** Relative luminance (WCAG 2) of an `hsl(h, s%, l%)` colour; undefined for anything else (theme variables). */
function luminanceOfHsl(colour: string): number | undefined {
  const m = /^hsl\((\d+(?:\.\d+)?), (\d+(?:\.\d+)?)%, (\d+(?:\.\d+)?)%\)$/.exec(colour);
  if (!m) return undefined;
  const [hue, sat, light] = [Number(m[1]), Number(m[2]) / 100, Number(m[3]) / 100];
  const a = sat * Math.min(light, 1 - light);
  const channel = (n: number) => {
    const k = (n + hue / 30) % 12;
    const c = light - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    const c8 = Math.round(c * 255) / 255;
    return c8 <= 0.04045 ? c8 / 12.92 : ((c8 + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(0) + 0.7152 * channel(8) + 0.0722 * channel(4);
}

/** Black or white, whichever contrasts more with the cell's colour; the theme's foreground on theme colours. */
function labelColourOn(background: string): string {
  const l = luminanceOfHsl(background);
  if (l === undefined) return 'var(--vscode-editor-foreground)';
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#000' : '#fff';
}

function mapView(map: QuantMap): HTMLElement {
  if (!map.blocks.length) return h('p', { class: 'muted' }, 'No blk.N / model.layers.N tensors: nothing to map.');
  const errors = new Map(comparison?.tensors.map((t) => [t.name, t]));
  const byError = mapColour === 'error' && !!comparison;
  const grid = h('div', { class: 'quant-map', 'data-testid': 'quant-map', role: 'grid' });
  grid.style.gridTemplateColumns = `max-content repeat(${map.kinds.length}, minmax(44px, 1fr))`;
  grid.appendChild(h('div', { class: 'map-corner' }, 'block'));
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
      const title = `${c.tensor}\n${c.type} · ${fmt(c.bitsPerWeight, 4)} bpw${err ? `\nrel. RMSE ${fmt(err.rel_rmse, 4)} · SNR ${err.snr_db === null ? '∞' : fmt(err.snr_db, 4)} dB` : ''}`;
      const cell = h('button', { class: 'map-cell', 'data-tensor': c.tensor, title, onclick: () => selectTensor(c.tensor) }, byError && err ? fmt(err.rel_rmse, 2) : c.type);
      const background = byError ? (err ? errorColor(err.rel_rmse) : 'var(--vscode-disabledForeground)') : typeColor(c.bitsPerWeight);
      cell.style.background = background;
      cell.style.color = labelColourOn(background);
      grid.appendChild(cell);
    }
  }
  const legend = byError
    ? h('div', { class: 'legend' }, [1e-4, 1e-3, 1e-2, 1e-1, 1].map((e) => {
        const sw = h('span', { class: 'swatch' });
        sw.style.background = errorColor(e);
        return h('span', { class: 'legend-item' }, sw, ` rel. RMSE ${e}`);
      }))
    : h('div', { class: 'legend' }, [...types].sort((a, b) => a[1] - b[1]).map(([t, bits]) => {
        const sw = h('span', { class: 'swatch' });
        sw.style.background = typeColor(bits);
        return h('span', { class: 'legend-item' }, sw, ` ${t} (${fmt(bits, 3)} bpw)`);
      }));
  const colourBy = h('div', { class: 'seg', 'data-testid': 'map-colour' },
    (['type', 'error'] as const).map((k) => h('button', {
      class: `seg-btn${mapColour === k ? ' active' : ''}`,
      'data-colour': k,
      disabled: k === 'error' && !comparison,
      title: k === 'error' && !comparison ? 'Compare with a reference first' : undefined,
      onclick: () => {
        mapColour = k;
        renderMap();
      },
    }, k === 'type' ? 'colour by type' : 'colour by error')));
  const outside = map.outside.length ? h('div', { class: 'outside' }, 'Outside blocks: ', map.outside.map((o) => h('button', { class: 'link', onclick: () => selectTensor(o.tensor) }, `${o.tensor} (${o.type})`))) : null;
  return h('div', { class: 'map-view' }, h('div', { class: 'map-bar' }, legend, colourBy), h('div', { class: 'map-scroll' }, grid), outside);
}

function renderMap(): void {
  const panel = document.querySelector('[data-testid="map-panel"]');
  if (!panel || !quantMap) return;
  clear(panel);
  panel.append(mapView(quantMap));
}

function errorsView(): HTMLElement {
  const box = h('div', { class: 'errors', 'data-testid': 'errors' });
  if (!comparison) {
    box.append(h('p', { class: 'muted' }, 'Compare this model with a reference — its source checkpoint (safetensors, single or sharded) or another quantization — to rank every tensor by the precision it lost.'),
      el('vscode-button', { 'data-testid': 'errors-compare', onclick: () => post({ type: 'command', command: 'compare' }) }, 'Compare with…'));
    return box;
  }
  const c = comparison;
  const ranked = [...c.tensors].sort((a, b) => b.rel_rmse - a.rel_rmse);
  const maxErr = Math.max(...ranked.map((t) => t.rel_rmse).filter((x) => Number.isFinite(x)), 1e-12);
  append(box, [
    h('div', { class: 'errors-head' },
      h('span', {}, `Against `, h('code', {}, c.reference.split(/[\\/]/).pop()!), ` · ${c.tensors.length} tensors paired`),
      el('vscode-button', { secondary: true, 'data-testid': 'errors-report', onclick: () => post({ type: 'comparisonReport', reference: c.reference }) }, 'Open as Markdown')),
    h('table', { class: 'what-if ranked', 'data-testid': 'ranked-errors' },
      h('thead', {}, h('tr', {}, ['#', 'tensor', 'type', 'reference', 'rel. RMSE', '', 'SNR dB', 'max abs', 'cosine'].map((x) => h('th', {}, x)))),
      h('tbody', {}, ranked.map((t, i) => {
        const bar = h('div', { class: 'bar' });
        bar.style.width = `${Math.round((100 * t.rel_rmse) / maxErr)}%`;
        bar.style.background = errorColor(t.rel_rmse);
        return h('tr', { 'data-tensor': t.name, class: 'clickable', onclick: () => selectTensor(t.name) },
          h('td', { class: 'num' }, i + 1), h('td', { class: 'mono' }, t.name), h('td', {}, t.type_name), h('td', {}, t.reference_type_name),
          h('td', { class: 'num' }, fmt(t.rel_rmse, 4)), h('td', { class: 'bar-cell' }, bar),
          h('td', { class: 'num' }, t.snr_db === null ? '∞' : fmt(t.snr_db, 4)), h('td', { class: 'num' }, fmt(t.max_abs, 4)), h('td', { class: 'num' }, fmt(t.cosine, 7)));
      }))),
    c.missingInReference.length ? h('p', { class: 'muted' }, `Not in the reference: ${c.missingInReference.join(', ')}`) : null,
    c.missingInModel.length ? h('p', { class: 'muted' }, `Only in the reference: ${c.missingInModel.join(', ')}`) : null,
    c.shapeMismatches.length ? h('p', { class: 'error-line' }, `Shapes differ: ${c.shapeMismatches.map((m) => `${m.name} [${m.shape}] vs [${m.referenceShape}]`).join('; ')}`) : null,
  ]);
  return box;
}

function renderErrors(): void {
  const panel = document.querySelector('[data-testid="errors-panel"]');
  if (!panel) return;
  clear(panel);
  panel.append(errorsView());
}

function render(m: Extract<ToWebview, { type: 'model' }>): void {
  tensors = m.tensors;
  clear(app);
  table = new TensorTable(m.tensors, (name) => selectTensor(name, true));
  detail = new TensorDetail(post, m.settings);
  const filter = el('vscode-textfield', { placeholder: 'Filter tensors (text, or /regex/)', 'data-testid': 'tensor-filter', 'aria-label': 'Filter tensors', value: saved.filter ?? '' }) as HTMLInputElement;
  filter.appendChild(h('span', { slot: 'content-before', class: 'codicon codicon-filter' }));
  filter.addEventListener('input', () => {
    table!.setFilter(filter.value);
    saveState({ filter: filter.value });
  });
  if (saved.filter) table.setFilter(saved.filter);
  const group = el('vscode-checkbox', { label: 'Group by block', 'data-testid': 'group-by-block' }) as HTMLInputElement;
  group.addEventListener('change', () => table!.setGrouped(group.checked));

  const header = h('header', { class: 'top' },
    h('div', { class: 'title' }, icon('graph'), h('span', { class: 'file-name', 'data-testid': 'file-name' }, m.fileName),
      h('span', { class: 'muted' }, ` · ${m.summary.format} · ${count(m.summary.parameterCount)} parameters · ${m.summary.fileType ?? fmt(m.summary.averageBitsPerWeight, 3) + ' bpw'}`)),
    h('div', { class: 'actions' },
      el('vscode-button', { secondary: true, 'data-testid': 'cmd-showAsText', onclick: () => post({ type: 'command', command: 'showAsText' }) }, 'Show as text'),
      el('vscode-button', { secondary: true, 'data-testid': 'cmd-exportReport', onclick: () => post({ type: 'command', command: 'exportReport' }) }, 'Export stats…'),
      el('vscode-button', { secondary: true, 'data-testid': 'cmd-compare', onclick: () => post({ type: 'command', command: 'compare' }) }, 'Compare with…')));

  tabs = el('vscode-tabs', { 'data-testid': 'tabs', 'selected-index': String(saved.tab ?? 1) });
  tabs.addEventListener('vsc-tabs-select', (e) => saveState({ tab: (e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex }));
  tabs.append(
    el('vscode-tab-header', { slot: 'header', 'data-testid': 'tab-summary' }, 'Summary'),
    el('vscode-tab-panel', {}, summaryView(m.fileName, m.summary, m.memory)),
    el('vscode-tab-header', { slot: 'header', 'data-testid': 'tab-tensors' }, `Tensors (${m.tensors.length})`),
    el('vscode-tab-panel', {}, h('div', { class: 'tensors-view' },
      h('div', { class: 'table-pane' }, h('div', { class: 'toolbar' }, filter, group), table.element),
      detail.element)),
    el('vscode-tab-header', { slot: 'header', 'data-testid': 'tab-metadata' }, `Metadata (${m.metadata.length})`),
    el('vscode-tab-panel', {}, metadataView(m.metadata)),
    el('vscode-tab-header', { slot: 'header', 'data-testid': 'tab-map' }, 'Quant map'),
    el('vscode-tab-panel', {}, h('div', { 'data-testid': 'map-panel' })),
    el('vscode-tab-header', { slot: 'header', 'data-testid': 'tab-errors' }, 'Errors'),
    el('vscode-tab-panel', {}, h('div', { 'data-testid': 'errors-panel' })),
  );
  app.append(header, tabs);
  quantMap = m.quantMap;
  renderMap();
  renderErrors();
  for (const bar of app.querySelectorAll<HTMLElement>('.bar')) bar.style.width = `${bar.dataset.width}%`;
  if (saved.selected) selectTensor(saved.selected);
  document.body.dataset.ready = 'true';
}

/**
 * A file that does not open: a headline saying what it is not (from its name: the editor opens .gguf files,
 * .safetensors files and safetensors indexes) and the reader's one-line reason.
 */
function openErrorView(fileName: string, reason: string): HTMLElement {
  const format = /\.gguf$/i.test(fileName) ? 'GGUF' : /\.safetensors(\.index\.json)?$/i.test(fileName) ? 'safetensors' : undefined;
  return h('div', { class: 'open-error', role: 'alert', 'data-testid': 'open-error' },
    h('h2', { class: 'open-error-headline', 'data-testid': 'open-error-headline' }, icon('error'), ` ${format ? `Not a valid ${format} file` : 'This file cannot be opened'}`),
    h('p', { class: 'open-error-reason', 'data-testid': 'open-error-reason' }, reason),
    h('p', { class: 'muted small' }, fileName));
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const m = event.data;
  switch (m.type) {
    case 'model':
      return render(m);
    case 'openError':
      clear(app);
      app.append(openErrorView(document.title, m.message));
      document.body.dataset.ready = 'true';
      return;
    case 'settings':
      return detail?.setSettings(m.settings as WebviewSettings);
    case 'stats':
      table?.setTooltip(m.tensor, statsTooltip(m.tensor, m.stats));
      return detail?.onStats(m.tensor, m.stats);
    case 'scales':
      return detail?.onScales(m.tensor, m.scales);
    case 'block':
      return detail?.onBlock(m.view);
    case 'heatmap':
      return detail?.onHeatmap(m.heatmap);
    case 'whatIf':
      return detail?.onWhatIf(m.tensor, m.rows);
    case 'progress':
      return detail?.onProgress(m.label, m.done, m.total);
    case 'jobDone':
      return detail?.onProgress('', 1, 1);
    case 'jobError':
      return detail?.onError(m.message, m.tensor);
    case 'reveal':
      return selectTensor(m.tensor);
    case 'candidateError':
      return detail?.onCandidateError(m.tensor, m.candidate, m.stats);
    case 'imatrix':
      return detail?.setImatrix(m.file);
    case 'tensorComparison':
      return detail?.onComparison(m.detail);
    case 'comparison':
      comparison = m.comparison;
      mapColour = 'error';
      renderErrors();
      renderMap();
      for (const t of m.comparison.tensors) table?.setTooltip(t.name, `${t.name}\nrel. RMSE ${fmt(t.rel_rmse, 4)} against the reference · SNR ${t.snr_db === null ? '∞' : fmt(t.snr_db, 4)} dB`);
      return selectTab(TAB.errors);
    case 'tokens': {
      const box = document.querySelector('[data-testid="token-results"]');
      if (!box) return;
      clear(box);
      if (!m.matches.length) box.append(h('div', { class: 'muted' }, `no token contains ${JSON.stringify(m.query)}`));
      for (const t of m.matches) box.append(h('div', { class: 'token' }, h('span', { class: 'token-id' }, String(t.id)), h('code', {}, JSON.stringify(t.text))));
      return;
    }
    case 'arrayPage': {
      if (m.key === 'tokenizer.ggml.tokens' && m.values.length === 1) {
        const box = document.querySelector('[data-testid="token-results"]');
        if (box) {
          clear(box);
          box.append(h('div', { class: 'token' }, h('span', { class: 'token-id' }, String(m.start)), h('code', {}, m.values[0])));
        }
      }
      const target = document.querySelector(`.array-page[data-key="${CSS.escape(m.key)}"]`);
      if (target && !(m.key === 'tokenizer.ggml.tokens' && m.values.length === 1)) {
        target.append(h('div', { class: 'array-values' }, m.values.map((v, i) => h('span', { class: 'array-value', title: `[${m.start + i}]` }, h('span', { class: 'muted' }, `${m.start + i}: `), v, ' '))));
      }
      return;
    }
  }
});

// VS Code marks the theme kind on <body>; chart colours are read from the theme when drawn.
new MutationObserver(() => detail?.redraw()).observe(document.body, { attributes: true, attributeFilter: ['class'] });

post({ type: 'ready' });
