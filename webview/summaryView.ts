/** The Summary tab: the model's cards, size by type, what fits in memory at a context length, and how to read the numbers. */
import type { ModelSummary, TypeShare } from '../src/core/analysis/summary.ts';
import type { MemoryFit } from '../src/core/analysis/memoryFit.ts';
import { h, el, clear, fmt, bytes, count, icon } from './dom.ts';
import * as l10n from './l10n.ts';

export function summaryView(fileName: string, s: ModelSummary, memory: MemoryFit, quantization?: string): HTMLElement {
  const card = (label: string, value: string, testid: string, title?: string, wide = false) =>
    h(
      'div',
      { class: wide ? 'card wide' : 'card', title },
      h('div', { class: 'card-label' }, label),
      h('div', { class: 'card-value', 'data-testid': testid }, value),
    );
  const ctxInput = el('vscode-textfield', {
    type: 'number',
    value: String(memory.contextLength),
    'data-testid': 'context-length',
    min: 1,
    'aria-label': l10n.t('context length'),
  }) as HTMLInputElement;
  const fits = h('div', { class: 'fits' });
  // llama.cpp's KV cache types (--cache-type-k/-v) and their bytes per element
  const kvTypes: [string, number][] = [
    ['f16', 2],
    ['q8_0', 34 / 32],
    ['q4_0', 18 / 32],
  ];
  const kvSelect = h(
    'select',
    { 'data-testid': 'kv-type', 'aria-label': l10n.t('KV cache type'), class: 'kv-type' },
    kvTypes.map(([name]) => h('option', { value: name }, name)),
  );
  const kvPerToken = memory.kvElementsPerToken;
  const renderFits = () => {
    clear(fits);
    if (memory.notAModel) {
      fits.appendChild(h('p', { class: 'note', 'data-testid': 'not-a-model' }, memory.notAModel));
      return;
    }
    const raw = Number(ctxInput.value);
    if (!Number.isInteger(raw) || raw < 1) {
      fits.appendChild(
        h(
          'div',
          { class: 'error-line', 'data-testid': 'fits-total' },
          l10n.t('The context length must be a whole number of tokens, 1 or more (not {0}).', ctxInput.value || 'empty'),
        ),
      );
      return;
    }
    const perElement = kvTypes.find(([name]) => name === kvSelect.value)?.[1] ?? 2;
    const kv = kvPerToken !== undefined ? kvPerToken * raw * perElement : 0;
    const total = memory.weightsBytes + kv + memory.computeBytes;
    fits.appendChild(
      h(
        'div',
        { class: 'fits-line', 'data-testid': 'fits-total' },
        l10n.t(
          'weights {0} + KV cache {1} ({2}, {3} {4}) + compute buffers {5} = {6}',
          bytes(memory.weightsBytes),
          kvPerToken !== undefined ? bytes(kv) : '?',
          kvSelect.value,
          raw,
          raw === 1 ? 'token' : 'tokens',
          bytes(memory.computeBytes),
          bytes(total),
        ),
      ),
    );
    fits.appendChild(
      h(
        'div',
        { class: 'fits-chips' },
        [4, 6, 8, 12, 16, 24, 32, 48, 64, 80, 128].map((g) =>
          h(
            'span',
            {
              class: `chip ${total <= g * 2 ** 30 ? 'fits-yes' : 'fits-no'}`,
              title: total <= g * 2 ** 30 ? `fits in ${g} GiB` : `does not fit in ${g} GiB`,
            },
            total <= g * 2 ** 30 ? icon('check') : icon('close'),
            l10n.t(' {0} GiB', g),
          ),
        ),
      ),
    );
    if (memory.note) fits.appendChild(h('div', { class: 'muted' }, l10n.t('KV cache unknown: {0}', memory.note)));
  };
  ctxInput.addEventListener('input', renderFits);
  kvSelect.addEventListener('change', renderFits);
  renderFits();
  return h(
    'div',
    { class: 'summary', 'data-testid': 'summary' },
    h(
      'div',
      { class: 'cards' },
      card('Architecture', s.architecture ?? '—', 'architecture'),
      card('Name', s.name ?? fileName, 'model-name', s.name ?? fileName, true),
      card('Parameters', count(s.parameterCount), 'parameters', String(s.parameterCount)),
      card('File type', s.fileType ?? '—', 'file-type', 'general.file_type in llama.cpp words'),
      card(
        'Size',
        bytes(s.tensorBytes),
        'size',
        `${s.tensorBytes} bytes of tensor data; ${s.fileBytes} bytes on disk in ${s.files} file(s)`,
      ),
      card('Bits per weight', fmt(s.averageBitsPerWeight, 4), 'bpw'),
      card('Tensors', String(s.tensorCount), 'tensor-count'),
      card('Format', s.format, 'format'),
      quantization ? card('Quantization', quantization, 'quantization-summary', quantization, true) : null,
    ),
    h(
      'div',
      { class: 'panels' },
      h('section', { class: 'panel' }, h('h3', {}, l10n.t('Size by type')), sizeByType(s.byType)),
      h(
        'section',
        { class: 'panel' },
        ...(memory.notAModel
          ? [h('h3', {}, l10n.t('Not a model')), fits]
          : [
              h('h3', {}, l10n.t('Fits in')),
              h('label', { class: 'inline' }, l10n.t('Context length '), ctxInput),
              h('label', { class: 'inline' }, l10n.t(' KV cache '), kvSelect),
              fits,
            ]),
      ),
      h(
        'section',
        { class: 'panel concepts' },
        h('h3', {}, l10n.t('Reading the numbers')),
        h(
          'ul',
          {},
          h(
            'li',
            {},
            h('b', {}, l10n.t('Scale and zero-point. ')),
            l10n.t(
              'A quantized weight is w = scale·q (symmetric) or w = scale·q + min (asymmetric); the block inspector shows both, field by field.',
            ),
          ),
          h(
            'li',
            {},
            h('b', {}, l10n.t('Granularity. ')),
            l10n.t(
              "One scale per tensor, per channel (row) or per group: smaller groups cost bits for scales but keep an outlier from stretching everyone's scale. The what-if table compares them.",
            ),
          ),
          h(
            'li',
            {},
            h('b', {}, l10n.t('Outliers. ')),
            l10n.t(
              "A single large weight sets its block's scale and rounds its neighbours coarsely: look for hot cells in the |w| heatmap and wide tails in the scale distribution.",
            ),
          ),
          h(
            'li',
            {},
            h('b', {}, l10n.t('Families. ')),
            l10n.t(
              'Legacy (Q4_0…Q8_0: one scale per 32), K-quants (super-blocks of 256 with quantized sub-scales), I-quants (codebooks chosen with an importance matrix).',
            ),
          ),
          h(
            'li',
            {},
            h('b', {}, l10n.t('Weights are a proxy. ')),
            l10n.t(
              "What matters is the error on the layer's outputs; an importance matrix (llama.cpp imatrix) weights the error by how much each input column is used.",
            ),
          ),
        ),
      ),
    ),
  );
}

