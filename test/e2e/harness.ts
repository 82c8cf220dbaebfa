// Real VS Code (code-server) driven by Playwright in Debian's Chromium. See ../../scripts/e2e-setup.sh.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page, type FrameLocator } from 'playwright-core';

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

function writeSettings(userData: string, theme: string): void {
  mkdirSync(join(userData, 'User'), { recursive: true });
  writeFileSync(join(userData, 'User', 'settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': false, 'chat.disableAIFeatures': true,
    'workbench.secondarySideBar.defaultVisibility': 'hidden', 'telemetry.telemetryLevel': 'off', 'update.mode': 'none',
    'extensions.autoCheckUpdates': false, 'extensions.autoUpdate': false, 'git.enabled': false, 'editor.hover.delay': 100,
    'workbench.colorTheme': theme, 'window.commandCenter': false, 'workbench.tips.enabled': false,
  }, null, 1));
}


export async function start(files: Record<string, string>, theme = 'Default Dark Modern'): Promise<Session> {
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
  writeSettings(userData, theme);
  const pkg = JSON.parse((await import('node:fs')).readFileSync(join(ROOT, 'package.json'), 'utf8'));
  symlinkSync(ROOT, join(run, 'ext', `${pkg.publisher}.${pkg.name}-${pkg.version}`));
  writeFileSync(join(run, 'config.yaml'), 'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n');

  let server: ChildProcess | undefined;
  let context: BrowserContext | undefined;
  const close = async () => {
    await context?.close().catch(() => undefined);
    if (server?.pid) {
      try { process.kill(-server.pid, 'SIGTERM'); } catch { /* gone */ }
      await new Promise((r) => setTimeout(r, 500));
      try { process.kill(-server.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    rmSync(run, { recursive: true, force: true });
  };
  const hardStop = setTimeout(() => void close(), 280_000);
  hardStop.unref();
  try {
    server = spawn(CODE_SERVER, ['--config', join(run, 'config.yaml'), '--auth', 'none', '--bind-addr', '127.0.0.1:0', '--disable-telemetry',
      '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', '--user-data-dir', userData,
      '--extensions-dir', join(run, 'ext'), workspace], {
      detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: `${NODE24_BIN}:${process.env.PATH}` },
    });
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
    for (let i = 0; i < 100; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
      } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 200));
    }
    context = await chromium.launchPersistentContext(join(run, 'profile'), {
      executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1500, height: 950 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    const consoleErrors: string[] = [];
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      const text = m.text();
      if (/Content.Security.Policy|securitypolicyviolation/i.test(text) && /quantlens|webview|vscode-resource|vscode-cdn/i.test(text)) cspViolations.push(text);
      if (m.type() === 'error') consoleErrors.push(text);
    });
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 90_000 });
    return { page, workspace, userData, consoleErrors, cspViolations, close: async () => { clearTimeout(hardStop); await close(); } };
  } catch (e) {
    clearTimeout(hardStop);
    await close();
    throw e;
  }
}

export async function runCommand(page: Page, label: string, deadline = Date.now() + 60_000): Promise<void> {
  const input = page.locator('.quick-input-widget .quick-input-box input');
  for (;;) {
    await page.keyboard.press('F1');
    try {
      await input.waitFor({ state: 'visible', timeout: 2000 });
    } catch (e) {
      // Focus was inside a webview that kept the key: give the workbench the focus and try again.
      await page.locator('.part.sidebar .composite.title').first().click();
      if (Date.now() > deadline) throw e;
      continue;
    }
    await input.fill(`>${label}`);
    try {
      await page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first().waitFor({ timeout: 1500 });
      await page.keyboard.press('Enter');
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

export async function quickOpen(page: Page, name: string): Promise<void> {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.fill(name);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor();
  await page.keyboard.press('Enter');
}

/** The visible Quant Lens webview (two iframes deep). */
export function webview(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready >> visible=true').frameLocator('iframe#active-frame');
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  await page.screenshot({ path: join(RESULTS, `${name}.png`) });
}
