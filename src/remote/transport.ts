// The HTTP layer of the registry client: one undici Agent per registry (TLS options, pooling, timeouts)
// and a retry loop for connection errors, 429 and 5xx. Redirects and auth are handled above (client.ts).
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { invalidArgument, unavailable } from '../errors.js';
import { backoffDelay, sleep, type BackoffOptions } from './backoff.js';

/** Transport options of one registry. */
export interface TransportOptions {
  /** TLS: skip certificate verification (`-k`). Default false. */
  skipVerify?: boolean;
  /** TLS: PEM file with CA certificates trusted in addition to the system roots (`--tlscacert`). */
  tlsCaCert?: string;
  /** Milliseconds to wait for connect and for response headers. Default 30_000. */
  timeoutMs?: number;
  /** Milliseconds a response body may stall between chunks. Default 60_000. */
  bodyTimeoutMs?: number;
  /** Response body buffer per request (stream highWaterMark). Default 1 MiB. */
  bodyBufferBytes?: number;
  /** Parallel connections per origin. Default 8. */
  connections?: number;
  /** Retry policy (attempts, backoff). */
  backoff?: BackoffOptions;
  /** Receives one line per request and retry; never credentials. Default: silent. */
  debug?: (line: string) => void;
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
}

/** A response whose body must be consumed or dumped by the caller. */
export type HttpResponse = Dispatcher.ResponseData;

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const NET_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/** True for errors worth a retry: resets, refusals, timeouts. */
export function isNetworkError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  const causeCode = (e as { cause?: { code?: unknown } } | null)?.cause?.code;
  return (typeof code === 'string' && NET_CODES.has(code)) || (typeof causeCode === 'string' && NET_CODES.has(causeCode));
}

/** Sends requests to one registry (and the hosts it redirects to) with retries; owns the connection pool. */
export class Transport {
  readonly agent: Agent;
  constructor(readonly opts: TransportOptions = {}) {
    const timeout = opts.timeoutMs ?? 30_000;
    let ca: string | undefined;
    if (opts.tlsCaCert !== undefined) {
      try {
        ca = readFileSync(opts.tlsCaCert, 'utf8');
      } catch (e) {
        throw invalidArgument(`cannot read --tlscacert ${opts.tlsCaCert}: ${(e as Error).message}`, e);
      }
    }
    this.agent = new Agent({
      connect: { rejectUnauthorized: !opts.skipVerify, ...(ca !== undefined ? { ca: [...rootCertificates, ca] } : {}), timeout },
      headersTimeout: timeout,
      bodyTimeout: opts.bodyTimeoutMs ?? 60_000,
      connections: opts.connections ?? 8,
    });
  }

  /** Send one request, retrying connection errors, 429 and 5xx; returns the last response. Throws Unavailable when the network fails for good. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const retries = this.opts.backoff?.retries ?? 4;
    const retryable = req.retryable ?? !(req.body !== undefined && !Buffer.isBuffer(req.body));
    const what = `${req.method} ${req.url.host}${req.url.pathname}`;
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await this.once(req);
      } catch (e) {
        if (req.signal?.aborted) throw req.signal.reason ?? e;
        const tls = tlsHint(e);
        if (tls) throw unavailable(`${what}: ${tls}`, e);
        if (!isNetworkError(e)) throw e;
        if (!retryable || attempt >= retries) {
          throw unavailable(`${what}: ${describeNetError(e)}${attempt > 0 ? ` after ${attempt + 1} attempts` : ''}`, e);
        }
        const delay = backoffDelay(attempt, this.opts.backoff ?? {});
        this.log(`${what}: ${describeNetError(e)}, retry ${attempt + 1}/${retries} in ${Math.round(delay)} ms`);
        await sleep(delay, req.signal);
        continue;
      }
      this.log(`${what} -> ${res.statusCode}`);
      if (!RETRY_STATUS.has(res.statusCode) || !retryable || attempt >= retries) return res;
      const retryAfter = headerValue(res.headers, 'retry-after');
      await res.body.dump().catch(() => undefined);
      const delay = backoffDelay(attempt, this.opts.backoff ?? {}, retryAfter);
      this.log(`${what}: HTTP ${res.statusCode}, retry ${attempt + 1}/${retries} in ${Math.round(delay)} ms`);
      await sleep(delay, req.signal);
    }
  }

  private once(req: HttpRequest): Promise<HttpResponse> {
    return this.agent.request({
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

function describeNetError(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string } };
  return err.code ?? err.cause?.code ?? err.message ?? String(e);
}

/** Abandon a response body without an unhandled 'error' (undici emits AbortError on destroy). */
export function discardBody(res: HttpResponse): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}
