// One background-fetch gate per mounted image, shared by all its lazy layers: background fetch of any layer
// waits until every layer's prefetch has finished, and then runs only while the whole image is quiet (no
// foreground read or prefetch fetch of any layer in flight or within `idleMs`). A resident service keeps one
// gate for every layer it serves, sealed from the start, and counts its mounts as activity too. Without it each layer would
// judge quietness alone, and one layer's background fetch would share the link with another layer's
// prefetch or foreground reads (docs/benchmarks/startup.notes.md).

import { setTimeout as sleep } from 'node:timers/promises';
import { raceSignal } from './shared-flights.js';

/** Options of BackgroundGate. */
export interface BackgroundGateOptions {
  /** Image-wide quiet time after the last foreground or prefetch activity. Default 50 ms. */
  idleMs?: number;
}

/** Decides, for every lazy layer of one image, when background fetching may run. */
export class BackgroundGate {
  private readonly prefetches: Promise<unknown>[] = [];
  private markSealed: () => void = () => {};
  private readonly sealed = new Promise<void>((resolve) => (this.markSealed = resolve));
  private active = 0;
  private lastActive = 0;

  constructor(private readonly options: BackgroundGateOptions = {}) {}

  /** Register a layer's prefetch task: no background fetch starts before it settles. */
  addPrefetch(task: Promise<unknown>): void {
    this.prefetches.push(task);
    // a resident gate sees every layer a service ever serves: forget each prefetch once it has settled
    const forget = () => {
      const i = this.prefetches.indexOf(task);
      if (i >= 0) this.prefetches.splice(i, 1);
    };
    task.then(forget, forget);
  }

  /** Declare that every layer has been added (prefetches registered); until then background fetch waits. */
  seal(): void {
    this.markSealed();
  }

  /** Mark the start of foreground or prefetch I/O of any layer; pair with `leave()`. */
  enter(): void {
    this.active++;
  }

  /** Mark the end of I/O started with `enter()`. */
  leave(): void {
    this.active--;
    this.lastActive = Date.now();
  }

  /** Resolves once the gate is sealed and every registered prefetch has settled (rejects when `signal` aborts). */
  async prefetchesDone(signal?: AbortSignal): Promise<void> {
    await raceSignal(this.sealed, signal);
    await raceSignal(Promise.allSettled(this.prefetches), signal);
  }

  /** Wait until no layer has had foreground or prefetch I/O for `idleMs` (rejects with `signal`'s reason when it aborts). */
  async waitIdle(signal?: AbortSignal): Promise<void> {
    const idle = this.options.idleMs ?? 50;
    for (;;) {
      signal?.throwIfAborted();
      const quiet = Date.now() - this.lastActive;
      if (this.active === 0 && quiet >= idle) return;
      await sleep(Math.max(1, idle - quiet), undefined, signal ? { signal } : {}).catch((e: unknown) => {
        signal?.throwIfAborted(); // the signal's reason, not the timer's AbortError
        throw e;
      });
    }
  }
}