/**
 * The size by type table; after Compare, the reference's beside it (`reference.shares` undefined: its header could
 * not be read). Types in either model, the model's largest first.
 */
export function sizeByType(shares: TypeShare[], reference?: { name: string; shares?: TypeShare[] }): HTMLElement {
  const theirs = new Map(reference?.shares?.map((r) => [r.type, r]));
  const types = [
    ...shares.map((b) => b.type),
    ...(reference?.shares ?? []).map((r) => r.type).filter((t) => !shares.some((b) => b.type === t)),
  ];
  const ours = new Map(shares.map((b) => [b.type, b]));
  const maxBytes = Math.max(...shares.map((b) => b.bytes), ...(reference?.shares ?? []).map((r) => r.bytes), 1);
  const bar = (b: TypeShare | undefined, cls: string) => {
    const div = h('div', { class: `bar ${cls}` });
    div.style.width = `${b ? Math.round((100 * b.bytes) / maxBytes) : 0}%`;
    return div;
  };
  const side = reference?.shares;
  return h(
    'table',
    { class: 'by-type', 'data-testid': 'size-by-type' },
    side
      ? h(
          'caption',
          { class: 'muted small' },
          l10n.t('this model (filled bars) beside the reference '),
          h('code', {}, reference!.name),
          l10n.t(' (outlined)'),
        )
      : reference
        ? h('caption', { class: 'muted small' }, l10n.t("the reference's header could not be read to size its types"))
        : null,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, l10n.t('Type')),
        h('th', {}, l10n.t('Tensors')),
        h('th', {}, l10n.t('Parameters')),
        h('th', {}, l10n.t('Bytes')),
        side ? h('th', { 'data-testid': 'reference-bytes-head' }, l10n.t('Reference')) : null,
        h('th', {}, ''),
      ),
    ),
    h(
      'tbody',
      {},
      types.map((type) => {
        const b = ours.get(type);
        const r = theirs.get(type);
        return h(
          'tr',
          { 'data-type': type },
          h('td', {}, h('span', { class: 'type-chip' }, type)),
          h('td', { class: 'num' }, b ? b.tensors : '—'),
          h('td', { class: 'num' }, b ? count(b.parameters) : '—'),
          h('td', { class: 'num' }, b ? bytes(b.bytes) : '—'),
          side
            ? h(
                'td',
                { class: 'num', 'data-testid': 'reference-bytes', title: r ? `${r.tensors} tensors, ${r.bytes} bytes` : undefined },
                r ? bytes(r.bytes) : '—',
              )
            : null,
          h('td', { class: 'bar-cell' }, bar(b, 'ours'), side ? bar(r, 'theirs') : null),
        );
      }),
    ),
  );
}
