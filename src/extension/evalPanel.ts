/**
 * The output evaluation's report panel: a webview the host renders whole (src/core/eval/evalReportHtml.ts), with
 * a strict Content-Security-Policy (no resource at all, one inline script and style by nonce). While the job runs
 * in the evaluation child it shows progress and Cancel (closing the panel cancels too); then the report with buttons
 * to export it as Markdown or JSON beside the model (written through a temporary file, verified, renamed) and to
 * open it as a Markdown document. Any failure is one line in the panel and in an error notification.
 */
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { evalChildScript, runEvalJob, runtimeStatus } from '../node/evalClient.ts';
import type { EvalJob } from '../shared/evalProtocol.ts';
import type { FromEvalPanel, ToEvalPanel } from '../shared/evalPanelProtocol.ts';
import type { EvalSummary } from '../core/eval/scoring.ts';
import { evalJson, evalMarkdown } from '../core/eval/evalReport.ts';
import { REPORT_CSS, evalReportHtml, html } from '../core/eval/evalReportHtml.ts';
import { QuantLensError, oneLine } from '../core/errors.ts';
import { writeFileAtomically } from '../core/io/atomicWrite.ts';
import { besideModel, modelName } from './modelUri.ts';

export const EVAL_PANEL_VIEW_TYPE = 'quantLens.evalReport';

/** The evaluation child script beside the bundled extension, after checking the runtime is installed. */
export function evalScriptOrThrow(): string {
  const status = runtimeStatus(vscode.Uri.joinPath(vscode.Uri.file(__dirname), '..').fsPath);
  if (status !== true) throw new QuantLensError('engine', status);
  const script = evalChildScript(__dirname);
  if (!script) throw new QuantLensError('engine', 'dist/evalChild.js is missing from the extension');
  return script;
}

// the panel's only script: buttons post their action, progress messages update the bar
const SCRIPT = `
const vscode = acquireVsCodeApi();
document.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-action]');
  if (!b) return;
  const a = b.dataset.action;
  vscode.postMessage(a === 'export' ? { type: 'export', format: b.dataset.format } : { type: a });
  if (a === 'cancel') b.disabled = true;
});
window.addEventListener('message', (e) => {
  const m = e.data;
  if (m.type !== 'progress') return;
  const bar = document.getElementById('progress');
  const stage = document.getElementById('stage');
  if (!bar || !stage) return;
  if (m.total > 0) { bar.max = m.total; bar.value = m.done; } else bar.removeAttribute('value');
  stage.textContent = m.total > 0 ? m.stage + ': ' + m.done + ' of ' + m.total + ' positions' : m.stage;
});
`;

