/** Worker thread entry: runs jobs from the extension host (see src/shared/workerProtocol.ts), never on its main thread. */
import { parentPort, workerData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { runJob } from './jobs.ts';
import { bytesFetchedByThisThread } from '../core/io/httpByteSource.ts';
import { WorkerPool } from '../node/workerPool.ts';
import { QuantLensError, oneLine } from '../core/errors.ts';
import {
  JOB_CANCELLED,
  JOB_QUEUED,
  JOB_STARTED,
  JOB_TAKEN_BACK,
  type WorkerRequest,
  type WorkerResponse,
} from '../shared/workerProtocol.ts';

const port = parentPort!;
const HELPER = { role: 'helper' };
const isHelper = (workerData as typeof HELPER | undefined)?.role === HELPER.role;
const post = (m: WorkerResponse) => port.postMessage(m);

port.on('message', async (req: WorkerRequest) => {
  const flag = new Int32Array(req.cancel);
  // a job its caller took back before this thread came to it (the caller runs it) is not run here
  if (Atomics.compareExchange(flag, 0, JOB_QUEUED, JOB_STARTED) === JOB_TAKEN_BACK)
    return post({ id: req.id, type: 'error', message: 'taken back by the caller', code: 'cancelled' });
  let lastPost = 0;
  try {
    const result = await runJob(req.job, {
      isCancelled: () => Atomics.load(flag, 0) === JOB_CANCELLED,
      onProgress: (done, total) => {
        const now = Date.now();
        if (now - lastPost > 100 || done >= total) {
          lastPost = now;
          const fetched = bytesFetchedByThisThread();
          post({ id: req.id, type: 'progress', done, total, ...(fetched ? { fetched } : {}) });
        }
      },
      // long jobs hand parts of their work to helper threads running this same script, by default one per core
      // (helpers themselves have none); each is given two jobs at a time, so it never waits for this thread
      helpers: isHelper ? undefined : (size = availableParallelism()) => new WorkerPool(__filename, size, HELPER, 2),
    });
    post({ id: req.id, type: 'result', result });
  } catch (e) {
    post({
      id: req.id,
      type: 'error',
      message: oneLine(e),
      ...(e instanceof QuantLensError ? { code: e.code, cliOption: e.cliOption } : { code: 'internal' }),
    });
  }
});
post({ id: 0, type: 'ready' });
