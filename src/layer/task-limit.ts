// A counting semaphore for async work: at most `max` tasks run at once, the rest wait in arrival order.
// The lazy layer decodes members through it: a 4 MiB batch of small files is hundreds of members, and a
// gzip stream per member all at once costs a zlib state (~300 KiB native memory) each.

/** Runs async tasks with bounded concurrency. */
export class TaskLimit {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  /** @param max tasks allowed to run at once (at least 1). */
  constructor(private readonly max: number) {}

  /** Run `task` once a slot is free; resolves or rejects with its result. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= Math.max(1, this.max)) await new Promise<void>((r) => this.waiting.push(r));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // the slot passes straight to the next task
      else this.running--;
    }
  }
}
