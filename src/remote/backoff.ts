// Retry policy of the registry transport: exponential backoff with full jitter, bounded attempts,
// Retry-After honoured (RFC 9110 §10.2.3: delay-seconds or an HTTP-date).

/** Tunables of the retry loop. */
export interface BackoffOptions {
  /** Retries after the first attempt. Default 4 (5 attempts). */
  retries?: number;
  /** Base delay of the first retry in ms; doubles each retry. Default 250. */
  baseMs?: number;
  /** Upper bound of one delay (also caps Retry-After) in ms. Default 10_000. */
  maxMs?: number;
}

/** The delay before retry number `attempt` (0-based): random in [d/2, d] with d = min(max, base·2^attempt), or Retry-After. */
export function backoffDelay(attempt: number, opts: BackoffOptions, retryAfter?: string): number {
  const max = opts.maxMs ?? 10_000;
  const fromHeader = retryAfter === undefined ? undefined : parseRetryAfter(retryAfter);
  if (fromHeader !== undefined) return Math.min(max, fromHeader);
  const d = Math.min(max, (opts.baseMs ?? 250) * 2 ** attempt);
  return d / 2 + Math.random() * (d / 2);
}

/** Milliseconds a Retry-After header asks for, or undefined when it is malformed. */
export function parseRetryAfter(v: string): number | undefined {
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

/** Sleep `ms`, rejecting with the signal's reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