function page(title: string, state: 'running' | 'done' | 'error' | 'cancelled', body: string): string {
  const nonce = randomBytes(16).toString('base64');
  const csp = ["default-src 'none'", `style-src 'nonce-${nonce}'`, `script-src 'nonce-${nonce}'`].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<style nonce="${nonce}">${REPORT_CSS}</style>
<title>${html(title)}</title>
</head>
<body data-state="${state}">
${body}
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>`;
}

/** The last evaluation of each model (by URI), for Export Stats…: its report carries the output error too. */
const lastEvaluations = new Map<string, { result: EvalSummary; textSource: string }>();

/** The last evaluation of this model in this window, if any. */
export function lastEvaluationOf(model: vscode.Uri): { result: EvalSummary; textSource: string } | undefined {
  return lastEvaluations.get(model.toString());
}

export interface PanelEvaluation {
  /** The model evaluated (a local file) and its reference. */
  model: vscode.Uri;
  job: Extract<EvalJob, { kind: 'evaluate' }>;
  /** Where the text came from, for the report. */
  textSource: string;
}

/**
 * Opens a report panel, runs the evaluation in the child with the panel's progress and Cancel, and shows the
 * report. Resolves with the result (undefined when cancelled); rejects with a one-line error, also shown in the panel.
 */
export async function evaluateInPanel(e: PanelEvaluation): Promise<EvalSummary | undefined> {
  const title = `Output evaluation: ${modelName(e.model)}`;
  const panel = vscode.window.createWebviewPanel(EVAL_PANEL_VIEW_TYPE, title, vscode.ViewColumn.Active, {
    enableScripts: true,
    localResourceRoots: [],
    retainContextWhenHidden: true,
  });
  let open = true;
  panel.onDidDispose(() => (open = false));
  const heading = `<h1>${html(title)}</h1><p class="muted">against ${html(basename(e.job.reference))}, on ${html(e.textSource)}; context ${e.job.ctx}${e.job.chunks ? `, ${e.job.chunks} chunks` : ''}</p>`;
  panel.webview.html = page(
    title,
    'running',
    `${heading}
<p id="stage" role="status" aria-live="polite">starting llama.cpp</p>
<progress id="progress" aria-label="evaluation progress"></progress>
<div class="actions"><button data-action="cancel" class="secondary">Cancel</button></div>`,
  );
  let result: EvalSummary;
  let cancelled = false;
  try {
    const handle = runEvalJob(evalScriptOrThrow(), e.job, {
      onProgress: (done, total, stage) => {
        if (open) void panel.webview.postMessage({ type: 'progress', done, total, stage } satisfies ToEvalPanel);
      },
    });
    const cancel = () => {
      cancelled = true;
      handle.cancel();
    };
    panel.onDidDispose(cancel);
    const listener = panel.webview.onDidReceiveMessage((m: FromEvalPanel) => m.type === 'cancel' && cancel());
    try {
      result = await handle.promise;
    } finally {
      listener.dispose();
    }
  } catch (err) {
    if (cancelled || (err instanceof QuantLensError && err.code === 'cancelled')) {
      if (open) panel.webview.html = page(title, 'cancelled', `${heading}<p role="status">Cancelled.</p>`);
      return undefined;
    }
    if (open) panel.webview.html = page(title, 'error', `${heading}<p class="error" role="alert">${html(oneLine(err))}</p>`);
    throw err;
  }
  lastEvaluations.set(e.model.toString(), { result, textSource: e.textSource });
  if (!open) return result;
  panel.webview.html = page(
    title,
    'done',
    `<div class="actions" role="toolbar" aria-label="report actions">
<button data-action="export" data-format="md">Export Markdown…</button>
<button data-action="export" data-format="json">Export JSON…</button>
<button data-action="openMarkdown" class="secondary">Open as Markdown</button>
</div>
${evalReportHtml(result, e.textSource)}`,
  );
  panel.webview.onDidReceiveMessage((m: FromEvalPanel) => {
    const run = m.type === 'export' ? exportReport(e, result, m.format) : m.type === 'openMarkdown' ? openMarkdown(e, result) : undefined;
    run?.catch((err: unknown) => void vscode.window.showErrorMessage(vscode.l10n.t('Quant Lens: {0}', oneLine(err))));
  });
  return result;
}

function reportText(e: PanelEvaluation, r: EvalSummary, format: 'md' | 'json'): string {
  return format === 'md' ? evalMarkdown(r, e.textSource) : evalJson(r, e.textSource);
}

async function openMarkdown(e: PanelEvaluation, r: EvalSummary): Promise<void> {
  const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: reportText(e, r, 'md') });
  await vscode.window.showTextDocument(doc, { preview: false });
}

async function exportReport(e: PanelEvaluation, r: EvalSummary, format: 'md' | 'json'): Promise<void> {
  const base = modelName(e.model).replace(/\.gguf$/, '');
  const dest = await vscode.window.showSaveDialog({
    defaultUri: besideModel(e.model, `${base}.quantlens-eval.${format}`),
    filters: format === 'md' ? { Markdown: ['md'] } : { JSON: ['json'] },
  });
  if (!dest) return;
  const bytes = new TextEncoder().encode(reportText(e, r, format));
  await writeFileAtomically(dest.fsPath, (write) => write(bytes), {
    protect: [e.model.fsPath, e.job.reference],
    verify: (tmp) => {
      if (!Buffer.from(bytes).equals(readFileSync(tmp)))
        throw new QuantLensError('io', `${basename(dest.fsPath)} did not read back as written`);
    },
  });
  await vscode.window.showTextDocument(dest, { preview: false });
}
