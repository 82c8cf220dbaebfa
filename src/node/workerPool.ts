/**
 * A small pool of worker threads (dist/worker.js). Jobs queue until a worker is free (a worker takes jobs once it
 * has loaded and said it is ready); each can be cancelled (a shared flag the worker polls between chunks). No
 * vscode import: tests drive it directly.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import {
  JOB_CANCELLED,
  JOB_QUEUED,
  JOB_TAKEN_BACK,
  type ResultOf,
  type WorkerJob,
  type WorkerRequest,
  type WorkerResponse,
  type WorkerResult,
} from '../shared/workerProtocol.ts';
import { QuantLensError, type ErrorCode } from '../core/errors.ts';
import type { ChunkQuantizer } from '../core/requant/requantize.ts';

/** A job's progress: work done of total, and for a remote model the bytes the worker has fetched so far. */
export type ProgressCallback = (done: number, total: number, fetched?: number) => void;

export interface JobHandle<T extends WorkerResult = WorkerResult> {
  promise: Promise<T>;
  cancel(): void;
}

interface Pending {
  id: number;
  job: WorkerJob;
  flag: SharedArrayBuffer;
  onProgress?: ProgressCallback;
  resolve: (r: WorkerResult) => void;
  reject: (e: Error) => void;
}

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1 || 1));
}

export class WorkerPool {
  /** Jobs posted to each worker that has loaded its script, oldest first (an empty list: idle; none: loading). */
  private posted = new Map<Worker, Pending[]>();
  private queue: Pending[] = [];
  private nextId = 1;
  private workers: Worker[] = [];
  private disposed = false;

  constructor(
    private readonly script: string,
    size = defaultWorkerCount(),
    /** Given to each worker as its `workerData` (helper threads are told they are helpers). */
    private readonly workerData?: unknown,
    /**
     * Jobs a worker is given at a time. More than one keeps a worker busy while the thread that feeds it is
     * itself working (see spread); one lets a job wait for the first free worker (interactive use).
     */
    private readonly jobsPerWorker = 1,
    /** The workers' environment (each thread has its own copy; by default this process's). */
    private env?: Record<string, string | undefined>,
  ) {
    for (let i = 0; i < size; i++) this.spawn();
  }

  private spawn(): void {
    const w = new Worker(this.script, { workerData: this.workerData, env: this.env ?? process.env });
    w.unref();
    w.on('message', (m: WorkerResponse) => {
      if (m.type === 'ready') {
        this.posted.set(w, []);
        return this.pump();
      }
      const jobs = this.posted.get(w);
      const p = jobs?.find((x) => x.id === m.id);
      if (!jobs || !p) return;
      if (m.type === 'progress') return p.onProgress?.(m.done, m.total, m.fetched);
      jobs.splice(jobs.indexOf(p), 1);
      // a job taken back (spread) settles with this thread's run of it, not with the worker's answer
      if (Atomics.load(new Int32Array(p.flag), 0) === JOB_TAKEN_BACK) return this.pump();
      if (m.type === 'result') p.resolve(m.result);
      // a bug in the worker (not a QuantLensError there) stays one here, as it would on this thread
      else
        p.reject(
          m.code === 'internal'
            ? new Error(m.message)
            : new QuantLensError((m.code as ErrorCode | undefined) ?? 'io', m.message, undefined, undefined, m.cliOption),
        );
      this.pump();
    });
    w.on('error', (e) => this.replace(w, e));
    w.on('exit', (code) => {
      if (!this.disposed && code !== 0) this.replace(w, new Error(`worker exited with code ${code}`));
    });
    this.workers.push(w);
  }

  /** A worker that failed or exited (both events come for one crash): its job fails, a new worker takes its place. */
  private replace(w: Worker, e: Error): void {
    if (!this.workers.includes(w)) return;
    for (const p of this.posted.get(w) ?? [])
      if (Atomics.load(new Int32Array(p.flag), 0) !== JOB_TAKEN_BACK) p.reject(new QuantLensError('io', `worker failed: ${e.message}`));
    this.posted.delete(w);
    this.workers = this.workers.filter((x) => x !== w);
    if (!this.disposed) {
      this.spawn();
      this.pump();
    }
  }

  /** Queued jobs to the least busy ready workers, up to jobsPerWorker each. */
  private pump(): void {
    while (this.queue.length) {
      let w: Worker | undefined;
      for (const [x, jobs] of this.posted) if (jobs.length < this.jobsPerWorker && (!w || jobs.length < this.posted.get(w)!.length)) w = x;
      if (!w) return;
      const p = this.queue.shift()!;
      if (new Int32Array(p.flag)[0] === JOB_CANCELLED) {
        p.reject(new QuantLensError('cancelled', 'cancelled'));
        continue;
      }
      this.posted.get(w)!.push(p);
      const req: WorkerRequest = { id: p.id, job: p.job, cancel: p.flag };
      w.postMessage(req);
    }
  }

  /** Queue a job; its result has the type the protocol gives its kind (a worker answers a job with that result). */
  run<J extends WorkerJob>(job: J, onProgress?: ProgressCallback): JobHandle<ResultOf<J>> {
    return this.enqueue(job, onProgress).handle;
  }

