// Real VS Code (code-server) driven by Playwright in Debian's Chromium. See ../../scripts/e2e-setup.sh.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import assert from 'node:assert/strict';
import { after, afterEach } from 'node:test';
import { chromium, type BrowserContext, type Page, type FrameLocator, type Locator } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CORPUS = join(ROOT, 'test', 'fixtures', 'corpus');
export const RESULTS = join(ROOT, 'test-results');
const E2E_DIR = process.env.VSCODE_E2E_DIR ?? '/opt/vscode-e2e';
const CODE_SERVER = process.env.CODE_SERVER ?? join(E2E_DIR, 'cs', 'node_modules', '.bin', 'code-server');
const NODE24_BIN = join(E2E_DIR, 'node24', 'node_modules', '.bin');

export interface Session {
  page: Page;
  workspace: string;
  userData: string;
  consoleErrors: string[];
  cspViolations: string[];
  close(): Promise<void>;
}

export interface StartOptions {
  /** A colour theme's label, e.g. 'Default Dark Modern' (the default), 'Default Light Modern', 'Default High Contrast'. */
  theme?: string;
  /** Open the folder with workspace trust enabled and the folder not trusted (Restricted Mode). */
  untrusted?: boolean;
}

function settingsFile(userData: string): string {
  return join(userData, 'User', 'settings.json');
}

function writeSettings(userData: string, theme: string, untrusted: boolean): void {
  mkdirSync(join(userData, 'User'), { recursive: true });
  writeFileSync(
    settingsFile(userData),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'chat.disableAIFeatures': true,
        'workbench.secondarySideBar.defaultVisibility': 'hidden',
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'git.enabled': false,
        'editor.hover.delay': 100,
        'workbench.colorTheme': theme,
        'window.commandCenter': false,
        'workbench.tips.enabled': false,
        // untrusted: trust is on, and the folder opens in Restricted Mode without the modal question
        ...(untrusted
          ? {
              'security.workspace.trust.enabled': true,
              'security.workspace.trust.startupPrompt': 'never',
              'security.workspace.trust.banner': 'never',
            }
          : { 'security.workspace.trust.enabled': false }),
      },
      null,
      1,
    ),
  );
}

/** Per theme: its row in the Color Theme picker (what to type, the label), and the class it sets on the workbench and on a webview's body. */
const THEMES: Record<string, { search: string; label: RegExp; workbench: string; webview: string }> = {
  'Default Dark Modern': { search: 'Dark Modern', label: /^(Default )?Dark Modern$/, workbench: 'vs-dark', webview: 'vscode-dark' },
  'Default Light Modern': { search: 'Light Modern', label: /^(Default )?Light Modern$/, workbench: 'vs', webview: 'vscode-light' },
  'Default High Contrast': {
    search: 'High Contrast',
    label: /^(Default High Contrast|Dark High Contrast)$/,
    workbench: 'hc-black',
    webview: 'vscode-high-contrast',
  },
};

/** Switch the colour theme with Preferences: Color Theme, then wait until the workbench wears it. */
export async function setTheme(page: Page, theme: string): Promise<void> {
  await runCommand(page, 'Preferences: Color Theme');
  await page.locator('.quick-input-widget .quick-input-box input').fill(THEMES[theme].search);
  await page
    .locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: THEMES[theme].label }) })
    .first()
    .click();
  await page.locator(`.monaco-workbench.${THEMES[theme].workbench}`).waitFor();
}

/** Wait until the visible webview has the theme's colours (VS Code sets a class on its body). */
export async function webviewThemed(page: Page, theme: string): Promise<void> {
  await webview(page).locator(`body.${THEMES[theme].webview}`).waitFor();
}

/**
 * Console errors that are expected in this offline, browser-hosted VS Code and say nothing about Quant Lens,
 * each with the reason it is benign. Everything else logged as an error fails the suite.
 */
