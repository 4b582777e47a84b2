// The device loop: requests come from /dev/fuse on the event loop (device-stream.ts: the fd polled by libuv,
// no thread), or, where that is unavailable, from reader workers (device-reader.worker.ts) blocked in read(2);
// the main thread runs them through the protocol handler (the filesystem is async and lives here) and writes
// each reply with one writev, which does not wait: the kernel only copies the reply to the waiting request.
// The loop owns the fd from its start and closes it when it ends.

import { closeSync, writevSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { workerEntry } from '../host/worker-entry.js';
import { DEVICE_READ_BUFFER_SIZE, type FuseProtocol } from './protocol.js';
import { emptyHistogram, observe, type LatencyHistogram } from '../stats/latency-histogram.js';
import { Opcode } from './abi.js';
import { BurstSpin, TURN_BUDGET_MS, TurnBudget, type BurstSpinOptions } from './burst-spin.js';

/** The waits of every mount of this process share one budget per turn of the event loop (burst-spin.ts). */
const TURN = new TurnBudget(TURN_BUDGET_MS, setImmediate);

/** Opcode number → name, for the latency histograms. */
const OPCODE_NAMES = new Map<number, string>(Object.entries(Opcode).map(([name, n]) => [n, name]));
import type { ReaderData, ReaderMessage } from './device-reader.worker.js';
import { openDeviceStream } from './device-stream.js';

/** Device loop options. */
export interface DeviceLoopOptions {
  /** How requests are read: on the event loop ('stream', the default where it works) or by reader threads. */
  reader?: 'stream' | 'workers';
  /** Reader threads blocked in read(2) on the device, when reading with workers. Default 2. */
  readers?: number;
  /** Called for device errors other than the normal end of the connection. Default: stderr. */
  onError?: (error: unknown) => void;
  /** When the serving thread waits on the device for the next request (burst-spin.ts). Reading on the event loop only. */
  spin?: BurstSpinOptions;
}

/** Counters of a running loop. */
export interface DeviceLoopStats {
  requests: number;
  /** Requests read by the serving thread while it waited for them after a reply (burst-spin.ts), not through epoll. */
  spun: number;
  replies: number;
  /** Replies the kernel refused because the request was interrupted meanwhile (ENOENT on write). */
  staleReplies: number;
  /** Requests per opcode number (see abi.ts Opcode). */
  byOpcode: Map<number, number>;
  /** Time the main thread spent inside writev on the device, in ms (the cost of replying from here). */
  writeMs: number;
  /** Time from a request's arrival on the main thread to its reply, per opcode name. */
  latency: Map<string, LatencyHistogram>;
  /** How requests are read: on the event loop, or by reader worker threads (the fallback). */
  reader: 'stream' | 'workers';
}

/** How a loop ended: the kernel closed the connection (unmounted), or the readers failed. */
export type LoopEnd = 'disconnected' | 'failed';

/** A running loop; `done` resolves when every reader has ended. */
export interface DeviceLoop {
  done: Promise<LoopEnd>;
  /** Resolves once the INIT reply has been written (the kernel applies it within that write). */
  initialized: Promise<void>;
  stats: DeviceLoopStats;
  /** Stop the reader threads (only useful after the connection is gone or before the mount failed). */
  terminate(): Promise<void>;
}

/** Start serving `fd` (an open /dev/fuse connection that is already mounted) with `protocol`; the loop owns `fd` now. */
export function startDeviceLoop(fd: number, protocol: FuseProtocol, options: DeviceLoopOptions = {}): DeviceLoop {
  const stats: DeviceLoopStats = { requests: 0, spun: 0, replies: 0, staleReplies: 0, writeMs: 0, byOpcode: new Map(), latency: new Map(), reader: 'stream' };
  const onError = options.onError ?? ((e: unknown) => console.error(`ctr-remote fuse: ${String(e)}`));
  let markInitialized = () => {};
  const initialized = new Promise<void>((r) => (markInitialized = r));
  const afterInit = () => {
    if (protocol.negotiated) markInitialized();
  };
  if ((options.reader ?? 'stream') === 'stream') {
    let resolveDone!: (end: LoopEnd) => void;
    const done = new Promise<LoopEnd>((r) => (resolveDone = r));
    const spin = new BurstSpin(options.spin);
    const stream = openDeviceStream(fd, {
      onRequest: (req) => {
        spin.request(performance.now());
        void serve(fd, protocol, req, stats, onError).then(() => {
          afterInit();
          const now = performance.now();
          const us = spin.replied(now);
          if (us > 0 && TURN.allow(now) && stream?.spin(us)) stats.spun++;
        });
      },
      onEnd: (reason) => {
        if (reason !== 'ENODEV') onError(reason);
        resolveDone(reason === 'ENODEV' ? 'disconnected' : 'failed');
      },
    });
    if (stream) return { done, initialized, stats, terminate: async () => stream.close() };
  }
  stats.reader = 'workers';
  const count = Math.max(1, options.readers ?? 2);
  const workers: Worker[] = [];
  const ended: Promise<LoopEnd>[] = [];
  for (let i = 0; i < count; i++) {
    const w = spawnReader({ fd, bufferSize: DEVICE_READ_BUFFER_SIZE });
    workers.push(w);
    ended.push(new Promise<LoopEnd>((resolve) => {
      w.on('message', (m: ReaderMessage) => {
        if (m.type === 'request') return void serve(fd, protocol, Buffer.from(m.data), stats, onError).then(afterInit);
        if (m.reason === 'error') onError(new Error(`reading /dev/fuse: ${m.error}`));
        resolve(m.reason === 'ENODEV' ? 'disconnected' : 'failed');
      });
      w.on('error', (e) => { onError(e); resolve('failed'); });
      w.on('exit', () => resolve('failed'));
    }));
  }
  const done = Promise.all(ended).then((ends) => {
    closeSync(fd);
    return ends.includes('disconnected') ? 'disconnected' : 'failed';
  });
  return { done, initialized, stats, terminate: async () => void (await Promise.all(workers.map((w) => w.terminate()))) };
}

/** Start one reader thread. Under tsx (tests) Node 20 does not apply the loader to a worker's .ts entry, so a
 * tiny bootstrap registers it first. */
function spawnReader(data: ReaderData): Worker {
  const entry = workerEntry('device-reader', import.meta.url);
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { workerData: data });
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(boot, { eval: true, workerData: data });
}

/** Handle one request and write its reply; a reply to an interrupted request is refused with ENOENT. */
async function serve(fd: number, protocol: FuseProtocol, req: Buffer, stats: DeviceLoopStats, onError: (e: unknown) => void) {
  stats.requests++;
  const start = performance.now();
  const opcode = req.length >= 8 ? req.readUInt32LE(4) : -1;
  if (opcode >= 0) stats.byOpcode.set(opcode, (stats.byOpcode.get(opcode) ?? 0) + 1);
  const parts = await protocol.handleParts(req);
  if (parts === null) return;
  const t0 = performance.now();
  try {
    writevSync(fd, parts);
    stats.replies++;
    const end = performance.now();
    stats.writeMs += end - t0;
    const name = OPCODE_NAMES.get(opcode) ?? 'OTHER';
    let h = stats.latency.get(name);
    if (!h) stats.latency.set(name, (h = emptyHistogram()));
    observe(h, (end - start) / 1000);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') stats.staleReplies++;
    else if (code !== 'ENODEV' && code !== 'EBADF') onError(e);
  }
}
