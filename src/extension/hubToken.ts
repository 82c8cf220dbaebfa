/**
 * The Hugging Face token for gated and private repositories, kept in VS Code's SecretStorage (never in settings or
 * logs). The editor host uses it to read headers, and the worker threads get it as their own HF_TOKEN (each
 * thread has its own copy of the environment, so the extension host's process.env never holds it); the core sends
 * it to huggingface.co only.
 */
import * as vscode from 'vscode';
import type { RemoteOptions } from '../core/io/location.ts';
import { HUB_HOST } from '../core/io/location.ts';

const KEY = 'quantLens.huggingFaceToken';

export class HubToken {
  private token: string | undefined;

  constructor(private readonly secrets: vscode.SecretStorage) {}

  async load(): Promise<void> {
    this.token = (await this.secrets.get(KEY)) || undefined;
  }

  async set(token: string | undefined): Promise<void> {
    this.token = token || undefined;
    if (this.token) await this.secrets.store(KEY, this.token);
    else await this.secrets.delete(KEY);
  }

  get isSet(): boolean {
    return this.token !== undefined;
  }

  remoteOptions(): RemoteOptions {
    return this.token ? { auth: { host: HUB_HOST, token: this.token } } : {};
  }

  /** The worker threads' environment: the extension host's, with the token as HF_TOKEN (or without one). */
  workerEnv(): Record<string, string | undefined> {
    const { HF_TOKEN: _, ...env } = process.env;
    return this.token ? { ...env, HF_TOKEN: this.token } : env;
  }
}
