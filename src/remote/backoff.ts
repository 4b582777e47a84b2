// Retry policy of the registry client: exponential backoff with full jitter, a bounded number of retries
// per operation, Retry-After honoured (RFC 9110 §10.2.3: delay-seconds or an HTTP-date). One RetryBudget
// is spent by everything one operation retries: its requests (connection errors, 429, 5xx) and the reads
// of their bodies (a dropped or stalled connection), so a full pull and a lazy read give up alike.

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

/** The retries left to one operation under the policy; shared by all of its requests and body reads. */
export class RetryBudget {
  /** Retries spent so far. */
  used = 0;
  constructor(private readonly opts: BackoffOptions = {}) {}

  /** Retries allowed after the first attempt. */
  get retries(): number {
    return this.opts.retries ?? 4;
  }

  /** Attempts made so far (the first one included). */
  get attempts(): number {
    return this.used + 1;
  }

  /** True while another attempt is allowed. */
  get canRetry(): boolean {
    return this.used < this.retries;
  }

  /** Spend one retry; returns the delay to wait before it (backoff, or what Retry-After asks, capped). */
  take(retryAfter?: string): number {
    return backoffDelay(this.used++, this.opts, retryAfter);
  }
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
