/** The webview's line to the extension host: requests whose replies come back to the asker, tells, and saved view state. */
import type { FromWebview, Tell } from '../src/shared/webviewProtocol.ts';
import { ReplyRouter } from './replies.ts';

declare function acquireVsCodeApi(): { postMessage(m: FromWebview): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();

export const replies = new ReplyRouter((m) => vscode.postMessage(m));
export const ask = replies.request.bind(replies);
export const tell = (m: Tell) => vscode.postMessage(m);

/** What the webview restores when VS Code recreates it. */
export interface ViewState {
  selected?: string;
  filter?: string;
  tab?: number;
}
export const saved = (vscode.getState() as ViewState | undefined) ?? {};
export const saveState = (patch: Partial<ViewState>) => vscode.setState({ ...((vscode.getState() as ViewState) ?? {}), ...patch });
