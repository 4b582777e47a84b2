// The memory every lazy layer of a process shares, bounded whatever the images declare: compressed bytes
// being fetched, bytes being decoded, and chunk bytes held by the reads being served. Without them a hostile
// TOC (huge chunks, a huge prefetch region) or many parallel reads of big chunks could grow the serving
// process without limit. A single piece larger than its budget is served alone (TaskLimit).
import { garbageCollector, type Collector } from '../host/garbage-collector.js';
import { GarbagePacer } from './garbage-pacer.js';
import { TaskLimit } from './task-limit.js';

/** Compressed bytes of range requests in flight (their bodies are held until their members are decoded). */
export const FETCH_BUDGET_BYTES = 64 << 20;
/** Uncompressed bytes of members being decoded at once. */
export const DECODE_BUDGET_BYTES = 64 << 20;
/** Members decoded at once: enough for the threadpool, few enough to bound zlib's native memory. */
export const DECODE_TASKS = 8;
/** Chunk bytes held by the reads being served at once (FUSE may send dozens of READs in parallel). */
export const READ_BUDGET_BYTES = 128 << 20;
/**
 * Background batches in flight across every layer of the process: two, one arriving while the other is
 * decoded and written, which keeps one link busy. Each layer fetching its own batch at once held a batch
 * and its decoded chunks per layer (56 MB of buffers with 5 layers) for no more throughput.
 */
export const BACKGROUND_BATCHES = 2;

/** The shared limits of lazy layers. */
export interface LayerBudgets {
  fetches: TaskLimit;
  decodes: TaskLimit;
  reads: TaskLimit;
  /** Background batches (lazy-layer.ts runBackground). */
  background: TaskLimit;
  /** When the dead buffers of decoded members are collected (garbage-pacer.ts). */
  garbage: GarbagePacer;
}

let shared: LayerBudgets | undefined;

/** Fresh budgets (tests; a process uses processBudgets()); `collect` runs a garbage collection (default none). */
export function newBudgets(collect?: Collector): LayerBudgets {
  return {
    fetches: new TaskLimit(Number.POSITIVE_INFINITY, FETCH_BUDGET_BYTES),
    decodes: new TaskLimit(DECODE_TASKS, DECODE_BUDGET_BYTES),
    reads: new TaskLimit(Number.POSITIVE_INFINITY, READ_BUDGET_BYTES),
    background: new TaskLimit(BACKGROUND_BATCHES),
    garbage: new GarbagePacer(collect),
  };
}

/** The budgets shared by every lazy layer of this process. */
export function processBudgets(): LayerBudgets {
  shared ??= newBudgets(garbageCollector());
  return shared;
}
