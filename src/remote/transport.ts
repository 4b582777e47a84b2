// The HTTP layer of the registry client: one undici Agent per registry (TLS options, pooling, timeouts)
// and the retry policy (backoff.ts) for connection errors, 429 and 5xx, and for failed body reads of the
// callers above (retryAfter). Redirects and auth are handled above (client.ts).
import { Readable } from 'node:stream';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';
import { Agent, buildConnector, requestOn } from './undici-parts.js';
import { CtrError, contextLabel, errorAbout, type ErrorContext } from '../errors.js';
import { RetryBudget, sleep, type BackoffOptions } from './backoff.js';
import { dumpRequest, dumpResponse } from './http-dump.js';
import { isTlsAlert, readTlsFiles, tlsAlertHint, type TlsFiles } from './tls-files.js';

/** Default read (idle) timeout: a response that sends no byte for this long is a stalled connection. */
export const DEFAULT_READ_TIMEOUT_MS = 30_000;

/** Transport options of one registry. */
export interface TransportOptions extends TlsFiles {
  /** TLS: skip certificate verification (`-k`). Default false. */
  skipVerify?: boolean;
  /** Milliseconds to wait for connect and for response headers. Default 30_000. */
  timeoutMs?: number;
  /**
   * Read (idle) timeout: milliseconds a response body may go without a byte before the read fails as
   * "timed out" (a transient error: the retry policy tries again). Default 30_000 (DEFAULT_READ_TIMEOUT_MS).
   */
  readTimeoutMs?: number;
  /** Response body buffer per request (stream highWaterMark). Default 1 MiB. */
  bodyBufferBytes?: number;
  /** Parallel connections per origin. Default 8. */
  connections?: number;
  /** Retry policy (attempts, backoff). */
  backoff?: BackoffOptions;
  /** Receives one line per request and retry; never credentials. Default: silent. */
  debug?: (line: string) => void;
  /**
   * `--http-dump`: receives each request sent and each response received (start line and headers, no
   * body; Authorization and other secrets redacted, see http-dump.ts). Default: none.
   */
  httpDump?: (text: string) => void;
}

/** One HTTP request. `body` must be replayable (a Buffer) for the request to be retried. */
export interface HttpRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: Buffer | AsyncIterable<Buffer>;
  signal?: AbortSignal;
  /** Whether the request may be sent again after a connection error or 5xx. Default: true unless body is a stream. */
  retryable?: boolean;
  /** The retry budget of the operation this request is part of (shared with retries of its body). Default: a fresh one. */
  retry?: RetryBudget;
}

/** A response whose body must be consumed or dumped by the caller. */
export type HttpResponse = Dispatcher.ResponseData;

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const NET_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/** Errors our own code found transient (a body that ended short): retried like network errors. */
const transientErrors = new WeakSet<object>();

/** Mark `e` as transient (worth another attempt under the retry policy); returns it. */
export function markTransient<E extends object>(e: E): E {
  transientErrors.add(e);
  return e;
}

/**
 * True for failures another attempt may cure: network errors of undici (resets, refusals, timeouts) and
 * errors marked transient. A CtrError is otherwise final: it already carries the outcome of the retries below it.
 */
export function isTransient(e: unknown): boolean {
  if (typeof e === 'object' && e !== null && transientErrors.has(e)) return true;
  return !(e instanceof CtrError) && isNetworkError(e);
}

/** True for errors worth a retry: resets, refusals, timeouts. */
export function isNetworkError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  const causeCode = (e as { cause?: { code?: unknown } } | null)?.cause?.code;
  return (typeof code === 'string' && NET_CODES.has(code)) || (typeof causeCode === 'string' && NET_CODES.has(causeCode));
}

/** Sends requests to one registry (and the hosts it redirects to) with retries; owns the connection pool. */
export class Transport {
  readonly agent: UndiciAgent;
  /**
   * The last TLS alert a registry sent on one of our connections: undici reports the connection it ended
   * as "other side closed", so the alert (a client certificate wanted or refused) is kept to explain that.
   */
  private tlsAlert: { code: string; at: number } | undefined;
  constructor(readonly opts: TransportOptions = {}) {
    const timeout = opts.timeoutMs ?? 30_000;
    const connector = buildConnector({ rejectUnauthorized: !opts.skipVerify, ...readTlsFiles(opts), timeout });
    this.agent = new Agent({
      connect: (options, callback) => connector(options, (err, socket) => {
        socket?.on('error', (e) => {
          if (isTlsAlert(e)) this.tlsAlert = { code: e.code, at: Date.now() };
        });
        if (err) callback(err, null);
        else callback(null, socket!);
      }),
      headersTimeout: timeout,
      bodyTimeout: opts.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS,
      connections: opts.connections ?? 8,
    });
  }

  /** A fresh retry budget under this transport's policy, for one operation (its requests and body reads). */
  retryBudget(): RetryBudget {
    return new RetryBudget(this.opts.backoff);
  }

