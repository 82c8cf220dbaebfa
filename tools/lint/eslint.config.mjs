/**
 * The linter (npm run lint): the boundaries between the runtimes, which tsc cannot hold (an import of "vscode"
 * or of another folder type-checks anywhere), and a few rules that catch bugs. No style rules.
 */
import { builtinModules } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import tseslint from 'typescript-eslint';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const HOST_GLUE = ['src/extension/', 'src/cli/', 'src/worker/', 'src/node/'];
const NODE = ['node:', ...builtinModules];

/** What each folder may not import: folders (from the repository root) and modules ("vscode", Node's own). */
export const BOUNDARIES = [
  {
    from: 'src/core/',
    forbid: [...HOST_GLUE, 'src/shared/', 'webview/', 'vscode'],
    why: 'the core runs in every runtime: no VS Code, no webview, no host glue',
  },
  { from: 'src/shared/', forbid: [...HOST_GLUE, 'webview/', 'vscode'], why: 'the protocols are imported by both sides: only the core' },
  {
    from: 'webview/',
    forbid: [...HOST_GLUE, 'vscode', ...NODE],
    why: 'the webview runs in a browser: the core and the protocols only, no Node',
  },
  {
    from: 'src/node/',
    forbid: ['src/extension/', 'src/cli/', 'src/worker/', 'webview/', 'vscode'],
    why: 'the worker pool serves the CLI and the extension alike',
  },
  {
    from: 'src/worker/',
    forbid: ['src/extension/', 'src/cli/', 'webview/', 'vscode'],
    why: 'the worker runs under the CLI too: no VS Code',
  },
  { from: 'src/cli/', forbid: ['src/extension/', 'webview/', 'vscode'], why: 'the CLI runs without VS Code' },
];

/** The forbidden entry `source` (an import's module specifier, in `file`) matches, if any. */
function forbidden(file, source, forbid) {
  if (source.startsWith('.')) {
    const target = relative(ROOT, resolve(dirname(file), source)).replaceAll('\\', '/');
    return forbid.find((f) => f.endsWith('/') && (target + '/').startsWith(f));
  }
  return forbid.find((f) => !f.endsWith('/') && (source === f || source.startsWith(`${f}/`) || (f === 'node:' && source.startsWith(f))));
}

const boundaries = {
  meta: { type: 'problem', docs: { description: 'imports stay inside their runtime' }, schema: [] },
  create(context) {
    const file = relative(ROOT, context.filename).replaceAll('\\', '/');
    const layer = BOUNDARIES.find((b) => file.startsWith(b.from));
    if (!layer) return {};
    const check = (node) => {
      const source = node.source;
      if (!source || source.type !== 'Literal' || typeof source.value !== 'string') return;
      const hit = forbidden(context.filename, source.value, layer.forbid);
      if (hit)
        context.report({
          node: source,
          message: `${layer.from} may not import ${hit === 'node:' || builtinModules.includes(hit) ? 'Node modules' : hit} ("${source.value}"): ${layer.why}.`,
        });
    };
    return {
      ImportDeclaration: check,
      ExportAllDeclaration: check,
      ExportNamedDeclaration: check,
      ImportExpression: check,
      TSImportType: (node) => check({ source: node.argument.type === 'TSLiteralType' ? node.argument.literal : node.argument }),
    };
  },
};

export default [
  {
    ignores: [
      'dist/**',
      'dist-test/**',
      '.tsbuild/**',
      'test-results/**',
      'test/fixtures/**',
      '**/node_modules/**',
      'src/core/wasm/assembly/**',
    ],
  },
  {
    files: ['**/*.ts', '**/*.mjs'],
    languageOptions: { parser: tseslint.parser, ecmaVersion: 2022, sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { 'quant-lens': { rules: { boundaries } }, '@typescript-eslint': tseslint.plugin },
    rules: {
      'quant-lens/boundaries': 'error',
      // bugs, not style
      'no-unsafe-finally': 'error',
      'no-unsafe-negation': 'error',
      'no-sparse-arrays': 'error',
      'no-cond-assign': ['error', 'except-parens'],
      'no-loss-of-precision': 'error',
      'no-unused-private-class-members': 'error',
      'no-useless-backreference': 'error',
      'use-isnan': 'error',
      'valid-typeof': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
  {
    // a promise nobody awaits, catches or marks with void: an error in it goes unseen (needs the types)
    files: ['src/**/*.ts', 'webview/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: ROOT } },
    rules: {
      // node:test's test() returns a promise the runner awaits
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
    },
  },
];
