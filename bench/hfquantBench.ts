/**
 * Quantized Hugging Face checkpoints (issue 9): the exact scan (logicalWeightStats: dequantize bit-exactly +
 * stats + histogram) of one [4096, 4096] weight per format, one thread, in process, alternating with the Q4_K scan
 * of a tensor of the same size in the same run. The goal is a per-byte speed at least the Q4_K scan's, so the ratio
 * printed is (checkpoint bytes / ms) / (Q4_K bytes / ms).
 */
import { openQuantizedModel } from '../src/core/hfquant/open.ts';
import { logicalWeightStats } from '../src/core/hfquant/stats.ts';
import { writeBenchCheckpoints } from './hfquantCheckpoints.ts';
import { alternate, fmt, rateRange, ratioText, timed, versus } from './timing.ts';

/** The Q4_K reference: one scan, its bytes and weights. */
export interface ReferenceScan {
  run(): number;
  bytes: number;
  weights: number;
}

/** `only`: the checkpoint ids to run (all when absent). */
export async function hfquantBench(dir: string, q4k: ReferenceScan, log: (s: string) => void, only?: (id: string) => boolean) {
  log(
    `\nquantized safetensors checkpoints: exact scan of one [4096, 4096] weight, one thread, against the Q4_K scan of ${fmt(q4k.weights / 1e6)} M weights (per byte):`,
  );
  const rows = [];
  for (const c of writeBenchCheckpoints(dir)) {
    if (only && !only(c.id)) continue;
    const q = await openQuantizedModel(c.folder);
    try {
      const w = q.weights[0];
      w.load();
      const ours = () => timed(() => logicalWeightStats(w, { bins: 256 }));
      // WebAssembly tiers up its hot functions after their first calls: warm both sides first
      for (let i = 0; i < 3; i++) ours();
      q4k.run();
      // per byte: the Q4_K times are scaled to this weight's bytes, so the ratio compares speed per byte
      const ms = alternate(3, ours, () => (q4k.run() * w.bytes) / q4k.bytes);
      const v = versus(ms);
      log(
        `${c.id.padEnd(38)} ${w.scheme.padEnd(42)} ${fmt((w.bytes * 8) / w.nElements)} bpw  ${rateRange(w.nElements, ms.ours).padStart(11)} Mw/s  ${rateRange(w.bytes, ms.ours).padStart(11)} MB/s  ${ratioText(v)} Q4_K per byte`,
      );
      rows.push({ format: c.id, scheme: w.scheme, weights: w.nElements, bytes: w.bytes, ms: ms.ours, ratioToQ4KPerByte: v });
    } finally {
      await q.close();
    }
  }
  return rows;
}
