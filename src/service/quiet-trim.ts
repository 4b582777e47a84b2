// The timer side of idle-trim.ts: a process looks at what it has done every IDLE_TRIM_MS / 5 and, once
// nothing has changed for IDLE_TRIM_MS, drops what it holds in memory only to be quick (a process that serves
// lazy layers: the chunks of its memory LRU, every one on disk) and runs one full collection. The fuse
// manager and a service without one trim their layers; a service with one trims after its RPCs: it held ~9
// MiB of anonymous memory more for the ~20 s after a pull and a run, until V8 shrank its heap on its own,
// which was during the background fetch that followed, the fuse manager's busiest time.
import { garbageCollector } from '../host/garbage-collector.js';
import { IDLE_TRIM_MS, IdleTrim } from './idle-trim.js';
import type { Logger } from './logger.js';

/** What a process does, as the trim sees it (LayerService is one). */
export interface QuietSource {
  /** Changes whenever the process has done something. */
  activity(): Promise<string>;
  /** Drop what is held in memory only to be quick; bytes dropped. */
  dropMemory?(): Promise<number>;
}

/** Start trimming this process when `source` has been quiet, once per quiet spell; clearInterval the timer to stop. */
export function trimWhenQuiet(source: QuietSource, logger: Logger): NodeJS.Timeout {
  const idle = new IdleTrim(IDLE_TRIM_MS);
  const gc = garbageCollector();
  const timer = setInterval(() => {
    void source.activity().then(async (signature) => {
      if (!idle.observe(signature, performance.now())) return;
      const before = process.memoryUsage.rss();
      const dropped = (await source.dropMemory?.()) ?? 0;
      gc?.('major');
      logger.debug('quiet: memory trimmed', { droppedBytes: dropped, gc: gc !== undefined, rssBefore: before, rssAfter: process.memoryUsage.rss() });
    }).catch((e: unknown) => logger.warn('quiet: memory trim failed', { error: e instanceof Error ? e.message : String(e) })); // (a chunk cache that failed to open: its mounts say so)
  }, IDLE_TRIM_MS / 5);
  timer.unref();
  return timer;
}
