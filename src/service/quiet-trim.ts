// The timer side of idle-trim.ts: a process that serves lazy layers (the fuse manager, or the service itself
// without one) looks at what its layers have done every IDLE_TRIM_MS / 5 and, once nothing has changed for
// IDLE_TRIM_MS, drops the chunks held in memory (every one is on disk) and runs one full collection.
import { garbageCollector } from '../host/garbage-collector.js';
import { IDLE_TRIM_MS, IdleTrim } from './idle-trim.js';
import type { LayerService } from './layer-service.js';
import type { Logger } from './logger.js';

/** Start trimming `layers`' process when quiet, once per quiet spell; clearInterval the timer to stop. */
export function trimWhenQuiet(layers: LayerService, logger: Logger): NodeJS.Timeout {
  const idle = new IdleTrim(IDLE_TRIM_MS);
  const gc = garbageCollector();
  const timer = setInterval(() => {
    void layers.activity().then(async (signature) => {
      if (!idle.observe(signature, performance.now())) return;
      const before = process.memoryUsage.rss();
      const dropped = await layers.dropMemory();
      gc?.('major');
      logger.debug('quiet: memory trimmed', { droppedBytes: dropped, gc: gc !== undefined, rssBefore: before, rssAfter: process.memoryUsage.rss() });
    }).catch((e: unknown) => logger.warn('quiet: memory trim failed', { error: e instanceof Error ? e.message : String(e) })); // (a chunk cache that failed to open: its mounts say so)
  }, IDLE_TRIM_MS / 5);
  timer.unref();
  return timer;
}
