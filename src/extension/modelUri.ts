/**
 * Which model an editor shows: a local file (`file:` URI) or a file on an HTTP server, opened by URL. A remote model
 * gets a `quantlens-remote:` URI whose path ends in the file's name (so the custom editor's `*.gguf` /
 * `*.safetensors` selectors and the tab title work) and whose query holds the URL the core opens.
 */
import * as vscode from 'vscode';
import { homedir } from 'node:os';
import { baseName, isUrl } from '../core/io/location.ts';

export const REMOTE_SCHEME = 'quantlens-remote';

export function remoteModelUri(url: string): vscode.Uri {
  const u = new URL(url);
  return vscode.Uri.from({ scheme: REMOTE_SCHEME, authority: u.host, path: u.pathname, query: new URLSearchParams({ url }).toString() });
}

/** What the core opens for this editor: a path, or the URL of a remote model. */
export function modelLocation(uri: vscode.Uri): string {
  if (uri.scheme !== REMOTE_SCHEME) return uri.fsPath;
  const url = new URLSearchParams(uri.query).get('url');
  if (!url || !isUrl(url))
    throw new Error(vscode.l10n.t('{0} was opened by a URL that is no longer in its address: open it again by URL', baseName(uri.path)));
  return url;
}

export function isRemote(uri: vscode.Uri): boolean {
  return uri.scheme === REMOTE_SCHEME;
}

/** The model's file name, for titles and messages. */
export function modelName(uri: vscode.Uri): string {
  return baseName(modelLocation(uri));
}

/** The folder dialogs start in: the model's own, or for a remote model the first workspace folder (else home). */
export function folderOfModel(uri: vscode.Uri): vscode.Uri {
  if (!isRemote(uri)) return vscode.Uri.joinPath(vscode.Uri.file(uri.fsPath), '..');
  return vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(homedir());
}

/** Where a file written from this model is proposed. */
export function besideModel(uri: vscode.Uri, name: string): vscode.Uri {
  return vscode.Uri.joinPath(folderOfModel(uri), name);
}
