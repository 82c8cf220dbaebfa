/**
 * One opened model in the editor: its header (read on the extension host: headers only, fast), results cached
 * per file version, and the worker jobs it started (cancelled when the editor closes).
 */
import * as vscode from 'vscode';
import { stat } from 'node:fs/promises';
import { mayBeCut, openCutModel, openModel } from '../core/formats/openModel.ts';
import type { Model, TensorInfo } from '../core/model.ts';
import { oneLine, QuantLensError } from '../core/errors.ts';
import type { TensorStats } from '../core/analysis/tensorStats.ts';
import type { JobHandle, ProgressCallback, WorkerPool } from '../node/workerPool.ts';
import type { ResultOf, WorkerJob, WorkerResult } from '../shared/workerProtocol.ts';
import type { RemoteOptions } from '../core/io/location.ts';
import { isRemote, modelLocation, modelName } from './modelUri.ts';
import { heldForTest } from './testHold.ts';
import { quantizedViewOf, type QuantizedModel } from '../core/hfquant/open.ts';
import type { LogicalWeight } from '../core/hfquant/weights.ts';

/** Results survive closing and reopening the same file version (path + size + mtime). */
const resultCache = new Map<string, WorkerResult>();
const CACHE_LIMIT = 2000;

/**
 * The model, or, for a file cut short (a download that stopped: a GGUF or safetensors file, or a shard of a sharded
 * model), what of it is there: its header and the tensors whose data is present (the editor says how much is missing). Other errors are thrown as openModel throws them.
 */
async function openModelOrWhatIsThere(location: string, remote: RemoteOptions): Promise<Model> {
  try {
    return await openModel(location, remote);
  } catch (e) {
    const cut = mayBeCut(e) ? await openCutModel(location, remote) : undefined;
    if (!cut) throw e;
    return cut;
  }
}

/** What opening a document found: the model (and its logical weights), or why it did not open. */
interface Opened {
  model?: Model;
  /** A quantized Hugging Face checkpoint's logical weights (the table shows them instead of their components). */
  quantized?: QuantizedModel;
  /** Why the file did not open, and whether it could not be read at all (missing, refused, unreachable). */
  openError?: { message: string; unreadable: boolean };
}

export class ModelDocument implements vscode.CustomDocument {
  private jobs = new Set<JobHandle>();
  private tensorsByName = new Map<string, TensorInfo>();
  private opened: Opened = {};
  private disposed = false;
  private readonly onDidDisposeEmitter = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.onDidDisposeEmitter.event;
  /** Stats computed so far, by tensor name (the hover shows them). */
  readonly stats = new Map<string, TensorStats>();
  /** The reference file of the last comparison, if any: selecting a tensor then also compares it. */
  reference: string | undefined;
  /** An importance matrix file (llama.cpp imatrix) that weights the what-if error, if one was loaded. */
  imatrix: string | undefined;
  /** Settles once the header is read (or found unreadable): until then the editor shows its loading state. */
  readonly ready: Promise<void>;
  private version: string;

  private constructor(
    readonly uri: vscode.Uri,
    private readonly pool: WorkerPool,
    remote: RemoteOptions,
  ) {
    this.version = uri.toString();
    this.ready = this.open(remote);
  }

  /** The model's header, read in the background (a local file, or a remote one by URL: `remote` holds the Hub token). */
  static open(uri: vscode.Uri, pool: WorkerPool, remote: RemoteOptions = {}): ModelDocument {
    return new ModelDocument(uri, pool, remote);
  }

  get model(): Model | undefined {
    return this.opened.model;
  }

  get quantized(): QuantizedModel | undefined {
    return this.opened.quantized;
  }

  get openError(): { message: string; unreadable: boolean } | undefined {
    return this.opened.openError;
  }

  private async open(remote: RemoteOptions): Promise<void> {
    const opened = await this.read(remote);
    if (this.disposed) {
      await opened.model?.close();
      return;
    }
    this.opened = opened;
    this.tensorsByName = new Map(opened.model?.tensors.map((t) => [t.name, t]));
  }

  private async read(remote: RemoteOptions): Promise<Opened> {
    try {
      const location = modelLocation(this.uri);
      await heldForTest(modelName(this.uri));
      if (!isRemote(this.uri)) {
        const s = await stat(location);
        this.version = `${location}:${s.size}:${s.mtimeMs}`;
      }
      // a remote file's version is checked by its ETag on every read (core/io/httpByteSource.ts)
      const model = await openModelOrWhatIsThere(location, remote);
      try {
        // config files beside it (over HTTP for a remote model) say whether it is a quantized checkpoint
        return { model, quantized: await quantizedViewOf(model, location, remote) };
      } catch (e) {
        await model.close();
        throw e;
      }
    } catch (e) {
      return { openError: { message: oneLine(e), unreadable: e instanceof QuantLensError && e.code === 'io' } };
    }
  }

  tensor(name: string): TensorInfo | undefined {
    return this.tensorsByName.get(name);
  }

  /** The logical weight of exactly that name, in a quantized checkpoint. */
  logicalWeight(name: string): LogicalWeight | undefined {
    return this.quantized?.weights.find((w) => w.name === name);
  }

  /**
   * Run a worker job for this document, from the cache when this file version already computed it. The job is
   * cancelled with the editor, by cancelJobs, or by `token`.
   */
  async run<J extends WorkerJob>(job: J, onProgress?: ProgressCallback, token?: vscode.CancellationToken): Promise<ResultOf<J>> {
    const key = `${this.version}|${JSON.stringify({ ...job, path: undefined })}`;
    // the key holds the job, kind included: a cached result is this job's
    const cached = resultCache.get(key) as ResultOf<J> | undefined;
    if (cached) return cached;
    const handle = this.pool.run(job, onProgress);
    this.jobs.add(handle);
    const onCancel = token?.onCancellationRequested(() => handle.cancel());
    try {
      const result = await handle.promise;
      if (job.kind !== 'requantize') {
        if (resultCache.size >= CACHE_LIMIT) resultCache.delete(resultCache.keys().next().value!);
        resultCache.set(key, result);
      }
      if (result.kind === 'stats' && 'tensor' in job) this.stats.set(job.tensor, result.stats);
      return result;
    } finally {
      onCancel?.dispose();
      this.jobs.delete(handle);
    }
  }

  cancelJobs(): void {
    for (const j of this.jobs) j.cancel();
    this.jobs.clear();
  }

  dispose(): void {
    this.disposed = true;
    this.cancelJobs();
    this.pool.broadcast({ kind: 'close', path: modelLocation(this.uri) });
    void this.model?.close();
    this.onDidDisposeEmitter.fire();
    this.onDidDisposeEmitter.dispose();
  }
}
