/** Wiring only: the model editor, the worker pool, commands, hovers, and the text dump's language features. */
import * as vscode from 'vscode';
import { WorkerPool, defaultWorkerCount } from '../node/workerPool.ts';
import { ModelEditorProvider, VIEW_TYPE } from './modelEditorProvider.ts';
import { ModelRegistry } from './modelRegistry.ts';
import { TensorHoverProvider } from './tensorHover.ts';
import { registerCommands } from './commands/index.ts';
import { DUMP_SCHEME, DumpContentProvider, DumpFoldingProvider, DumpSymbolProvider } from './textDump.ts';
import { HubToken } from './hubToken.ts';

let pool: WorkerPool | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const configured = vscode.workspace.getConfiguration('quantLens').get<number>('workerCount', 0);
  const hubToken = new HubToken(context.secrets);
  await hubToken.load();
  pool = new WorkerPool(
    vscode.Uri.joinPath(context.extensionUri, 'dist', 'worker.js').fsPath,
    configured > 0 ? configured : defaultWorkerCount(),
    undefined,
    1,
    hubToken.workerEnv(),
  );
  const registry = new ModelRegistry();
  const provider = new ModelEditorProvider(context, pool, registry, hubToken);
  const dumpSelector: vscode.DocumentSelector = { language: 'quantlens-dump' };
  context.subscriptions.push(
    vscode.window.registerCustomEditorProvider(VIEW_TYPE, provider, {
      webviewOptions: { retainContextWhenHidden: true },
      supportsMultipleEditorsPerDocument: false,
    }),
    vscode.languages.registerHoverProvider('*', new TensorHoverProvider(registry)),
    vscode.workspace.registerTextDocumentContentProvider(DUMP_SCHEME, new DumpContentProvider(pool)),
    vscode.languages.registerDocumentSymbolProvider(dumpSelector, new DumpSymbolProvider()),
    vscode.languages.registerFoldingRangeProvider(dumpSelector, new DumpFoldingProvider()),
  );
  registerCommands(context, { pool, provider, registry, hubToken });
}

export async function deactivate(): Promise<void> {
  await pool?.dispose();
  pool = undefined;
}
