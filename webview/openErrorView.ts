/** What the editor shows for a file that does not open, or opens only in part (cut short). */
import type { Truncation } from '../src/core/model.ts';
import { h, icon } from './dom.ts';
import * as l10n from './l10n.ts';

/**
 * A file that does not open: a headline saying what it is not (from its name: the editor opens .gguf files,
 * .safetensors files and safetensors indexes), or that it could not be read at all, and the one-line reason.
 */
export function openErrorView(fileName: string, reason: string, unreadable: boolean): HTMLElement {
  const format = unreadable
    ? undefined
    : /\.gguf$/i.test(fileName)
      ? 'GGUF'
      : /\.safetensors(\.index\.json)?$/i.test(fileName)
        ? 'safetensors'
        : undefined;
  return h(
    'div',
    { class: 'open-error', role: 'alert', 'data-testid': 'open-error' },
    h(
      'h2',
      { class: 'open-error-headline', 'data-testid': 'open-error-headline' },
      icon('error'),
      ` ${format ? `Not a valid ${format} file` : 'This file cannot be opened'}`,
    ),
    h('p', { class: 'open-error-reason', 'data-testid': 'open-error-reason' }, reason),
    h('p', { class: 'muted small' }, fileName),
  );
}

/** `1,234`: byte counts in the cut-file banner. */
const grouped = (n: number) => n.toLocaleString('en-US');

/**
 * A file cut short (a download that stopped; a shard of a sharded model), opened as far as it goes: how much of it is there, where it ends,
 * and the tensors whose data is not present (the table and the views show the others).
 */
export function truncationBanner(t: Truncation): HTMLElement {
  const share = Math.floor((1000 * t.fileBytes) / t.neededBytes) / 10;
  // a shard of a sharded model is named: the other shards are whole
  const size = t.file
    ? l10n.t('{0} is {1} bytes, needs {2} ({3}% present)', t.file, grouped(t.fileBytes), grouped(t.neededBytes), share)
    : `file is ${grouped(t.fileBytes)} bytes, needs ${t.atLeast ? 'at least ' : ''}${grouped(t.neededBytes)} (${t.atLeast ? 'at most ' : ''}${share}% present)`;
  const parts = [
    t.missing.length ? `data not present for ${t.missing.length} tensor${t.missing.length === 1 ? '' : 's'}` : '',
    t.unreadInfos ? `${t.unreadInfos} more tensor${t.unreadInfos === 1 ? '' : 's'} not listed (the file ends before their infos)` : '',
  ].filter(Boolean);
  return h(
    'div',
    { class: 'open-error truncated', role: 'alert', 'data-testid': 'truncation' },
    h(
      'h2',
      { class: 'open-error-headline' },
      icon('warning'),
      t.file
        ? l10n.t(' A shard of this model is cut short: the editor shows what could be read')
        : l10n.t(' This file is cut short: the editor shows what could be read'),
    ),
    h('p', { 'data-testid': 'truncation-size' }, size),
    h('p', { class: 'open-error-reason', 'data-testid': 'truncation-reason' }, t.reason),
    parts.length
      ? h(
          'details',
          { 'data-testid': 'truncation-missing' },
          h('summary', {}, parts.join('; ')),
          h(
            'ul',
            {},
            t.missing.map((m) =>
              h(
                'li',
                { 'data-tensor': m.name },
                h('code', {}, m.name),
                l10n.t(' {0}, {1} bytes: data not present', m.type, grouped(m.nbytes)),
              ),
            ),
          ),
        )
      : null,
  );
}
