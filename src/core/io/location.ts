/**
 * Where a model file is: a local path or an http(s) URL. openModel finds shards and index files beside the file it
 * was given; these helpers do that the same way for both, so the readers never care which it is.
 *
 * A Hugging Face Hub reference is turned into its download URL first (`hubUrl`): `owner/repo/file`,
 * `owner/repo@revision/file`, `hf://owner/repo/file`, or a page URL `https://huggingface.co/owner/repo/blob/rev/file`.
 */
import { basename, dirname, join } from 'node:path';
import { FileByteSource, statAsync, type ByteSource } from './byteSource.ts';
import type { HttpAuth } from './httpByteSource.ts';
import { QuantLensError } from '../errors.ts';

export const HUB_HOST = 'huggingface.co';

/** How remote files are reached: the token for the Hub (or another host), nothing else. */
export interface RemoteOptions {
  auth?: HttpAuth;
}

export function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/**
 * The download URL of a Hub reference, or undefined if `input` is not one. A plain relative path that happens to
 * have the `owner/repo/file` shape is a Hub reference only with `hf://`, unless no such local file exists (the
 * caller decides; see openModel).
 */
export function hubUrl(input: string): string | undefined {
  const page = /^https:\/\/(?:www\.)?huggingface\.co\/([^/]+)\/([^/]+)\/blob\/([^/]+)\/(.+)$/.exec(input);
  if (page) return `https://${HUB_HOST}/${page[1]}/${page[2]}/resolve/${page[3]}/${page[4]}`;
  const ref = /^(?:hf:\/\/)?([A-Za-z0-9][\w.-]*)\/([\w.-]+?)(?:@([\w.-]+))?\/(.+)$/.exec(input);
  if (!ref || (!input.startsWith('hf://') && isUrl(input))) return undefined;
  const revision = ref[3] ?? 'main';
  const file = ref[4].split('/').map(encodeURIComponent).join('/');
  return `https://${HUB_HOST}/${ref[1]}/${ref[2]}/resolve/${encodeURIComponent(revision)}/${file}`;
}

/** The file name at the end of a location. */
export function baseName(location: string): string {
  if (!isUrl(location)) return basename(location);
  const path = new URL(location).pathname;
  return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
}

/** The location of `name` in the same folder as `location` (same server, same revision; query dropped). */
export function sibling(location: string, name: string): string {
  if (!isUrl(location)) return join(dirname(location), name);
  const url = new URL(location);
  url.search = '';
  url.hash = '';
  url.pathname = url.pathname.slice(0, url.pathname.lastIndexOf('/') + 1) + encodeURIComponent(name);
  return url.href;
}

/** The token for the Hub from the environment (`HF_TOKEN`, as huggingface_hub reads it), when none was given. */
function authFor(remote: RemoteOptions): HttpAuth | undefined {
  if (remote.auth) return remote.auth;
  const token = process.env.HF_TOKEN?.trim();
  return token ? { host: HUB_HOST, token } : undefined;
}

/**
 * What the user typed, as a location: a URL as it is (a Hub page URL becomes its download URL), `hf://…` a Hub
 * download URL, and a local path as it is unless nothing is there and it reads as `owner/repo/file`.
 */
export async function resolveInput(input: string): Promise<string> {
  if (isUrl(input) || input.startsWith('hf://')) return hubUrl(input) ?? input;
  if (await fileExists(input)) return input;
  return hubUrl(input) ?? input;
}

/**
 * The HTTP reader, imported for the first remote file: a local model never loads it (nor the worker_threads helper
 * behind its blocking reads).
 */
async function openHttp(location: string, remote: RemoteOptions): Promise<ByteSource> {
  const { HttpByteSource } = await import('./httpByteSource.ts');
  return HttpByteSource.open(location, { auth: authFor(remote) });
}

export async function openByteSource(location: string, remote: RemoteOptions = {}): Promise<ByteSource> {
  return isUrl(location) ? openHttp(location, remote) : FileByteSource.open(location);
}

/**
 * Whether something is at `location` (opening it says later if it is not a regular file). A missing local path or
 * a remote 404 is false.
 */
export async function fileExists(location: string, remote: RemoteOptions = {}): Promise<boolean> {
  if (!isUrl(location)) {
    try {
      await statAsync(location);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new QuantLensError(
        'io',
        `cannot open ${location}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        undefined,
        location,
      );
    }
  }
  try {
    await (await openHttp(location, remote)).close();
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/** The server said the file is not there (HTTP 404). */
export function isNotFound(e: unknown): boolean {
  return e instanceof QuantLensError && / HTTP 404:/.test(e.message);
}

/**
 * A whole small file if it is there, else undefined: locally a missing path, remotely a 404, with one request (a
 * remote file is not probed first and then read).
 */
export async function readIfPresent(location: string, remote: RemoteOptions = {}, maxBytes = Infinity): Promise<Uint8Array | undefined> {
  if (!isUrl(location)) return (await fileExists(location)) ? readWhole(location, remote, maxBytes) : undefined;
  try {
    return await readWhole(location, remote, maxBytes);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** A whole small file (an index, a config), refusing what is not a regular file, local or remote. */
export async function readWhole(location: string, remote: RemoteOptions = {}, maxBytes = Infinity): Promise<Uint8Array> {
  const source = await openByteSource(location, remote);
  try {
    if (source.size > maxBytes)
      throw new QuantLensError(
        'limit-exceeded',
        `${baseName(location)} is ${source.size} bytes, over the ${maxBytes}-byte limit for JSON`,
        0,
        location,
      );
    const bytes = new Uint8Array(source.size);
    const got = await source.read(0, bytes);
    if (got < bytes.length)
      throw new QuantLensError(
        'truncated',
        `${location}: the file is cut short at byte ${got} (read ${got} of ${bytes.length} bytes)`,
        got,
        location,
      );
    return bytes;
  } finally {
    await source.close();
  }
}
