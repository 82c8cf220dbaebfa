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
import { isRemote, modelLocation } from './modelUri.ts';
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

export class ModelDocument implements vscode.CustomDocument {
  private jobs = new Set<JobHandle>();
  private readonly tensorsByName: Map<string, TensorInfo>;
  private readonly onDidDisposeEmitter = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.onDidDisposeEmitter.event;
  /** Stats computed so far, by tensor name (the hover shows them). */
  readonly stats = new Map<string, TensorStats>();
  /** The reference file of the last comparison, if any: selecting a tensor then also compares it. */
  reference: string | undefined;
  /** An importance matrix file (llama.cpp imatrix) that weights the what-if error, if one was loaded. */
  imatrix: string | undefined;

  private constructor(
    readonly uri: vscode.Uri,
    readonly model: Model | undefined,
    /** A quantized Hugging Face checkpoint's logical weights (the table shows them instead of their components). */
    readonly quantized: QuantizedModel | undefined,
    /** Why the file did not open, and whether it could not be read at all (missing, refused, unreachable). */
    readonly openError: { message: string; unreadable: boolean } | undefined,
    private readonly version: string,
    private readonly pool: WorkerPool,
  ) {
    this.tensorsByName = new Map(model?.tensors.map((t) => [t.name, t]));
  }

  /** Opens the model's header: a local file, or a remote one by URL (`remote` holds the Hub token, if any). */
  static async open(uri: vscode.Uri, pool: WorkerPool, remote: RemoteOptions = {}): Promise<ModelDocument> {
    let version = uri.toString();
    try {
      const location = modelLocation(uri);
      if (!isRemote(uri)) {
        const s = await stat(location);
        version = `${location}:${s.size}:${s.mtimeMs}`;
      }
      // a remote file's version is checked by its ETag on every read (core/io/httpByteSource.ts)
      const model = await openModelOrWhatIsThere(location, remote);
      try {
        // config files beside it (over HTTP for a remote model) say whether it is a quantized checkpoint
        return new ModelDocument(uri, model, await quantizedViewOf(model, location, remote), undefined, version, pool);
      } catch (e) {
        await model.close();
        throw e;
      }
    } catch (e) {
      return new ModelDocument(
        uri,
        undefined,
        undefined,
        { message: oneLine(e), unreadable: e instanceof QuantLensError && e.code === 'io' },
        version,
        pool,
      );
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
    this.cancelJobs();
    this.pool.broadcast({ kind: 'close', path: modelLocation(this.uri) });
    void this.model?.close();
    this.onDidDisposeEmitter.fire();
    this.onDidDisposeEmitter.dispose();
  }
}
