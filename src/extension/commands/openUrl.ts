/**
 * "Open Model from URL…": a model on the Hugging Face Hub or any HTTP server that answers range requests, opened
 * from its header alone; each view then fetches only the bytes it needs. Takes a download or page URL, or a Hub
 * reference `owner/repo/file` (`owner/repo@revision/file`).
 */
import * as vscode from 'vscode';
import { VIEW_TYPE } from '../modelEditorProvider.ts';
import { hubUrl, isUrl } from '../../core/io/location.ts';
import { remoteModelUri } from '../modelUri.ts';
import type { CommandContext } from './common.ts';

/** The URL a typed reference stands for, or a one-line reason it is none. */
export function urlOfReference(input: string): string | { error: string } {
  const text = input.trim();
  const url = isUrl(text) ? (hubUrl(text) ?? text) : hubUrl(text.startsWith('hf://') ? text : `hf://${text}`);
  if (!url) return { error: 'give an http(s) URL, or a Hub file as owner/repo/file.gguf' };
  if (!/\.(gguf|safetensors|json)$/i.test(new URL(url).pathname))
    return { error: 'the URL must end in a .gguf, .safetensors or model.safetensors.index.json file' };
  return url;
}

const PROMPT =
  'A Hugging Face file (owner/repo/model.gguf, or its page or download URL), or any URL of a server that answers range requests';

/** Asks for a model's URL (or takes `given`); undefined when the user gives none. */
export async function askForModelUrl(title: string, given?: unknown): Promise<string | undefined> {
  const input =
    typeof given === 'string'
      ? given
      : await vscode.window.showInputBox({
          title,
          prompt: PROMPT,
          placeHolder: vscode.l10n.t('https://huggingface.co/owner/repo/resolve/main/model-Q4_K_M.gguf'),
          ignoreFocusOut: true,
          validateInput: (v) => {
            const r = urlOfReference(v);
            return typeof r === 'string' || !v.trim() ? undefined : r.error;
          },
        });
  if (!input?.trim()) return undefined;
  const url = urlOfReference(input);
  if (typeof url !== 'string') throw new Error(url.error);
  return url;
}

export async function openUrl(_ctx: CommandContext, arg: unknown): Promise<void> {
  const url = await askForModelUrl('Quant Lens: open a model from a URL', arg);
  if (url) await vscode.commands.executeCommand('vscode.openWith', remoteModelUri(url), VIEW_TYPE);
}
