// The counters of one lazily mounted layer and the small JSON file they are written to
// (`<root>/mounts/<id>/layers/<n>/state.json` while mounted, `<root>/lazy/state/<layer hex>.json` after:
// store/root-layout.ts), which `image status` reads from another process.

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LatencyHistogram } from '../stats/latency-histogram.js';

/** Progress of the prefetch or the background fetch. */
export type FetchPhase = 'off' | 'pending' | 'running' | 'done' | 'failed';

/** What a lazy layer has done so far. */
export interface LayerState {
  layerDigest: string;
  /** Compressed size of the blob. */
  blobSize: number;
  /** Compressed bytes received from the blob source (prefetch + background + on demand). */
  bytesFetched: number;
  /** Range requests sent (one multi-range request counts once). */
  requests: number;
  /** Chunks decompressed and verified from fetched bytes. */
  chunksFetched: number;
  /** Chunk reads served from the cache (memory or disk). */
  cacheHits: number;
  /** Failed fetches and chunks rejected by verification. */
  errors: number;
  digestMismatches: number;
  lastError?: { time: string; message: string };
  /** The last read the registry refused for lack of (valid) credentials (HTTP 401/403): reads fail until run or mount get them. */
  authError?: { time: string; message: string };
  /** The prefetch: its phase, the bytes it covers, and how long it took once done. */
  prefetch: { phase: FetchPhase; bytes: number; seconds?: number };
  /** How long reads waited for chunks that had to be fetched (on-demand fetch latency). */
  onDemandLatency?: LatencyHistogram;
  background: { phase: FetchPhase; membersDone: number; membersTotal: number };
  updatedAt: string;
}

/** A new all-zero state for a blob. */
export function emptyLayerState(layerDigest: string, blobSize: number): LayerState {
  return {
    layerDigest,
    blobSize,
    bytesFetched: 0,
    requests: 0,
    chunksFetched: 0,
    cacheHits: 0,
    errors: 0,
    digestMismatches: 0,
    prefetch: { phase: 'off', bytes: 0 },
    background: { phase: 'off', membersDone: 0, membersTotal: 0 },
    updatedAt: new Date().toISOString(),
  };
}

/** Writes a LayerState to a file at most once per `intervalMs`, atomically (temp + rename). */
export class LayerStateFile {
  private dirty = false;
  private writing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  /** @param intervalMs how often a changed state is written. Default 1000. */
  constructor(
    private readonly path: string,
    private readonly state: () => LayerState,
    intervalMs = 1000,
  ) {
    this.timer = setInterval(() => void this.flushIfDirty(), intervalMs);
    this.timer.unref();
  }

  /** Note that the state changed (written on the next tick of the interval). */
  markDirty(): void {
    this.dirty = true;
  }

  /** Write the current state now. */
  async flush(): Promise<void> {
    this.dirty = false;
    const json = `${JSON.stringify({ ...this.state(), updatedAt: new Date().toISOString() }, null, 2)}\n`;
    this.writing = this.writing.then(() => writeAtomic(this.path, json)).catch(() => undefined);
    await this.writing;
  }

  /** Stop the interval and write a last time. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async flushIfDirty(): Promise<void> {
    if (this.dirty) await this.flush();
  }
}

/** Read a layer's state file (as written by LayerStateFile); undefined when it does not exist. */
export async function readLayerState(path: string): Promise<LayerState | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LayerState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function writeAtomic(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, data);
  await rename(temp, path);
}
