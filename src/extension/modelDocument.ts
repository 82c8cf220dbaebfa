/**
 * One opened model in the editor: its header (read on the extension host: headers only, fast), results cached
 * per file version, and the worker jobs it started (cancelled when the editor closes).
 */
import * as vscode from 'vscode';
import { stat } from 'node:fs/promises';
import { openModel } from '../core/formats/openModel.ts';
import type { Model, TensorInfo } from '../core/model.ts';
import { oneLine } from '../core/errors.ts';
import type { TensorStats } from '../core/analysis/tensorStats.ts';
import type { JobHandle, WorkerPool } from '../node/workerPool.ts';
import type { ResultOf, WorkerJob, WorkerResult } from '../shared/workerProtocol.ts';

/** Results survive closing and reopening the same file version (path + size + mtime). */
const resultCache = new Map<string, WorkerResult>();
const CACHE_LIMIT = 2000;

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
    readonly openError: string | undefined,
    private readonly version: string,
    private readonly pool: WorkerPool,
  ) {
    this.tensorsByName = new Map(model?.tensors.map((t) => [t.name, t]));
  }

  static async open(uri: vscode.Uri, pool: WorkerPool): Promise<ModelDocument> {
    let version = uri.fsPath;
    try {
      const s = await stat(uri.fsPath);
      version = `${uri.fsPath}:${s.size}:${s.mtimeMs}`;
      return new ModelDocument(uri, await openModel(uri.fsPath), undefined, version, pool);
    } catch (e) {
      return new ModelDocument(uri, undefined, oneLine(e), version, pool);
    }
  }

  tensor(name: string): TensorInfo | undefined {
    return this.tensorsByName.get(name);
  }

  /**
   * Run a worker job for this document, from the cache when this file version already computed it. The job is
   * cancelled with the editor, by cancelJobs, or by `token`.
   */
  async run<J extends WorkerJob>(job: J, onProgress?: (done: number, total: number) => void, token?: vscode.CancellationToken): Promise<ResultOf<J>> {
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
    this.pool.broadcast({ kind: 'close', path: this.uri.fsPath });
    void this.model?.close();
    this.onDidDisposeEmitter.fire();
    this.onDidDisposeEmitter.dispose();
  }
}
