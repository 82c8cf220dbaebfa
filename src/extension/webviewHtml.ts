/**
 * The webview's HTML shell: strict Content-Security-Policy with a nonce, resources only from dist/, and a loading
 * state (a line and a moving bar) shown until the model's page replaces it, and VS Code's l10n bundle for the webview's
 * strings.
 */
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';

export function webviewHtml(webview: vscode.Webview, dist: vscode.Uri, title: string): string {
  const nonce = randomBytes(16).toString('base64');
  const asset = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(dist, name)).toString();
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
    `style-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  const escape = (text: string) => text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const escaped = escape(title);
  // the webview's strings in VS Code's display language (webview/l10n.ts); none for English
  const bundle = vscode.l10n.bundle ? ` data-l10n="${escape(JSON.stringify(vscode.l10n.bundle))}"` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${asset('codicon.css')}" id="vscode-codicon-stylesheet">
<link rel="stylesheet" href="${asset('webview.css')}">
<title>${escaped}</title>
</head>
<body${bundle}>
<div id="app"><div class="loading" role="status" aria-busy="true" data-testid="loading"><p><span class="codicon codicon-loading codicon-modifier-spin"></span> ${escape(vscode.l10n.t('Reading {0}: its summary, tensors and metadata…', title))}</p><div class="loading-bar"></div></div></div>
<script nonce="${nonce}" src="${asset('webview.js')}"></script>
</body>
</html>`;
}
