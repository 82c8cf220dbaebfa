/** What every command is given, and the helpers they share: the model a command is about, progress, cancellation. */
import * as vscode from 'vscode';
import type { WorkerPool } from '../../node/workerPool.ts';
import type { ModelEditorProvider } from '../modelEditorProvider.ts';
import type { ModelRegistry } from '../modelRegistry.ts';
import type { HubToken } from '../hubToken.ts';
import type { ResultOf, WorkerJob } from '../../shared/workerProtocol.ts';

export interface CommandContext {
  pool: WorkerPool;
  provider: ModelEditorProvider;
  registry: ModelRegistry;
  hubToken: HubToken;
}

/** A command: its arguments are whatever VS Code passes (an explorer Uri, the editor's tensors ...). */
export type Command = (ctx: CommandContext, ...args: unknown[]) => Promise<void>;

/** The files a model can be compared with. */
export const MODEL_FILTERS = { Models: ['gguf', 'safetensors', 'json'] };

/** The model a command is about: its argument, the active Quant Lens editor, or the active tab's file. */
function target(ctx: CommandContext, arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  const active = ctx.provider.activeDocument();
  if (active) return active.uri;
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText) return input.uri;
  return undefined;
}

/** target, or an error message saying to open a model first. */
export function requireTarget(ctx: CommandContext, arg: unknown): vscode.Uri | undefined {
  const uri = target(ctx, arg);
  if (!uri) void vscode.window.showErrorMessage(vscode.l10n.t('Quant Lens: open a .gguf or .safetensors model first.'));
  return uri;
}

/** Long work with a cancellable progress notification (percent done). */
export function withJob<T>(
  title: string,
  run: (progress: (done: number, total: number) => void, token: vscode.CancellationToken) => Promise<T>,
): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
    let last = 0;
    return run((done, total) => {
      const pct = Math.floor((100 * done) / Math.max(1, total));
      if (pct > last) {
        progress.report({ increment: pct - last, message: `${pct}%` });
        last = pct;
      }
    }, token);
  });
}

/** A worker job that `token` cancels. */
export function runWithCancel<J extends WorkerJob>(
  ctx: CommandContext,
  job: J,
  progress: (d: number, t: number) => void,
  token: vscode.CancellationToken,
): Promise<ResultOf<J>> {
  const handle = ctx.pool.run(job, progress);
  token.onCancellationRequested(() => handle.cancel());
  return handle.promise;
}

/** The tensors the editor passed (its selection), if any. */
export function selectedTensors(tensors: unknown): string[] | undefined {
  return Array.isArray(tensors) && tensors.length ? (tensors as string[]) : undefined;
}

/** A regular expression matching exactly these tensor names. */
export function exactNames(names: string[]): string {
  return `^(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`;
}

/** Patterns separated by spaces, each given `type`: llama.cpp --tensor-type rules. */
export function rulesFor(patterns: string, type: string): string[] {
  return patterns
    .split(/\s+/)
    .filter(Boolean)
    .map((p) => `${p}=${type}`);
}

export function refuseUntrusted(): void {
  if (!vscode.workspace.isTrusted) throw new Error(vscode.l10n.t('writing files is disabled in untrusted workspaces'));
}
