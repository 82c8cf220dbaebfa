/** What the editor shows for a file that does not open. */
import { h, icon } from './dom.ts';

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
