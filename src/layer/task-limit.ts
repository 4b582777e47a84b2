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

  /** Run `task` (of `weight`, default 0) once it fits; resolves or rejects with its result. */
  async run<T>(task: () => Promise<T>, weight = 0): Promise<T> {
    if (this.waiting.length > 0 || !this.fits(weight)) {
      await new Promise<void>((start) => this.waiting.push({ weight, start })); // counted in by startWaiting
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
