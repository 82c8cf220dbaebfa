/**
 * The tensor table: virtualised (only visible rows are in the DOM, so 50k rows scroll smoothly), filter by text
 * or /regex/ (matching names and types), sort by any column, group by block (groups collapse), keyboard
 * navigation (arrows, Page Up/Down, Home/End, Enter).
 */
import type { SensitivityView, TensorRow } from '../src/shared/webviewProtocol.ts';
import { h, clear, fmt, bytes } from './dom.ts';
import { kldText, sensitivityTitle } from './sensitivity.ts';
import * as l10n from './l10n.ts';

const ROW_HEIGHT = 24;

type SortKey = 'index' | 'name' | 'shape' | 'type' | 'bitsPerWeight' | 'nbytes' | 'offset' | 'sensitivity';
type Entry =
  { kind: 'tensor'; row: TensorRow; index: number } | { kind: 'group'; label: string; count: number; bytes: number; collapsed: boolean };

const COLUMNS: { key: SortKey; label: string; className: string; title?: string }[] = [
  { key: 'name', label: 'Name', className: 'col-name' },
  {
    key: 'shape',
    label: 'Shape',
    className: 'col-shape',
    title: 'GGUF: ggml ne order, row length first; safetensors: row-major, outermost first (as each file stores it)',
  },
  { key: 'type', label: 'Type', className: 'col-type' },
  { key: 'bitsPerWeight', label: 'bpw', className: 'col-num' },
  { key: 'nbytes', label: 'Bytes', className: 'col-num' },
  {
    key: 'offset',
    label: 'Data offset',
    className: 'col-num',
    title: "Bytes from the start of the file's data section (the block inspector's file offset counts from the start of the file)",
  },
];

/** The column shown once output sensitivity is measured (Measure Output Sensitivity…). */
const SENSITIVITY_COLUMN = {
  key: 'sensitivity' as const,
  label: 'KLD',
  className: 'col-num',
  title: "Output sensitivity: the KLD of the model's outputs with only this tensor's group quantized",
};

export class TensorTable {
  readonly element: HTMLElement;
  private readonly viewport: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly body: HTMLElement;
  private readonly header: HTMLElement;
  private readonly status: HTMLElement;
  private entries: Entry[] = [];
  private filter = '';
  private filterError = '';
  private sortKey: SortKey = 'index';
  private sortDesc = false;
  private grouped = false;
  /** Groups the user collapsed, by label: their tensors are hidden until expanded again. */
  private readonly collapsed = new Set<string>();
  private selected: string | undefined;
  /** Tooltip text per tensor (stats, once computed). */
  private readonly tooltips = new Map<string, string>();
  private sensitivity: SensitivityView | undefined;

  /** The columns: once sensitivity is measured, its column before the data offset (the first one a narrow pane hides). */
  private get columns() {
    return this.sensitivity ? [...COLUMNS.slice(0, -1), SENSITIVITY_COLUMN, COLUMNS[COLUMNS.length - 1]] : COLUMNS;
  }

  /** Shows (or updates) the sensitivity column. */
  setSensitivity(s: SensitivityView): void {
    this.sensitivity = s;
    this.viewport.setAttribute('aria-colcount', String(this.columns.length));
    this.applyWidths();
    this.refresh();
  }

  setTooltip(name: string, text: string): void {
    this.tooltips.set(name, text);
    this.renderRows();
  }

  constructor(
    private readonly rows: TensorRow[],
    private readonly onSelect: (name: string) => void,
  ) {
    // the header row belongs to the grid (aria-owns): it stays outside the scrolled rows so it never scrolls away
    this.header = h('div', { class: 'table-header', role: 'row', id: 'tensor-table-header', 'aria-rowindex': 1 });
    this.spacer = h('div', { class: 'table-spacer' });
    this.body = h('div', { class: 'table-rows', role: 'rowgroup' });
    this.viewport = h(
      'div',
      {
        class: 'table-viewport',
        tabindex: 0,
        role: 'grid',
        'aria-label': l10n.t('Tensors'),
        'aria-owns': 'tensor-table-header',
        'aria-colcount': COLUMNS.length,
        'data-testid': 'tensor-table',
      },
      this.spacer,
      this.body,
    );
    this.status = h('div', { class: 'table-status', 'data-testid': 'table-status' });
    this.element = h('div', { class: 'tensor-table' }, this.header, this.viewport, this.status);
    this.viewport.addEventListener('scroll', () => {
      // columns wider than the table: the header scrolls sideways with the rows
      this.header.scrollLeft = this.viewport.scrollLeft;
      this.renderRows();
    });

    this.viewport.addEventListener('keydown', (e) => this.onKey(e as KeyboardEvent));
    new ResizeObserver(() => this.renderRows()).observe(this.viewport);
    this.renderHeader();
    this.refresh();
  }

