/**
 * Child process for the header-memory test (test/unit/ggufLimits.test.ts): opens one GGUF file with openModel
 * and prints one JSON line: the memory the opened model retains after gc (heapUsed + external, which includes
 * arrayBuffers) above the baseline taken just before, the peak RSS growth while opening, and the time (wall and CPU) to open.
 * Nothing else runs in this process, so the figures are the reader's.
 *
 * Usage: node --expose-gc --import tsx test/helpers/ggufHeaderMemory.ts FILE
 */
import { openModel } from '../../src/core/formats/openModel.ts';

const path = process.argv[2];
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const collect = gc;
const used = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};
async function main(): Promise<void> {
  collect();
  collect();
  const baseline = used();
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const model = await openModel(path);
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const maxRssGrowth = process.resourceUsage().maxRSS * 1024 - rssBefore;
  collect();
  collect();
  const retained = used() - baseline;
  const entries = model.metadata.length + model.tensors.length;
  await model.close();
  console.log(JSON.stringify({ entries, retained, maxRssGrowth, ms: Math.round(ms), cpuMs: Math.round((cpu.user + cpu.system) / 1000) }));
}

void main();
