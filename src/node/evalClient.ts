/**
 * Runs one evaluation job (src/shared/evalProtocol.ts) in a forked child process (dist/evalChild.js), never in
 * this process: llama.cpp aborts the process on some malformed models. The child's death (an abort, exit 134, the
 * out-of-memory killer) becomes one QuantLensError naming the model and quoting llama.cpp's last line; cancelling
 * kills the child. No vscode import: the CLI, the extension and the tests use it alike.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import type { ChildMessage, DistributionsResult, EvalJob, EvalResult } from '../shared/evalProtocol.ts';
import type { EvalSummary } from '../core/eval/scoring.ts';
import { QuantLensError, oneLine, type ErrorCode } from '../core/errors.ts';

export type EvalProgress = (done: number, total: number, stage: string) => void;

export interface EvalHandle<T> {
  promise: Promise<T>;
  cancel(): void;
}

export interface EvalRunOptions {
  onProgress?: EvalProgress;
  /** The child's environment (by default this process's). */
  env?: NodeJS.ProcessEnv;
}

type ResultFor<J extends EvalJob> = J extends { kind: 'evaluate' } ? { kind: 'evaluate' } & EvalSummary : DistributionsResult;

/** Keeps the last lines the child wrote to stderr (bounded), to quote the reason when it dies. */
class Tail {
  private text = '';
  add(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-8192);
  }
  lastLine(): string {
    const lines = this.text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    return lines.at(-1) ?? '';
  }
}

function describeDeath(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal === 'SIGKILL') return 'killed by SIGKILL, out of memory?';
  if (signal) return `killed by ${signal}`;
  if (code === 134) return 'aborted, exit 134';
  return `exit code ${code}`;
}

/** Forks `script` and runs `job` in it. */
export function runEvalJob<J extends EvalJob>(script: string, job: J, options: EvalRunOptions = {}): EvalHandle<ResultFor<J>> {
  const child = fork(script, [], {
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: options.env ?? process.env,
    execArgv: [],
  });
  const tail = new Tail();
  child.stderr?.on('data', (c: Buffer) => tail.add(c));
  let settled = false;
  let cancelled = false;
  // the file the child was working on when last heard from
  let current = job.model;
  let stage = 'starting';
  const promise = new Promise<ResultFor<J>>((resolve, reject) => {
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      f();
    };
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'progress') {
        stage = m.stage;
        if (m.file) current = m.file;
        options.onProgress?.(m.done, m.total, m.stage);
      } else if (m.type === 'result') settle(() => resolve(m.result as ResultFor<J>));
      else settle(() => reject(m.code === 'internal' ? new Error(oneLine(m.message)) : new QuantLensError(m.code as ErrorCode, m.message)));
    });
    child.on('error', (e) => settle(() => reject(new QuantLensError('engine', `cannot start the evaluation process: ${e.message}`))));
    child.on('exit', (code, signal) => {
      if (cancelled) return settle(() => reject(new QuantLensError('cancelled', 'evaluation cancelled')));
      const last = tail.lastLine();
      settle(() =>
        reject(
          new QuantLensError(
            'engine',
            `llama.cpp stopped (${describeDeath(code, signal)}) while ${
              !stage.startsWith('evaluating')
                ? `loading ${basename(current)}`
                : stage === 'evaluating' && job.kind === 'evaluate'
                  ? `evaluating ${basename(job.model)} against ${basename(job.reference)}`
                  : stage
            }${last ? `: ${last}` : ''}`,
            undefined,
            current,
          ),
        ),
      );
    });
  });
  child.send({ type: 'run', job });
  return {
    promise,
    cancel: () => {
      if (settled) return;
      cancelled = true;
      child.kill('SIGKILL');
    },
  };
}

/** Runs a job to its end (progress optional). */
export function evaluateInChild<J extends EvalJob>(script: string, job: J, options: EvalRunOptions = {}): Promise<ResultFor<J>> {
  return runEvalJob(script, job, options).promise;
}

/** Whether node-llama-cpp and its CPU binary resolve from `root`; otherwise a one-line reason. */
export function runtimeStatus(root: string): true | string {
  const req = createRequire(join(root, 'package.json'));
  for (const pkg of ['node-llama-cpp', '@node-llama-cpp/linux-x64']) {
    try {
      req.resolve(pkg);
    } catch {
      return `the llama.cpp runtime is not installed: ${pkg} is missing (the linux-x64 .vsix carries it; in a checkout, npm ci installs it)`;
    }
  }
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return `the bundled llama.cpp runtime is for linux-x64, this is ${process.platform}-${process.arch}`;
  return true;
}

/** dist/evalChild.js beside a bundled entry point (`dir` = its __dirname), if there. */
export function evalChildScript(dir: string): string | undefined {
  const p = join(dir, 'evalChild.js');
  return existsSync(p) ? p : undefined;
}

export type { EvalResult };
