// The serving process of the lazy-mount benchmark: the BUILT CLI's `image mount` (dist/ctr-remote.mjs, not
// tsx, which inflates RSS and start-up) in the foreground, its readiness line, its layer state files and its
// peak RSS (VmHWM of /proc/<pid>/status).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LayerState } from '../src/layer/layer-state.js';

/** dist/ctr-remote.mjs of this checkout (run `npm run build` first), or $CTR_REMOTE_BENCH_CLI (a frozen copy of a build). */
export const CLI = process.env.CTR_REMOTE_BENCH_CLI ?? resolve(import.meta.dirname, '..', 'dist', 'ctr-remote.mjs');

/** A running `image mount`. */
export interface MountProcess {
  child: ChildProcess;
  pid: number;
  /** Everything it printed. */
  output(): string;
  /** Peak RSS so far in bytes (VmHWM). */
  peakRss(): Promise<number>;
  /** The lazy layers' state files as last written. */
  states(): Promise<LayerState[]>;
  /** Wait until every lazy layer's background fetch is done (or failed). */
  backgroundDone(timeoutMs?: number): Promise<LayerState[]>;
  /** SIGINT (Ctrl-C) and wait for the exit. */
  stop(): Promise<void>;
}

/** Start `ctr-remote --root ROOT image mount --plain-http REF DIR [extra]` and wait until it is mounted. */
export async function startMount(root: string, ref: string, dir: string, extra: string[] = []): Promise<MountProcess> {
  const child = spawn(process.execPath, [CLI, '--root', root, 'image', 'mount', '--plain-http', ...extra, ref, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  child.stderr.on('data', (d) => (out += String(d)));
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  const deadline = Date.now() + 120_000;
  while (!/mounted .* at /.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`image mount did not come up: ${out}`);
    await sleep(20);
  }
  const pid = child.pid!;
  const states = async (): Promise<LayerState[]> => {
    const mounts = join(root, 'mounts');
    const found: LayerState[] = [];
    for (const id of await readdir(mounts).catch(() => [])) {
      for (const n of await readdir(join(mounts, id, 'layers')).catch(() => [])) {
        const text = await readFile(join(mounts, id, 'layers', n, 'state.json'), 'utf8').catch(() => undefined);
        if (text) found.push(JSON.parse(text) as LayerState);
      }
    }
    return found;
  };
  return {
    child,
    pid,
    output: () => out,
    peakRss: async () => {
      const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
      return Number(m?.[1] ?? 0) * 1024;
    },
    states,
    backgroundDone: async (timeoutMs = 600_000) => {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const s = await states();
        if (s.length > 0 && s.every((l) => l.background.phase === 'done' || l.background.phase === 'failed' || l.background.phase === 'off')) return s;
        if (Date.now() > end) throw new Error(`background fetch not done after ${timeoutMs} ms: ${JSON.stringify(s.map((l) => l.background))}`);
        await sleep(200);
      }
    },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGINT');
      await exited;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
