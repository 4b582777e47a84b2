// Deduplication of identical concurrent work: the first caller for a key starts it, later callers for the
// same key share its promise until it settles; a failed flight is forgotten so that the next caller retries.

/** A map of in-flight promises keyed by K. */
export class SharedFlights<K, V> {
  private readonly flights = new Map<K, Promise<V>>();

  /** The flight for `key`, if one is running. */
  get(key: K): Promise<V> | undefined {
    return this.flights.get(key);
  }

  /** True while a flight for `key` is running. */
  has(key: K): boolean {
    return this.flights.has(key);
  }

  /** Join the running flight for `key` or start `start()` as the new one. */
  run(key: K, start: () => Promise<V>): Promise<V> {
    const running = this.flights.get(key);
    if (running) return running;
    return this.track(key, start());
  }

  /** Register an already started promise as the flight for `key` (replacing none: callers check `has`). */
  track(key: K, promise: Promise<V>): Promise<V> {
    const settled = promise.finally(() => {
      if (this.flights.get(key) === settled) this.flights.delete(key);
    });
    settled.catch(() => undefined);
    this.flights.set(key, settled);
    return settled;
  }

  /** Number of running flights. */
  get size(): number {
    return this.flights.size;
  }
}

/** Await `promise` but reject early with the signal's reason when `signal` aborts (the work goes on). */
export function raceSignal<V>(promise: Promise<V>, signal?: AbortSignal): Promise<V> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<V>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
