/**
 * The webview's localised strings. The extension puts VS Code's bundle for the display language (vscode.l10n.bundle:
 * the translations of l10n/bundle.l10n.json, keyed by their English text) in the page's data-l10n attribute; t()
 * looks a message up there and fills its {0}, {1}… as vscode.l10n.t does. Without a bundle the English is used.
 */
let bundle: Record<string, string> = {};
try {
  const data = typeof document === 'undefined' ? undefined : document.body?.dataset.l10n;
  if (data) bundle = JSON.parse(data) as Record<string, string>;
} catch {
  // a bundle that does not parse: English
}

export function t(message: string, ...args: (string | number | boolean | null | undefined)[]): string {
  const text = bundle[message] ?? message;
  return text.replace(/\{(\d+)\}/g, (m, i: string) => (Number(i) < args.length ? String(args[Number(i)]) : m));
}
