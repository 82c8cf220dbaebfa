/** Starts test/helpers/httpServerMain.ts in a child process and talks to it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface ServerStats {
  requests: { path: string; host?: string; range?: string; authorization?: string }[];
  bytesSent: number;
}

export interface TestServer {
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  stats(): Promise<ServerStats>;
  reset(): Promise<void>;
  changeFiles(): Promise<void>;
  close(): Promise<void>;
}

/** Serves `files` (name -> local path) until close(). */
export async function startServer(files: Record<string, string>): Promise<TestServer> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'httpServerMain.ts'), ...Object.entries(files).map(([n, p]) => `${n}=${p}`)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', (code) => reject(new Error(`test HTTP server exited with ${code}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    port,
    url,
    stats: async () => (await (await fetch(`${url}/__stats`)).json()) as ServerStats,
    reset: async () => void (await fetch(`${url}/__reset`, { method: 'POST' })),
    changeFiles: async () => void (await fetch(`${url}/__etag`, { method: 'POST' })),
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}
