/**
 * The sensitivity map measured on outputs: for each group (core/eval/sensitivity.ts) and candidate type, the
 * model is requantized with only that group changed (the project's requantizer, into a temporary file) and
 * evaluated against the unchanged model in the evaluation child (evalClient.ts). Groups are measured one at a time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModel } from '../core/formats/openModel.ts';
import { parseTensorTypeRule, planRequantize, writeRequantized } from '../core/requant/requantize.ts';
import { sensitivityGroups, type GroupBy, type GroupMeasurement } from '../core/eval/sensitivity.ts';
import type { TensorType } from '../core/types.ts';
import { QuantLensError } from '../core/errors.ts';
import { runEvalJob } from './evalClient.ts';

export interface SensitivityOptions {
  text: string;
  ctx: number;
  chunks?: number;
  threads?: number;
  onProgress?: (done: number, total: number, group: string) => void;
  isCancelled?: () => boolean;
  /** Aborting it kills the evaluation child at once (isCancelled is asked between steps). */
  signal?: AbortSignal;
  /**
   * Writes the model requantized by `rule` (llama.cpp --tensor-type) to `output`; by default in this process with
   * the project's requantizer (the editor passes its worker pool's requantize job instead).
   */
  writeCandidate?: (rule: string, output: string) => Promise<void>;
}

/** Measures every group at every type (a group already at a type measures 0 there without running). */
export async function measureSensitivity(
  script: string,
  modelPath: string,
  by: GroupBy,
  types: TensorType[],
  options: SensitivityOptions,
): Promise<GroupMeasurement[]> {
  const model = await openModel(modelPath);
  const dir = mkdtempSync(join(tmpdir(), 'quantlens-sensitivity-'));
  try {
    const groups = sensitivityGroups(model, by);
    if (!groups.length) throw new QuantLensError('usage', 'the model has no weight matrices to quantize');
    const out: GroupMeasurement[] = [];
    const total = groups.length * types.length;
    let done = 0;
    for (const group of groups) {
      const kld = new Map<string, number>();
      for (const type of types) {
        if (options.isCancelled?.() || options.signal?.aborted) throw new QuantLensError('cancelled', 'sensitivity cancelled');
        options.onProgress?.(done++, total, group.name);
        const rule = `${group.pattern}=${type.name}`;
        const plan = planRequantize(model, [parseTensorTypeRule(rule)]);
        if (!plan.changes.length) {
          kld.set(type.name, 0);
          continue;
        }
        const file = join(dir, 'candidate.gguf');
        if (options.writeCandidate) await options.writeCandidate(rule, file);
        else await writeRequantized(model, plan, file, { isCancelled: options.isCancelled });
        const handle = runEvalJob(script, {
          kind: 'evaluate',
          model: file,
          reference: modelPath,
          text: options.text,
          ctx: options.ctx,
          chunks: options.chunks,
          threads: options.threads,
        });
        const cancel = () => handle.cancel();
        options.signal?.addEventListener('abort', cancel);
        // aborted while the candidate was written: the listener came too late to hear it
        if (options.signal?.aborted) cancel();
        const r = await handle.promise.finally(() => options.signal?.removeEventListener('abort', cancel));
        kld.set(type.name, r.kld.mean);
        rmSync(file, { force: true });
      }
      out.push({ group, kld });
    }
    options.onProgress?.(total, total, '');
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await model.close();
  }
}