  private enqueue<J extends WorkerJob>(job: J, onProgress?: ProgressCallback): { pending: Pending; handle: JobHandle<ResultOf<J>> } {
    if (this.disposed) throw new QuantLensError('cancelled', 'the worker pool is closed');
    const flag = new SharedArrayBuffer(4);
    let pending!: Pending;
    const promise = new Promise<ResultOf<J>>((resolve, reject) => {
      // the worker answers this job with its kind's result (src/shared/workerProtocol.ts)
      pending = { id: this.nextId++, job, flag, onProgress, resolve: (r) => resolve(r as ResultOf<J>), reject };
    });
    // Callers queue many jobs and await them one by one, or drop a handle once cancelled or disposed: a job that
    // fails before it is awaited must not be an unhandled rejection. Awaiting the promise still throws.
    promise.catch(() => undefined);
    this.queue.push(pending);
    this.pump();
    return {
      pending,
      handle: {
        promise,
        cancel: () => {
          Atomics.store(new Int32Array(flag), 0, JOB_CANCELLED);
          this.pump();
        },
      },
    };
  }

  /**
   * Many jobs at once, started in `order` (say largest first), each handle at its job's index. The calling thread
   * is one of the workers: with `runHere` it runs the front job of the batch while no worker has loaded (so work
   * shorter than a worker's start-up never waits for one), then the back ones (the smallest, so that it lets
   * worker messages in often), one job at a time with messages in between; once none is queued, it takes back the
   * jobs queued on a worker behind the one it runs (takeBack), so that it does not wait for them at the end.
   */
  spread<J extends WorkerJob>(
    jobs: J[],
    runHere: (index: number) => ResultOf<J> | Promise<ResultOf<J>>,
    order: number[] = jobs.map((_, i) => i),
  ): JobHandle<ResultOf<J>>[] {
    const handles: JobHandle<ResultOf<J>>[] = [];
    const indexOf = new Map<Pending, number>();
    for (const i of order) {
      const { pending, handle } = this.enqueue(jobs[i]);
      indexOf.set(pending, i);
      handles[i] = handle;
    }
    void (async () => {
      while (!this.disposed) {
        let at = this.queue.findIndex((p) => indexOf.has(p));
        let p: Pending | undefined;
        if (at >= 0) {
          if (this.posted.size) {
            // a worker has loaded: this thread takes the batch's last job
            at = this.queue.length - 1;
            while (!indexOf.has(this.queue[at])) at--;
          }
          [p] = this.queue.splice(at, 1);
        } else p = this.takeBack(indexOf);
        if (!p) return;
        if (new Int32Array(p.flag)[0] === JOB_CANCELLED) p.reject(new QuantLensError('cancelled', 'cancelled'));
        else {
          try {
            p.resolve(await runHere(indexOf.get(p)!));
          } catch (e) {
            p.reject(e instanceof Error ? e : new Error(String(e)));
          }
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    return handles;
  }

  /**
   * One of `batch`'s jobs queued on a worker behind the one it runs (newest first: the last it would come to) and
   * not started, now marked as taken back: the worker answers it as cancelled, while its promise settles with the
   * caller's run.
   */
  private takeBack(batch: Map<Pending, number>): Pending | undefined {
    for (const jobs of this.posted.values())
      for (let i = jobs.length - 1; i >= 1; i--) {
        const p = jobs[i];
        if (batch.has(p) && Atomics.compareExchange(new Int32Array(p.flag), 0, JOB_QUEUED, JOB_TAKEN_BACK) === JOB_QUEUED) return p;
      }
    return undefined;
  }

  /**
   * A requantization's chunk quantizer that runs each chunk on a free worker of this pool. Like a handle's, its
   * promise never counts as an unhandled rejection while chunks ahead of it are awaited.
   */
  chunkQuantizer(): ChunkQuantizer {
    return (to, values, nRows, nPerRow, imatrix) => {
      const bytes = this.run({ kind: 'quantizeChunk', typeId: to.ggmlId!, values, nRows, nPerRow, imatrix }).promise.then((r) => r.bytes);
      bytes.catch(() => undefined);
      return bytes;
    };
  }

  get size(): number {
    return this.workers.length;
  }

  /** Every worker runs `job`, untracked (used to close a model's file handles in all of them). */
  broadcast(job: WorkerJob): void {
    for (const w of this.workers) {
      const req: WorkerRequest = { id: -this.nextId++, job, cancel: new SharedArrayBuffer(4) };
      w.postMessage(req);
    }
  }

  /**
   * New workers with a new environment (a token was set or cleared): the running ones are stopped and their jobs
   * fail as cancelled; queued jobs go to the new workers.
   */
  async setEnv(env: Record<string, string | undefined>): Promise<void> {
    this.env = env;
    const old = this.workers;
    this.workers = [];
    for (const w of old) {
      for (const p of this.posted.get(w) ?? [])
        p.reject(new QuantLensError('cancelled', 'cancelled: the workers restarted with the new token'));
      this.posted.delete(w);
    }
    for (let i = 0; i < old.length; i++) this.spawn();
    await Promise.all(old.map((w) => w.terminate()));
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const p of this.queue) p.reject(new QuantLensError('cancelled', 'closed'));
    this.queue = [];
    for (const jobs of this.posted.values()) for (const p of jobs) p.reject(new QuantLensError('cancelled', 'closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
