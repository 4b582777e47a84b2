// When the serving thread waits on the device itself instead of going back to epoll. A program that walks or
// reads a mount sends its next request a few microseconds after our reply reaches it; if our thread sleeps in
// epoll meanwhile, the kernel must wake it, and on this kind of virtual machine a wake-up across CPUs costs
// more than the request itself (a stat walk of the python root filesystem, 1,800-2,400 requests: 0.32 s with
// the sleep, 0.22 s when the thread keeps reading for up to 50 us after its last reply; local disk 0.21 s;
// docs/DECISIONS.md). The reference's Go runtime gets the same from its spinning threads.
//
// The thread only waits while requests come in a burst (the last one came soon after a reply), so a mount
// that answers one request now and then spends nothing; and never while a request of the mount is still in
// flight (a read waiting on the registry or the disk): the event loop has work then. Waiting holds the event
// loop, and a request taken by a wait is answered in the same turn of it (from memory, in microtasks), which
// may wait again: so all the mounts of a process share a turn budget (TurnBudget), after which the loop runs
// (timers, the network, the other mounts' requests, whose wait this one would otherwise prolong) before any
// mount waits again.

/** Tuning; both in the units their names say. */
export interface BurstSpinOptions {
  /** Longest wait for the next request after the last reply; 0 turns waiting off. */
  spinUs: number;
  /** A request that comes this soon after the previous reply continues a burst. */
  burstGapMs: number;
}

export const DEFAULT_BURST_SPIN: Readonly<BurstSpinOptions> = Object.freeze({ spinUs: 50, burstGapMs: 1 });

/** The decision, from the times of requests and replies (no clock of its own: the caller passes `now`). */
export class BurstSpin {
  private inFlight = 0;
  private lastReplyMs = -Infinity;
  private burst = false;

  constructor(private readonly options: Readonly<BurstSpinOptions> = DEFAULT_BURST_SPIN) {}

  /** A request arrived at `nowMs` (one the spin took continues the burst: it came within spinUs). */
  request(nowMs: number): void {
    this.inFlight++;
    this.burst = nowMs - this.lastReplyMs <= this.options.burstGapMs;
  }

  /** A request was answered (or needed no answer) at `nowMs`: how long to wait for the next one, in us (0: not at all). */
  replied(nowMs: number): number {
    this.inFlight--;
    this.lastReplyMs = nowMs;
    return this.inFlight === 0 && this.burst ? this.options.spinUs : 0;
  }
}

/** Longest time waits may hold the event loop before it turns once (1 ms: a 1 ms timer stays within ~1 ms). */
export const TURN_BUDGET_MS = 1;

/**
 * The waiting allowed in one turn of the event loop, for every mount of the process together. The first wait
 * of a turn calls `schedule` with a callback that starts the next turn's budget: setImmediate, which runs
 * only once the microtasks that chain the waits have drained and the loop has moved on.
 */
export class TurnBudget {
  private startMs = -1;

  constructor(
    private readonly budgetMs: number,
    private readonly schedule: (nextTurn: () => void) => void,
  ) {}

  /** May a wait start at `nowMs`? */
  allow(nowMs: number): boolean {
    if (this.startMs < 0) {
      this.startMs = nowMs;
      this.schedule(() => (this.startMs = -1));
      return true;
    }
    return nowMs - this.startMs < this.budgetMs;
  }
}