  setFilter(text: string): void {
    this.filter = text;
    this.refresh();
  }

  setGrouped(grouped: boolean): void {
    this.grouped = grouped;
    this.refresh();
  }

  select(name: string, scroll = true): void {
    this.selected = name;
    if (scroll) {
      const i = this.entries.findIndex((e) => e.kind === 'tensor' && e.row.name === name);
      if (i >= 0) {
        const top = i * ROW_HEIGHT;
        if (top < this.viewport.scrollTop || top + ROW_HEIGHT > this.viewport.scrollTop + this.viewport.clientHeight) {
          this.viewport.scrollTop = Math.max(0, top - this.viewport.clientHeight / 2);
        }
      }
    }
    this.renderRows();
  }

  focus(): void {
    this.viewport.focus();
  }

  visibleTensorNames(): string[] {
    return this.entries.flatMap((e) => (e.kind === 'tensor' ? [e.row.name] : []));
  }

  /**
   * The filter as a test on a row: a /regex/ searched in its name or its type (a scheme for a logical weight),
   * or words that must each be in one of them (`Q8_0`, `attn Q6_K`, `gptq`), case-insensitive.
   */
  private matcher(): (row: TensorRow) => boolean {
    this.filterError = '';
    const f = this.filter.trim();
    if (!f) return () => true;
    const re = /^\/(.+)\/([a-z]*)$/.exec(f);
    if (re) {
      try {
        const r = new RegExp(re[1], re[2]);
        return (row) => r.test(row.name) || r.test(row.type);
      } catch (e) {
        this.filterError = `invalid regular expression: ${(e as Error).message}`;
        return () => false;
      }
    }
    const words = f.toLowerCase().split(/\s+/);
    return (row) => {
      const name = row.name.toLowerCase();
      const type = row.type.toLowerCase();
      const format = row.logical?.format.toLowerCase() ?? '';
      return words.every((w) => name.includes(w) || type.includes(w) || format.includes(w));
    };
  }

  /** Collapses or expands a group of the grouped table (its header row says which, with aria-expanded). */
  toggleGroup(label: string): void {
    if (!this.collapsed.delete(label)) this.collapsed.add(label);
    this.refresh();
  }

  refresh(): void {
    const match = this.matcher();
    let list = this.rows.map((row, index) => ({ row, index })).filter((x) => match(x.row));
    const key = this.sortKey;
    const val = (x: { row: TensorRow; index: number }): number | string =>
      key === 'index'
        ? x.index
        : key === 'shape'
          ? x.row.nElements
          : key === 'name'
            ? x.row.name
            : key === 'type'
              ? x.row.type
              : key === 'sensitivity'
                ? (this.sensitivity?.kld[x.row.name] ?? -1)
                : x.row[key];
    list.sort((a, b) => {
      const va = val(a);
      const vb = val(b);
      const c = typeof va === 'string' ? va.localeCompare(vb as string, undefined, { numeric: true }) : (va as number) - (vb as number);
      return this.sortDesc ? -c : c;
    });
    if (this.grouped) {
      const groups = new Map<string, typeof list>();
      for (const x of list) groups.set(x.row.group || 'outside blocks', [...(groups.get(x.row.group || 'outside blocks') ?? []), x]);
      this.entries = [...groups].flatMap(([label, items]) => {
        const collapsed = this.collapsed.has(label);
        return [
          { kind: 'group' as const, label, count: items.length, bytes: items.reduce((a, x) => a + x.row.nbytes, 0), collapsed },
          ...(collapsed ? [] : items.map((x) => ({ kind: 'tensor' as const, ...x }))),
        ];
      });
      list = list.slice();
    } else {
      this.entries = list.map((x) => ({ kind: 'tensor' as const, ...x }));
    }
    this.spacer.style.height = `${this.entries.length * ROW_HEIGHT}px`;
    this.status.textContent = this.filterError || `${list.length} of ${this.rows.length} tensors${this.filter ? ' match' : ''}`;
    this.status.classList.toggle('error', !!this.filterError);
    this.renderHeader();
    this.renderRows();
  }