const BENIGN_CONSOLE_ERRORS: { pattern: RegExp; reason: string }[] = [
  { pattern: /open-vsx\.org|marketplace|gallery/i, reason: 'the extension gallery is not reachable offline' },
  { pattern: /github\.com|api\.github|authentication/i, reason: 'GitHub sign-in lookups fail offline' },
  { pattern: /telemetry/i, reason: 'telemetry is off and its endpoints unreachable' },
  {
    pattern: /Aborted onWillSaveTextDocument-event after \d+ms/,
    reason:
      'VS Code gives up on save participants when the extension host is busy; Quant Lens has none, and the only file saved is settings.json, by the theme switch',
  },
  {
    pattern: /Failed to load resource: the server responded with a status of 404 .*\/node_modules\/vsda\//,
    reason: "vsda, the signing module of Microsoft's VS Code builds, is not part of code-server",
  },
];

/** The console errors of a session that are not known to be benign. */
export function unexpectedConsoleErrors(s: Session): string[] {
  return s.consoleErrors.filter((e) => !BENIGN_CONSOLE_ERRORS.some((b) => b.pattern.test(e)));
}

/** Remove and return the console errors matching `pattern` (errors a test provokes on purpose). */
export function takeConsoleErrors(s: Session, pattern: RegExp): string[] {
  const taken = s.consoleErrors.filter((e) => pattern.test(e));
  s.consoleErrors.splice(0, s.consoleErrors.length, ...s.consoleErrors.filter((e) => !pattern.test(e)));
  return taken;
}

/** The end of every suite: no CSP violation and no console error but the known benign ones. */
export function assertCleanConsole(s: Session | undefined): void {
  assert.deepEqual(s?.cspViolations ?? [], [], 'no Content-Security-Policy violations');
  if (s) assert.deepEqual(unexpectedConsoleErrors(s), [], 'no console errors');
}

