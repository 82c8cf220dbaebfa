/** The model editor's webview: summary, metadata, tensor table, quant-mix map and tensor detail. */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import './styles.css';
import type { Notice, ToWebview } from '../src/shared/webviewProtocol.ts';
import { ask, replies } from './host.ts';
import { onNotice, redrawCharts, renderModel, renderOpenError } from './editor.ts';

// a reply goes to whoever asked; the rest are the host's notices, held until the page is built (a command may
// post one while the header is still being read)
let heldNotices: Notice[] | undefined = [];
window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  if (replies.route(event.data)) return;
  if (heldNotices) heldNotices.push(event.data as Notice);
  else onNotice(event.data as Notice);
});

// VS Code marks the theme kind on <body>; chart colours are read from the theme when drawn.
new MutationObserver(redrawCharts).observe(document.body, { attributes: true, attributeFilter: ['class'] });

ask('ready', {}, (m) => {
  if (m.type === 'model') renderModel(m);
  else renderOpenError(m.message, m.unreadable);
  const held = heldNotices ?? [];
  heldNotices = undefined;
  for (const notice of held) onNotice(notice);
});
