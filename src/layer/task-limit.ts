// A semaphore for async work, bounded in tasks and in weight (bytes): a task starts once fewer than
// `maxTasks` run and its weight fits in what is left of `maxWeight`; the rest wait in arrival order. A task
// heavier than `maxWeight` runs alone, so nothing waits forever. The lazy layers bound their memory with it:
// bytes being fetched, bytes being decoded (a 4 MiB batch of small files is hundreds of members, each a zlib
// state of ~300 KiB while it inflates) and chunk bytes held by reads being served.

interface Waiter {
  weight: number;
  start: () => void;
}

/** Runs async tasks with bounded concurrency and bounded total weight. */
export class TaskLimit {
  private running = 0;
  private weight = 0;
  private readonly waiting: Waiter[] = [];

  /**
   * @param maxTasks tasks allowed to run at once (at least 1).
   * @param maxWeight total weight of the running tasks (default unbounded).
   */
  constructor(
    private readonly maxTasks: number,
    private readonly maxWeight = Number.POSITIVE_INFINITY,
  ) {}

  /**
   * Run `task` (of `weight`, default 0) once it fits; resolves or rejects with its result. When `signal`
   * aborts while the task still waits, it leaves the queue and the call rejects with the signal's reason.
   */
  async run<T>(task: () => Promise<T>, weight = 0, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    if (this.waiting.length > 0 || !this.fits(weight)) {
      await new Promise<void>((start, reject) => {
        const waiter: Waiter = { weight, start: () => { signal?.removeEventListener('abort', onAbort); start(); } };
        const onAbort = () => {
          const i = this.waiting.indexOf(waiter);
          if (i < 0) return; // already started
          this.waiting.splice(i, 1);
          this.startWaiting(); // the next in line may fit now
          reject(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(waiter); // counted in by startWaiting
      });
    } else {
      this.running++;
      this.weight += weight;
    }
    try {
      return await task();
    } finally {
      this.running--;
      this.weight -= weight;
      this.startWaiting();
    }
  }

  /** Weight of the tasks running now. */
  get inUse(): number {
    return this.weight;
  }

  private fits(weight: number): boolean {
    if (this.running >= Math.max(1, this.maxTasks)) return false;
    return this.running === 0 || this.weight + weight <= this.maxWeight;
  }

  /** Start waiting tasks in arrival order while the first of them fits. */
  private startWaiting(): void {
    for (let next = this.waiting[0]; next && this.fits(next.weight); next = this.waiting[0]) {
      this.waiting.shift();
      // counted now, so that the loop sees the slot and weight as taken before the task resumes
      this.running++;
      this.weight += next.weight;
      next.start();
    }
  }
}
