/**
 * A test-only hold on opening a model, so the end-to-end suite can see the editor's loading state without racing
 * it. Honoured only when the suite sets QUANTLENS_TEST_HOLD_DIR (a folder) in the environment VS Code runs in:
 * while that folder holds a file named after the model, its header is not read; deleting the file lets it go on.
 * Without the variable, or without such a file, opening goes straight on.
 */
import { existsSync, watch } from 'node:fs';
import { join } from 'node:path';

export const TEST_HOLD_ENV = 'QUANTLENS_TEST_HOLD_DIR';

export function heldForTest(modelName: string): Promise<void> {
  const dir = process.env[TEST_HOLD_ENV];
  if (!dir || !existsSync(dir)) return Promise.resolve();
  const hold = join(dir, modelName);
  return new Promise<void>((resolve) => {
    // watch first, then look: a deletion between the two is seen by one or the other
    const watcher = watch(dir, () => release());
    const release = (always = false) => {
      if (existsSync(hold) && !always) return;
      watcher.close();
      resolve();
    };
    // the folder gone (the suite cleaning up): nothing holds the model any more
    watcher.on('error', () => release(true));
    release();
  });
}
