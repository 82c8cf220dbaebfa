/** The palette / title-bar / explorer commands. Each resolves its model, asks what it needs, runs in a worker. */
import * as vscode from 'vscode';
import { basename, dirname, extname, join } from 'node:path';
import type { WorkerPool } from '../node/workerPool.ts';
import type { ModelEditorProvider } from './modelEditorProvider.ts';
import { VIEW_TYPE } from './modelEditorProvider.ts';
import type { ModelRegistry } from './modelRegistry.ts';
import { DumpContentProvider } from './textDump.ts';
import { oneLine } from '../core/errors.ts';
import { openModel } from '../core/formats/openModel.ts';
import { parseTensorTypeRule, planRequantize } from '../core/requant/requantize.ts';
import { requireQuantizer, writableTypeIds } from '../core/quant/quantizers.ts';
import { GGML_TYPES } from '../core/types.ts';
import { formatBytes, formatCount } from '../core/analysis/summary.ts';
import type { WorkerJob } from '../shared/workerProtocol.ts';

/** A relative error to 3 significant digits. */
const fmtError = (x: number) => (x === 0 ? '0' : x.toPrecision(3));

const MODEL_FILTERS = { Models: ['gguf', 'safetensors', 'json'] };

export function registerCommands(context: vscode.ExtensionContext, pool: WorkerPool, provider: ModelEditorProvider, registry: ModelRegistry): void {
  /** The model a command is about: its argument, the active Quant Lens editor, or the active tab's file. */
  const target = (arg: unknown): vscode.Uri | undefined => {
    if (arg instanceof vscode.Uri) return arg;
    const active = provider.activeDocument();
    if (active) return active.uri;
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    if (input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText) return input.uri;
    return undefined;
  };
  const requireTarget = (arg: unknown): vscode.Uri | undefined => {
    const uri = target(arg);
    if (!uri) void vscode.window.showErrorMessage('Quant Lens: open a .gguf or .safetensors model first.');
    return uri;
  };

  const withJob = async <T>(title: string, run: (progress: (done: number, total: number) => void, token: vscode.CancellationToken) => Promise<T>) =>
    vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
      let last = 0;
      return run((done, total) => {
        const pct = Math.floor((100 * done) / Math.max(1, total));
        if (pct > last) {
          progress.report({ increment: pct - last, message: `${pct}%` });
          last = pct;
        }
      }, token);
    });

  const runWithCancel = <J extends WorkerJob>(job: J, progress: (d: number, t: number) => void, token: vscode.CancellationToken) => {
    const handle = pool.run(job, progress);
    token.onCancellationRequested(() => handle.cancel());
    return handle.promise;
  };

  const register = (id: string, f: (...args: unknown[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        await f(...args);
      } catch (e) {
        void vscode.window.showErrorMessage(`Quant Lens: ${oneLine(e)}`);
      }
    }));

  register('quantLens.openWith', async (arg) => {
    const uri = requireTarget(arg);
    if (uri) await vscode.commands.executeCommand('vscode.openWith', uri, VIEW_TYPE);
  });

  register('quantLens.revealTensor', async (uriString, tensor) => {
    const doc = registry.byUri(String(uriString));
    if (doc) provider.reveal(doc, String(tensor));
  });

  register('quantLens.showAsText', async (arg) => {
    const uri = requireTarget(arg);
    if (!uri) return;
    const doc = await vscode.workspace.openTextDocument(DumpContentProvider.uriFor(uri));
    await vscode.languages.setTextDocumentLanguage(doc, 'quantlens-dump');
    await vscode.window.showTextDocument(doc, { preview: false });
  });

  register('quantLens.exportReport', async (arg) => {
    const uri = requireTarget(arg);
    if (!uri) return;
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'Markdown', description: 'ready to paste into a GitHub issue', format: 'md' as const },
        { label: 'JSON', description: 'summary, tensors, stats', format: 'json' as const },
        { label: 'CSV', description: 'one row per tensor, for a spreadsheet', format: 'csv' as const },
      ],
      { title: 'Quant Lens: export stats as' },
    );
    if (!pick) return;
    const base = basename(uri.fsPath).replace(/\.(gguf|safetensors|json)$/, '');
    const dest = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(join(dirname(uri.fsPath), `${base}.quantlens.${pick.format}`)) });
    if (!dest) return;
    const text = await withJob(`Quant Lens: computing stats of ${basename(uri.fsPath)}`, (p, t) =>
      runWithCancel({ kind: 'report', path: uri.fsPath, format: pick.format }, p, t),
    );
    await vscode.workspace.fs.writeFile(dest, new TextEncoder().encode(text.text));
    await vscode.window.showTextDocument(dest);
  });

  register('quantLens.compare', async (arg) => {
    const uri = requireTarget(arg);
    if (!uri) return;
    const picked = await vscode.window.showOpenDialog({
      title: `Compare ${basename(uri.fsPath)} with… (its source checkpoint or another quantization)`,
      filters: MODEL_FILTERS,
      defaultUri: vscode.Uri.file(dirname(uri.fsPath)),
      canSelectMany: false,
    });
    const ref = picked?.[0];
    if (!ref) return;
    const open = provider.documentFor(uri);
    if (open) {
      // In the editor: the ranked table and the map coloured by error.
      const result = await withJob(`Quant Lens: comparing ${basename(uri.fsPath)} with ${basename(ref.fsPath)}`, (p, t) => {
        const run = open.run({ kind: 'compare', path: uri.fsPath, reference: ref.fsPath }, p);
        t.onCancellationRequested(() => open.cancelJobs());
        return run;
      });
      open.reference = ref.fsPath;
      provider.post(open, { type: 'comparison', comparison: result.comparison });
      return;
    }
    const text = await withJob(`Quant Lens: comparing ${basename(uri.fsPath)} with ${basename(ref.fsPath)}`, (p, t) =>
      runWithCancel({ kind: 'report', path: uri.fsPath, reference: ref.fsPath, format: 'md' }, p, t),
    );
    const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: text.text });
    await vscode.window.showTextDocument(doc, { preview: false });
  });

  register('quantLens.loadImatrix', async (arg) => {
    const uri = requireTarget(arg);
    const doc = uri ? provider.documentFor(uri) : undefined;
    if (!uri || !doc) throw new Error('open the model in Quant Lens first');
    const picked = await vscode.window.showOpenDialog({ title: 'Importance matrix (llama.cpp imatrix .dat or .gguf) to weight the what-if error', filters: { imatrix: ['dat', 'gguf', 'imatrix'] }, defaultUri: vscode.Uri.file(dirname(uri.fsPath)) });
    if (!picked?.[0]) return;
    doc.imatrix = picked[0].fsPath;
    provider.post(doc, { type: 'imatrix', file: basename(picked[0].fsPath) });
  });

  register('quantLens.simulate', async (arg, tensors) => {
    const uri = requireTarget(arg);
    if (!uri) return;
    if (!vscode.workspace.isTrusted) throw new Error('writing files is disabled in untrusted workspaces');
    const candidates = [...writableTypeIds().map((id) => GGML_TYPES.get(id)!).filter((t) => t.blockSize > 1 && !requireQuantizer(t).requiresImatrix).map((t) => ({ label: t.name, description: `${t.bitsPerWeight.toFixed(3)} bpw (ggml)` })),
      ...['int8-sym-channel', 'int4-sym-g32', 'int4-asym-g32', 'int4-sym-g128', 'int3-asym-g32', 'nf4', 'fp8-e4m3', 'fp8-e5m2'].map((s) => ({ label: s, description: 'textbook scheme' }))];
    const pick = await vscode.window.showQuickPick(candidates, { title: 'Quant Lens: simulate which quantization? (quantize → dequantize, stored in the original dtype)' });
    if (!pick) return;
    const selected = Array.isArray(tensors) && tensors.length ? (tensors as string[]) : undefined;
    const patterns = await vscode.window.showInputBox({
      title: 'Tensors to replace (regular expressions, several separated by spaces, last match wins)',
      value: selected ? `^(${selected.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$` : 'proj',
    });
    if (!patterns) return;
    const rules = patterns.split(/\s+/).filter(Boolean).map((p) => `${p}=${pick.label}`);
    const base = basename(uri.fsPath).replace(/(-\d{5}-of-\d{5})?\.safetensors$|\.safetensors\.index\.json$/, '');
    const dest = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(join(dirname(uri.fsPath), `${base}-sim-${pick.label}.safetensors`)), filters: { safetensors: ['safetensors'] } });
    if (!dest) return;
    const result = await withJob(`Quant Lens: writing ${basename(dest.fsPath)}`, (p, t) =>
      runWithCancel({ kind: 'simulate', path: uri.fsPath, output: dest.fsPath, rules }, p, t),
    );
    void vscode.window.showInformationMessage(`Quant Lens: wrote ${basename(result.output)} (${result.changed} tensors replaced by simulated ${pick.label}, verified).`);
    await vscode.commands.executeCommand('vscode.openWith', dest, VIEW_TYPE);
  });

  register('quantLens.requantize', async (arg, tensors) => {
    const uri = requireTarget(arg);
    if (!uri) return;
    if (!vscode.workspace.isTrusted) throw new Error('writing files is disabled in untrusted workspaces');
    const model = await openModel(uri.fsPath);
    try {
      if (model.format !== 'gguf') {
        await vscode.commands.executeCommand('quantLens.simulate', uri, tensors);
        return;
      }
      const imatrix = registry.byUri(uri.toString())?.imatrix;
      const types = writableTypeIds().map((id) => GGML_TYPES.get(id)!);
      const typePick = await vscode.window.showQuickPick(
        types.map((t) => ({
          label: t.name,
          description: `${t.bitsPerWeight.toFixed(3)} bpw${requireQuantizer(t).requiresImatrix ? ' · needs an importance matrix' : ''}`,
          detail: t.description,
          type: t,
        })),
        { title: `Quant Lens: requantize to which type?${imatrix ? ` (importance matrix ${basename(imatrix)})` : ''}` },
      );
      if (!typePick) return;
      if (requireQuantizer(typePick.type).requiresImatrix && !imatrix) {
        throw new Error(`${typePick.label} needs an importance matrix: run "Quant Lens: Load Importance Matrix…" first`);
      }
      const selected = Array.isArray(tensors) && tensors.length ? (tensors as string[]) : undefined;
      const defaultPattern = selected ? `^(${selected.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$` : '';
      const patterns = await vscode.window.showInputBox({
        title: 'Tensors to change (regular expressions, llama.cpp --tensor-type style; several separated by spaces, last match wins)',
        value: defaultPattern || 'attn_v|ffn_down',
        prompt: `Each pattern gets ${typePick.label}. Example: attn_v|ffn_down  or  blk\\.(0|1)\\.`,
      });
      if (!patterns) return;
      const rules = patterns.split(/\s+/).filter(Boolean).map((p) => `${p}=${typePick.label}`);
      const plan = planRequantize(model, rules.map(parseTensorTypeRule));
      if (!plan.changes.length) {
        void vscode.window.showWarningMessage(`Quant Lens: no tensor would change${plan.skipped.length ? ` (${plan.skipped[0].tensor}: ${plan.skipped[0].reason})` : ''}.`);
        return;
      }
      const delta = plan.newBytes - plan.oldBytes;
      const predicted = await withJob(`Quant Lens: predicting the error of ${plan.changes.length} tensors`, (p, t) =>
        runWithCancel({ kind: 'predictErrors', path: uri.fsPath, rules, imatrix }, p, t),
      );
      const errorOf = new Map(predicted.predictions.map((p) => [p.tensor, p]));
      const errorText = (name: string) => {
        const p = errorOf.get(name);
        if (!p) return '';
        const m = p.metrics;
        const weighted = m.weighted_rel_rmse !== undefined ? ` · imatrix-weighted ${fmtError(m.weighted_rel_rmse)}` : '';
        return ` · rel. RMSE ${fmtError(m.rel_rmse)}${weighted} · SNR ${m.snr_db === null ? '∞' : m.snr_db.toFixed(1)} dB${p.exact ? '' : ` (estimated from ${formatCount(p.sampledWeights)} weights in spread rows)`}`;
      };
      const preview = await vscode.window.showQuickPick(
        [
          { label: `$(check) Write ${plan.changes.length} changed tensors`, description: `${formatBytes(plan.oldBytes)} → ${formatBytes(plan.newBytes)} (${delta >= 0 ? '+' : '−'}${formatBytes(Math.abs(delta))})`, go: true },
          ...plan.changes.map((c) => ({ label: c.tensor.name, description: `${c.from.name} → ${c.to.name}`, detail: `${formatBytes(c.oldBytes)} → ${formatBytes(c.newBytes)}${errorText(c.tensor.name)}`, go: false })),
          ...plan.skipped.map((s) => ({ label: `$(circle-slash) ${s.tensor}`, description: 'unchanged', detail: s.reason, go: false })),
        ],
        { title: 'Quant Lens: requantize preview', placeHolder: 'Pick the first entry to write the new file (errors are against the current values)' },
      );
      if (!preview?.go) return;
      const ext = extname(uri.fsPath);
      const base = basename(uri.fsPath, ext).replace(/-\d{5}-of-\d{5}$/, '');
      const dest = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(join(dirname(uri.fsPath), `${base}-${typePick.label}.gguf`)), filters: { GGUF: ['gguf'] } });
      if (!dest) return;
      if (model.files.some((f) => f.path === dest.fsPath)) throw new Error('refusing to overwrite the source file; choose another name');
      const result = await withJob(`Quant Lens: writing ${basename(dest.fsPath)}`, (p, t) =>
        runWithCancel({ kind: 'requantize', path: uri.fsPath, output: dest.fsPath, rules, imatrix }, p, t),
      );
      void vscode.window.showInformationMessage(`Quant Lens: wrote ${basename(result.output)} (${formatBytes(result.bytes)}, ${result.changed} tensors changed, verified).`);
      await vscode.commands.executeCommand('vscode.openWith', dest, VIEW_TYPE);
    } finally {
      await model.close();
    }
  });
}
