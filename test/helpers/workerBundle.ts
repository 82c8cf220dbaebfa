/** The worker thread script as the extension and the CLI ship it (dist/worker.js), bundled once for the tests. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

let script: string | undefined;

export function bundledWorker(): string {
  if (!script) {
    script = join(mkdtempSync(join(tmpdir(), 'ql-worker-')), 'worker.js');
    buildSync({ entryPoints: [join(import.meta.dirname, '..', '..', 'src', 'worker', 'worker.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: script, logLevel: 'silent' });
  }
  return script;
}