export async function start(
  files: Record<string, string>,
  { theme = 'Default Dark Modern', untrusted = false }: StartOptions = {},
): Promise<Session> {
  const run = mkdtempSync(join(tmpdir(), 'quantlens-e2e-'));
  const workspace = join(run, 'workspace');
  const userData = join(run, 'ud');
  mkdirSync(workspace, { recursive: true });
  mkdirSync(join(run, 'ext'), { recursive: true });
  for (const [name, from] of Object.entries(files)) {
    mkdirSync(join(workspace, name, '..'), { recursive: true });
    if (from.startsWith('text:')) writeFileSync(join(workspace, name), from.slice(5));
    else if (from.startsWith('bytes:')) writeFileSync(join(workspace, name), Buffer.from(from.slice(6), 'base64'));
    else cpSync(from, join(workspace, name));
  }
  writeSettings(userData, theme, untrusted);
  const pkg = JSON.parse((await import('node:fs')).readFileSync(join(ROOT, 'package.json'), 'utf8'));
  symlinkSync(ROOT, join(run, 'ext', `${pkg.publisher}.${pkg.name}-${pkg.version}`));
  writeFileSync(join(run, 'config.yaml'), 'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n');

  let server: ChildProcess | undefined;
  let context: BrowserContext | undefined;
  const close = async () => {
    await context?.close().catch(() => undefined);
    if (server?.pid) {
      // the whole process group (code-server and its file watcher): SIGTERM, then SIGKILL if it has not exited in 5 s
      const exited = server.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => server!.once('exit', () => r()));
      try {
        process.kill(-server.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
      try {
        process.kill(-server.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(run, { recursive: true, force: true });
  };
  // a safety net for a hung suite (the slowest suite takes about 5 minutes with the other core busy)
  const hardStop = setTimeout(() => void close(), 15 * 60_000);
  hardStop.unref();
  try {
    server = spawn(
      CODE_SERVER,
      [
        '--config',
        join(run, 'config.yaml'),
        '--auth',
        'none',
        '--bind-addr',
        '127.0.0.1:0',
        '--disable-telemetry',
        '--disable-update-check',
        ...(untrusted ? [] : ['--disable-workspace-trust']),
        '--disable-getting-started-override',
        '--user-data-dir',
        userData,
        '--extensions-dir',
        join(run, 'ext'),
        workspace,
      ],
      {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, PATH: `${NODE24_BIN}:${process.env.PATH}` },
      },
    );
    let out = '';
    const port = await new Promise<number>((resolvePort, reject) => {
      const t = setTimeout(() => reject(new Error(`code-server did not start: ${out}`)), 60_000);
      const onData = (d: Buffer) => {
        out += d.toString();
        const m = /HTTP server listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolvePort(Number(m[1]));
        }
      };
      server!.stdout!.on('data', onData);
      server!.stderr!.on('data', onData);
      server!.on('exit', (code) => reject(new Error(`code-server exited with ${code}: ${out}`)));
    });
    // listening is not serving yet: retry /healthz until it answers 200 (a condition, bounded; no fixed wait)
    for (const deadline = Date.now() + 60_000; ;) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) throw new Error(`code-server never answered /healthz: ${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    context = await chromium.launchPersistentContext(join(run, 'profile'), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1500, height: 950 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    const consoleErrors: string[] = [];
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      const text = m.text();
      if (/Content.Security.Policy|securitypolicyviolation/i.test(text) && /quantlens|webview|vscode-resource|vscode-cdn/i.test(text))
        cspViolations.push(text);
      if (m.type() === 'error') consoleErrors.push(`${text} (${m.location().url})`);
    });
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 90_000 });
    return {
      page,
      workspace,
      userData,
      consoleErrors,
      cspViolations,
      close: async () => {
        clearTimeout(hardStop);
        await close();
      },
    };
  } catch (e) {
    clearTimeout(hardStop);
    await close();
    throw e;
  }
}

/**
 * The end of every suite: a screenshot `<prefix>-NN.png` after each test, and after the last one a clean console
 * checked and the session closed (then `alsoClose`, e.g. a test server).
 */
export function endEachTest(prefix: string, session: () => Session | undefined, alsoClose?: () => Promise<void> | undefined): void {
  let step = 0;
  after(async () => {
    try {
      assertCleanConsole(session());
    } finally {
      await session()?.close();
      await alsoClose?.();
    }
  });
  afterEach(async () => {
    const s = session();
    if (s) await shot(s.page, `${prefix}-${String(++step).padStart(2, '0')}`);
  });
}

/** A pattern matching exactly `text`. */
export function exactly(text: string): RegExp {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

/** Wait (a few seconds at most) until no quick input is open or closing; press Escape once if one stays open. */
async function waitForQuickInputClosed(page: Page): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  try {
    await widget.waitFor({ state: 'hidden', timeout: 3000 });
  } catch {
    await page.keyboard.press('Escape');
    await widget.waitFor({ state: 'hidden', timeout: 3000 }).catch(() => undefined);
  }
}

export async function runCommand(page: Page, label: string, deadline = Date.now() + 60_000): Promise<void> {
  const input = page.locator('.quick-input-widget .quick-input-box input');
  for (;;) {
    await waitForQuickInputClosed(page);
    await page.keyboard.press('F1');
    try {
      await input.waitFor({ state: 'visible', timeout: 2000 });
      await input.fill(`>${label}`, { timeout: 5000 });
    } catch (e) {
      // Focus was inside a webview that kept the key: give the workbench the focus and try again.
      await page.locator('.part.sidebar .composite.title').first().click();
      if (Date.now() > deadline) throw e;
      continue;
    }
    try {
      // the row of exactly this command (the top row may be another match, e.g. a recently used one)
      const row = page
        .locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: exactly(label) }) })
        .first();
      await row.waitFor({ timeout: 1500 });
      await row.click();
      return;
    } catch (e) {
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) throw e;
    }
  }
}

/** Bring a file's editor to the front: click its tab when it is open, else Quick Open it. */
export async function show(page: Page, name: string): Promise<void> {
  const tab = page.locator('.tabs-container .tab', { hasText: name }).first();
  if (await tab.count()) await tab.click();
  else await quickOpen(page, name);
}

export async function quickOpen(page: Page, name: string, deadline = Date.now() + 60_000): Promise<void> {
  const input = page.locator('.quick-input-widget .quick-input-box input');
  const activeTab = page.locator(`.editor-group-container.active .tab.active[data-resource-name=${JSON.stringify(name)}]`);
  for (;;) {
    for (;;) {
      // A quick pick still closing (e.g. the Color Theme picker) would take the key and then go inert under fill.
      await waitForQuickInputClosed(page);
      await page.keyboard.press('Control+P');
      try {
        await input.waitFor({ state: 'visible', timeout: 2000 });
        await input.fill(name, { timeout: 5000 });
        break;
      } catch (e) {
        // Focus was inside a webview that kept the key, or the input closed under us: give the workbench the focus
        // and try again.
        await page.locator('.part.sidebar .composite.title').first().click();
        if (Date.now() > deadline) throw e;
      }
    }
    // A webview taking the focus as it opens closes the quick pick as if the user had pressed Escape, and the click
    // then opens nothing: go on only once the file is the active editor, else open it again (opening twice is harmless).
    try {
      // click the file's own row (Enter would take whichever row is active)
      await page
        .locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: exactly(name) }) })
        .first()
        .click({ timeout: 10_000 });
      await activeTab.waitFor({ state: 'visible', timeout: 10_000 });
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
  }
}

/**
 * Wait until the visible webview holds the keyboard focus. VS Code moves the focus into a custom editor's webview a
 * moment after it opens; a quick pick opened before that moment would close on the focus change, and the command
 * would end as if the user had pressed Escape.
 */
export async function webviewFocused(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const active = document.activeElement;
    return active instanceof HTMLIFrameElement && active.classList.contains('webview') && active.checkVisibility();
  });
}

/** The visible Quant Lens webview (two iframes deep). */
export function webview(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready >> visible=true').frameLocator('iframe#active-frame');
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  await page.screenshot({ path: join(RESULTS, `${name}.png`) });
}

/** Wait until the quick input's text ends with `suffix` (VS Code fills the simple file dialog asynchronously). */
export async function waitForQuickInputValue(page: Page, suffix: string): Promise<void> {
  await page.waitForFunction(
    (end) => document.querySelector<HTMLInputElement>('.quick-input-widget .quick-input-box input')?.value.endsWith(end) === true,
    suffix,
  );
}

/** WCAG 2 contrast ratio of a text element's colour against the background it is drawn on (alpha composited). */
export async function textContrast(target: Locator): Promise<{ ratio: number; color: string; background: string }> {
  return target.evaluate((node: Element) => {
    const parse = (c: string): number[] => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m) throw new Error(`unexpected colour ${c}`);
      const [r, g, b, a = 1] = m[1]
        .split(/[ ,/]+/)
        .filter(Boolean)
        .map(Number);
      return [r, g, b, a];
    };
    const over = (top: number[], under: number[]) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat(1);
    // the backgrounds from the root down to the element, composited
    const chain: Element[] = [];
    for (let e: Element | null = node; e; e = e.parentElement) chain.unshift(e);
    let bg = [255, 255, 255, 1];
    for (const e of chain) bg = over(parse(getComputedStyle(e).backgroundColor), bg);
    const fg = over(parse(getComputedStyle(node).color), bg);
    const lum = (c: number[]) => {
      const [r, g, b] = c.slice(0, 3).map((v) => {
        const x = v / 255;
        return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    return {
      ratio: (hi + 0.05) / (lo + 0.05),
      color: `rgb(${fg.slice(0, 3).map(Math.round).join(', ')})`,
      background: `rgb(${bg.slice(0, 3).map(Math.round).join(', ')})`,
    };
  });
}