  /** Send one request, retrying connection errors, 429 and 5xx; returns the last response. Throws Unavailable when the network fails for good. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const budget = req.retry ?? this.retryBudget();
    const retryable = req.retryable ?? !(req.body !== undefined && !Buffer.isBuffer(req.body));
    const what: ErrorContext = { op: req.method, subject: `${req.url.host}${req.url.pathname}` };
    const label = contextLabel(what);
    for (;;) {
      let res: HttpResponse;
      try {
        res = await this.once(req);
      } catch (e) {
        if (req.signal?.aborted) throw req.signal.reason ?? e;
        const tls = tlsHint(e) ?? this.alertHint(e);
        if (tls) throw errorAbout('Unavailable', what, tls, e);
        if (!isNetworkError(e)) throw e;
        if (!retryable || !budget.canRetry) throw errorAbout('Unavailable', what, `${this.describe(e)}${attemptsNote(budget)}`, e);
        await this.backoff(`${label}: ${this.describe(e)}`, budget, req.signal);
        continue;
      }
      this.log(`${label} -> ${res.statusCode}`);
      this.opts.httpDump?.(dumpResponse(res.statusCode, res.headers));
      if (!RETRY_STATUS.has(res.statusCode) || !retryable || !budget.canRetry) return res;
      const retryAfter = headerValue(res.headers, 'retry-after');
      await res.body.dump().catch(() => undefined);
      await this.backoff(`${label}: HTTP ${res.statusCode}`, budget, req.signal, retryAfter);
    }
  }

  /**
   * The retry policy for what happens after send: reading a response body (or a whole exchange) of the
   * operation `what` failed with `e`. Returns after the backoff delay when `e` is transient and `budget`
   * allows another attempt; otherwise throws: `e` itself when it is not transient, else Unavailable naming
   * `what`, the cause ("timed out: no data for 30 s") and `where` (" at byte 4 of 1032198").
   */
  async retryAfter(e: unknown, what: ErrorContext, budget: RetryBudget, signal?: AbortSignal, where = ''): Promise<void> {
    if (signal?.aborted) throw signal.reason ?? e;
    if (!isTransient(e)) throw e;
    const why = e instanceof CtrError ? e.message : `${this.describe(e)}${where}`;
    if (!budget.canRetry) throw errorAbout('Unavailable', what, `${why}${attemptsNote(budget)}`, e);
    await this.backoff(`${contextLabel(what)}: ${why}`, budget, signal);
  }

  /** Spend a retry of `budget`: log `why` and wait the backoff delay. */
  private async backoff(why: string, budget: RetryBudget, signal?: AbortSignal, retryAfter?: string): Promise<void> {
    const delay = budget.take(retryAfter);
    this.log(`${why}, retry ${budget.used}/${budget.retries} in ${Math.round(delay)} ms`);
    await sleep(delay, signal);
  }

  /** A short explanation of a network error; timeouts say "timed out" and how long was waited. */
  describe(e: unknown): string {
    const err = e as { code?: string; message?: string; cause?: { code?: string } };
    const code = err.code ?? err.cause?.code;
    const secs = (ms: number) => `${ms / 1000} s`;
    const timeout = this.opts.timeoutMs ?? 30_000;
    if (code === 'UND_ERR_BODY_TIMEOUT') return `timed out: no data for ${secs(this.opts.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS)}`;
    if (code === 'UND_ERR_HEADERS_TIMEOUT') return `timed out: no response within ${secs(timeout)}`;
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return `timed out connecting (${secs(timeout)})`;
    if (code === 'ETIMEDOUT') return 'timed out (ETIMEDOUT)';
    if (code === 'UND_ERR_SOCKET' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return `connection closed mid-response (${code})`;
    return code ?? err.message ?? String(e);
  }

  /** What a connection the registry closed right after a TLS alert means (undefined: no such alert). */
  private alertHint(e: unknown): string | undefined {
    const alert = this.tlsAlert;
    if (!alert || (e as { code?: unknown }).code !== 'UND_ERR_SOCKET' || Date.now() - alert.at > 5_000) return undefined;
    this.tlsAlert = undefined;
    return tlsAlertHint(alert.code, (this.opts.tlsClientCerts?.length ?? 0) > 0);
  }

  private once(req: HttpRequest): Promise<HttpResponse> {
    this.opts.httpDump?.(dumpRequest(req.method, req.url, req.headers));
    return requestOn(this.agent, {
      origin: req.url.origin,
      path: req.url.pathname + req.url.search,
      method: req.method as Dispatcher.HttpMethod,
      headers: req.headers,
      body: req.body === undefined ? null : Buffer.isBuffer(req.body) ? req.body : Readable.from(req.body),
      signal: req.signal ?? null,
      // A deep body buffer keeps the socket reading while the consumer hashes and writes to disk.
      highWaterMark: this.opts.bodyBufferBytes ?? 1 << 20,
    });
  }

  /** Write a debug line (never pass credentials here). */
  log(line: string): void {
    this.opts.debug?.(line);
  }

  /** Close all connections. */
  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** First value of a response header. */
export function headerValue(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A one-line explanation for TLS failures (untrusted certificate, TLS spoken to a plain-HTTP server). */
function tlsHint(e: unknown): string | undefined {
  const err = e as { code?: string; cause?: { code?: string } };
  const code = [err.code, err.cause?.code].find((c) => typeof c === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(c));
  if (!code) return undefined;
  if (/ERR_SSL_WRONG_VERSION|ERR_SSL_PACKET_LENGTH/.test(code)) return `TLS handshake failed (${code}); if the registry speaks plain HTTP use --plain-http`;
  return `TLS certificate not trusted (${code}); pass --tlscacert FILE or -k/--skip-verify`;
}

function attemptsNote(budget: RetryBudget): string {
  return budget.used > 0 ? ` after ${budget.attempts} attempts` : '';
}

/** Abandon a response body without an unhandled 'error' (undici emits AbortError on destroy). */
export function discardBody(res: HttpResponse): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}
