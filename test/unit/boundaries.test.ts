/**
 * The linter holds the boundaries between the runtimes (tools/lint/eslint.config.mjs): each forbidden import
 * fails, each allowed one passes, linted as if the code were in that folder.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..', '..');
type Linter = {
  lintText(code: string, options: { filePath: string }): Promise<{ messages: { ruleId: string | null; message: string }[] }[]>;
};
let eslint: Linter;

before(async () => {
  // the same entry point as npm run lint: it installs the linter's packages if they are not there yet
  execFileSync('bash', [join(ROOT, 'scripts', 'lint.sh'), '--version'], { stdio: 'ignore' });
  const api = await import(pathToFileURL(createRequire(join(ROOT, 'tools', 'lint', 'package.json')).resolve('eslint')).href);
  // the probes are not files on disk, so not in a tsconfig: the rules that need types are off for them
  eslint = new api.ESLint({
    cwd: ROOT,
    overrideConfig: {
      languageOptions: { parserOptions: { projectService: false } },
      rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/no-misused-promises': 'off' },
    },
  });
});

/** The boundary messages for `code` in `file` (a path from the repository root, which need not exist). */
async function violations(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, file) });
  return result.messages.filter((m) => m.ruleId === 'quant-lens/boundaries').map((m) => m.message);
}

const FORBIDDEN: [string, string][] = [
  ['src/core/analysis/x.ts', "import * as vscode from 'vscode';"],
  ['src/core/analysis/x.ts', "import { registerCommands } from '../../extension/commands/index.ts';"],
  ['src/core/x.ts', "import { parseThreads } from '../cli/workers.ts';"],
  ['src/core/requant/x.ts', "export { runJob } from '../../worker/jobs.ts';"],
  ['src/core/x.ts', "import type { WorkerPool } from '../node/workerPool.ts';"],
  ['src/core/x.ts', "const m = await import('../../webview/dom.ts');"],
  ['src/core/x.ts', "import type { Tell } from '../shared/webviewProtocol.ts';"],
  ['webview/x.ts', "import { readFileSync } from 'node:fs';"],
  ['webview/x.ts', "import { join } from 'path';"],
  ['webview/x.ts', "import type { ModelDocument } from '../src/extension/modelDocument.ts';"],
  ['src/shared/x.ts', "import type { TensorDetail } from '../../webview/detail.ts';"],
  ['src/shared/x.ts', "type T = import('../../webview/detail.ts').TensorDetail;"],
  ['src/cli/x.ts', "import * as vscode from 'vscode';"],
  ['src/worker/x.ts', "import type { ModelDocument } from '../extension/modelDocument.ts';"],
];

const ALLOWED: [string, string][] = [
  ['src/core/analysis/x.ts', "import { readFile } from 'node:fs/promises';\nimport type { Model } from '../model.ts';"],
  [
    'webview/x.ts',
    "import type { Tell } from '../src/shared/webviewProtocol.ts';\nimport { formatBytes } from '../src/core/analysis/summary.ts';",
  ],
  ['src/shared/x.ts', "import type { Heatmap } from '../core/analysis/heatmap.ts';"],
  [
    'src/extension/x.ts',
    "import * as vscode from 'vscode';\nimport { WorkerPool } from '../node/workerPool.ts';\nimport { DEFAULT_CANDIDATES } from '../core/analysis/whatIf.ts';",
  ],
  ['src/cli/x.ts', "import { WorkerPool } from '../node/workerPool.ts';"],
];

test('imports across a boundary fail the lint, naming the boundary', async () => {
  for (const [file, code] of FORBIDDEN) {
    const found = await violations(file, code);
    assert.equal(found.length, 1, `${file}: ${code} -> ${JSON.stringify(found)}`);
    assert.match(
      found[0],
      new RegExp(
        `^${file
          .split('/')
          .slice(0, file.startsWith('src/') ? 2 : 1)
          .join('/')}/ may not import`,
      ),
      found[0],
    );
  }
});

test('imports within the boundaries pass', async () => {
  for (const [file, code] of ALLOWED) assert.deepEqual(await violations(file, code), [], `${file}: ${code}`);
});