  private renderHeader(): void {
    clear(this.header);
    for (const c of this.columns) {
      const active = this.sortKey === c.key;
      this.header.appendChild(
        h(
          'div',
          {
            class: `cell ${c.className}${active ? ' sorted' : ''}`,
            role: 'columnheader',
            'aria-sort': active ? (this.sortDesc ? 'descending' : 'ascending') : 'none',
            'data-sort': c.key,
            title: l10n.t('{0}Sort by {1} (Enter)', c.title ? `${c.title}. ` : '', c.label.toLowerCase()),
            tabindex: 0,
            onkeydown: (e: Event) => {
              const key = (e as KeyboardEvent).key;
              if (key !== 'Enter' && key !== ' ') return;
              e.preventDefault();
              (e.currentTarget as HTMLElement).click();
              this.header.querySelector<HTMLElement>(`[data-sort="${c.key}"]`)?.focus();
            },
            onclick: () => {
              if (this.sortKey === c.key) {
                if (this.sortDesc) {
                  this.sortKey = 'index';
                  this.sortDesc = false;
                } else this.sortDesc = true;
              } else {
                this.sortKey = c.key;
                this.sortDesc = false;
              }
              this.refresh();
            },
          },
          c.label,
          active ? h('span', { class: `codicon codicon-arrow-${this.sortDesc ? 'down' : 'up'}` }) : null,
          this.resizeHandle(c.key),
        ),
      );
    }
  }

  /** Column widths the user dragged to (px), by column; the others keep the stylesheet's. */
  private widths = new Map<SortKey, number>();

  /** A handle on a header cell's right edge: dragging it widens or narrows that column (the name column too). */
  private resizeHandle(key: SortKey): HTMLElement {
    const handle = h('span', { class: 'col-resize', title: l10n.t('Drag to resize the column'), 'aria-hidden': 'true' });
    handle.addEventListener('click', (e) => e.stopPropagation());
    handle.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      e.stopPropagation();
      const cell = handle.parentElement!;
      const startX = e.clientX;
      const startW = cell.getBoundingClientRect().width;
      handle.setPointerCapture(e.pointerId);
      const move = (m: PointerEvent) => {
        this.widths.set(key, Math.max(40, Math.round(startW + m.clientX - startX)));
        this.applyWidths();
      };
      const up = () => {
        handle.removeEventListener('pointermove', move);
        handle.removeEventListener('pointerup', up);
      };
      handle.addEventListener('pointermove', move);
      handle.addEventListener('pointerup', up);
    });
    return handle;
  }

  private applyWidths(): void {
    const defaults: Record<string, string> = {
      name: 'minmax(124px, 1fr)',
      shape: '104px',
      type: 'var(--type-column, 66px)',
      bitsPerWeight: '54px',
      nbytes: '76px',
      offset: '84px',
      sensitivity: '60px',
    };
    const template = this.columns.map((c) => (this.widths.has(c.key) ? `${this.widths.get(c.key)}px` : defaults[c.key])).join(' ');
    this.element.style.setProperty('--table-columns', template);
  }

  private typeColumnFitted = false;

  /** The type column as wide as the longest type or scheme name in the chip's own font (at most 260 px), so no chip is cut. */
  private fitTypeColumn(chip: HTMLElement): void {
    const ctx = document.createElement('canvas').getContext('2d');
    if (!ctx || !chip.isConnected) return;
    const style = getComputedStyle(chip);
    ctx.font = style.font;
    const text = Math.max(...[...new Set(this.rows.map((r) => r.type))].map((t) => ctx.measureText(t).width));
    // the chip's padding and the cell's, and a pixel to spare
    const padding = 2 * parseFloat(style.paddingLeft) + 2 * parseFloat(getComputedStyle(chip.parentElement!).paddingLeft) + 2;
    this.element.style.setProperty('--type-column', `${Math.min(260, Math.max(66, Math.ceil(text + padding)))}px`);
    this.typeColumnFitted = true;
  }

  private renderRows(): void {
    const first = Math.max(0, Math.floor(this.viewport.scrollTop / ROW_HEIGHT) - 5);
    const last = Math.min(this.entries.length, Math.ceil((this.viewport.scrollTop + this.viewport.clientHeight) / ROW_HEIGHT) + 5);
    // a group's toggle keeps the keyboard focus across re-renders (rows are rebuilt on every scroll)
    const focused = document.activeElement as HTMLElement | null;
    const focusedGroup = focused && this.body.contains(focused) ? focused.dataset.group : undefined;
    clear(this.body);
    this.viewport.setAttribute('aria-rowcount', String(this.entries.length + 1));
    this.viewport.removeAttribute('aria-activedescendant');
    this.body.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
    for (let i = first; i < last; i++) {
      const e = this.entries[i];
      if (e.kind === 'group') {
        this.body.appendChild(
          h(
            'div',
            { class: 'row group', role: 'row', 'aria-rowindex': i + 2 },
            h(
              'div',
              { class: 'cell col-name', role: 'rowheader' },
              h(
                'button',
                {
                  class: 'group-toggle',
                  type: 'button',
                  'data-group': e.label,
                  'aria-expanded': e.collapsed ? 'false' : 'true',
                  title: `${e.collapsed ? 'Expand' : 'Collapse'} ${e.label}`,
                  onclick: (ev: Event) => {
                    ev.stopPropagation();
                    this.toggleGroup(e.label);
                  },
                  // the grid's own keys (arrows, Enter) stay with the toggle while it has the focus
                  onkeydown: (ev: Event) => ev.stopPropagation(),
                },
                h('span', { class: `codicon codicon-chevron-${e.collapsed ? 'right' : 'down'}`, 'aria-hidden': 'true' }),
                h('span', { class: 'codicon codicon-symbol-namespace', 'aria-hidden': 'true' }),
                ` ${e.label}`,
              ),
            ),
            h(
              'div',
              { class: 'cell group-info', role: 'gridcell', 'aria-colspan': this.columns.length - 1 },
              l10n.t('{0} tensors · {1}', e.count, bytes(e.bytes)),
            ),
          ),
        );
        continue;
      }
      const r = e.row;
      const row = h(
        'div',
        {
          class: `row${r.name === this.selected ? ' selected' : ''}${r.decodable ? '' : ' undecodable'}`,
          role: 'row',
          id: `tensor-row-${i}`,
          'aria-rowindex': i + 2,
          'aria-selected': r.name === this.selected ? 'true' : 'false',
          'data-tensor': r.name,
          title:
            this.tooltips.get(r.name) ??
            `${r.name}\n${r.type}, [${r.shape.join(', ')}], ${bytes(r.nbytes)}${r.logical ? `\n${r.logical.components.length} components: ${r.logical.components.map((c) => c.role).join(', ')}` : ''}${r.decodable ? '' : `\n${r.logical?.error ?? 'cannot be decoded'}`}`,
          onclick: () => this.onSelect(r.name),
        },
        // the full name and shape on hover of their cells, however narrow the columns
        h('div', { class: 'cell col-name', role: 'rowheader', title: r.name }, r.name),
        h('div', { class: 'cell col-shape', role: 'gridcell', title: `[${r.shape.join(', ')}]` }, r.shape.join(' × ')),
        h('div', { class: 'cell col-type', role: 'gridcell', title: r.type }, h('span', { class: `type-chip family-${r.family}` }, r.type)),
        h('div', { class: 'cell col-num', role: 'gridcell' }, Number.isFinite(r.bitsPerWeight) ? fmt(r.bitsPerWeight, 4) : '?'),
        h('div', { class: 'cell col-num', role: 'gridcell' }, bytes(r.nbytes)),
        this.sensitivity
          ? h(
              'div',
              { class: 'cell col-num col-sensitivity', role: 'gridcell', title: sensitivityTitle(this.sensitivity, r.name) },
              kldText(this.sensitivity.kld[r.name]),
            )
          : null,
        h('div', { class: 'cell col-num', role: 'gridcell' }, String(r.offset)),
      );
      this.body.appendChild(row);
      if (!this.typeColumnFitted) this.fitTypeColumn(row.querySelector('.type-chip')!);
      // arrow-key moves are announced: the focused grid names its selected row
      if (r.name === this.selected) this.viewport.setAttribute('aria-activedescendant', row.id);
    }
    if (focusedGroup !== undefined)
      [...this.body.querySelectorAll<HTMLElement>('.group-toggle')].find((b) => b.dataset.group === focusedGroup)?.focus();
  }

  private onKey(e: KeyboardEvent): void {
    const names = this.visibleTensorNames();
    if (!names.length) return;
    const at = this.selected ? names.indexOf(this.selected) : -1;
    const page = Math.max(1, Math.floor(this.viewport.clientHeight / ROW_HEIGHT) - 1);
    const go = (i: number) => {
      e.preventDefault();
      const name = names[Math.max(0, Math.min(names.length - 1, i))];
      this.onSelect(name);
      this.select(name, true);
    };
    switch (e.key) {
      case 'ArrowDown':
        return go(at + 1);
      case 'ArrowUp':
        return go(at <= 0 ? 0 : at - 1);
      case 'PageDown':
        return go(at + page);
      case 'PageUp':
        return go(at - page);
      case 'Home':
        return go(0);
      case 'End':
        return go(names.length - 1);
      case 'Enter':
        if (this.selected) {
          e.preventDefault();
          this.onSelect(this.selected);
        }
        return;
    }
  }
}
