// One registry endpoint: base URL (https, or http for --plain-http and loopback hosts), the transport and
// the authorizer, and the request loop that adds auth, answers 401 challenges once, follows redirects
// itself (Authorization only ever sent to the registry's own origin) and re-resolves expired redirects.
import { CtrError, errorAbout, type ErrorCode, type ErrorContext } from '../errors.js';
import { Authorizer, markCredentialsRejected, type CredentialOptions } from './auth.js';
import type { RetryBudget } from './backoff.js';
import { isLocalHost, registryHost } from './reference.js';
import { Transport, discardBody, headerValue, type HttpResponse, type TransportOptions } from './transport.js';

/** Options of one registry client. */
export interface ClientOptions extends TransportOptions, CredentialOptions {
  /**
   * true: talk plain HTTP (`--plain-http`, an `http://` host of hosts.toml); false: https (an `https://`
   * host of hosts.toml). Default: https, except loopback hosts (http, switching to https when the registry speaks TLS).
   */
  plainHttp?: boolean;
  /** Headers sent with every request to the registry (a hosts.toml `header`). Default none. */
  headers?: Record<string, string>;
}

/** One request through the client. `url` may be a path (`/v2/...`) relative to the registry. */
export interface ClientRequest {
  method: string;
  url: string | URL;
  /** Token scope, e.g. `repository:library/busybox:pull`. */
  scope: string;
  headers?: Record<string, string>;
  body?: Buffer | AsyncIterable<Buffer>;
  retryable?: boolean;
  /** The retry budget of the operation (shared with retries of the body read). Default: one per request. */
  retry?: RetryBudget;
  signal?: AbortSignal;
}

const MAX_REDIRECTS = 5;
const MAX_ERROR_BODY = 64 * 1024;

/** HTTP client of one registry: auth, redirects, retries. */
export class RegistryClient {
  /** `http(s)://host[:port]` of the registry API; a loopback registry found to speak TLS switches to https. */
  base: URL;
  readonly transport: Transport;
  readonly auth: Authorizer;
  /** True while the scheme of a loopback registry is the automatic http guess, not yet confirmed. */
  private probingLocalScheme: boolean;
  private readonly extraHeaders: Record<string, string>;

  constructor(readonly registry: string, opts: ClientOptions = {}) {
    const local = isLocalHost(registry);
    const scheme = opts.plainHttp === true || (local && opts.plainHttp === undefined) ? 'http' : 'https';
    this.probingLocalScheme = local && opts.plainHttp === undefined;
    this.base = new URL(`${scheme}://${registryHost(registry)}`);
    this.extraHeaders = { ...opts.headers };
    this.transport = new Transport(opts);
    this.auth = new Authorizer(this.transport, registry, opts);
  }

  /** Send a request; returns the final response (the caller consumes its body) and the URL that answered. */
  async request(req: ClientRequest): Promise<{ res: HttpResponse; url: URL }> {
    const sentTo = this.base;
    const out = await this.requestOnce(req);
    if (out.url.origin !== sentTo.origin) return out;
    if (this.probingLocalScheme) {
      if (!(await this.answeredByTlsServer(out.res))) {
        this.probingLocalScheme = false;
        return out;
      }
      // Like containerd: loopback registries default to plain HTTP, but one that answers with TLS gets https.
      this.probingLocalScheme = false;
      this.base = new URL(`https://${registryHost(this.registry)}`);
      this.transport.log(`${this.registry} speaks TLS; switching to https`);
    } else if (sentTo.protocol === 'http:' && this.base.protocol === 'https:' && isTlsServerAnswer(out.res)) {
      // sent while a concurrent request found that the registry speaks TLS: send it again over https
      await out.res.body.dump();
    } else {
      return out;
    }
    if (req.body !== undefined && !Buffer.isBuffer(req.body)) throw new CtrError('Unavailable', `${this.registry} speaks TLS, not plain HTTP: retry the operation`);
    const url = new URL(req.url, 'http://x');
    return this.requestOnce({ ...req, url: new URL(url.pathname + url.search, this.base) });
  }

  /** Go's TLS servers answer plain HTTP with a header-less `HTTP/1.0 400` ("Client sent an HTTP request to an HTTPS server"). */
  private async answeredByTlsServer(res: HttpResponse): Promise<boolean> {
    if (!isTlsServerAnswer(res)) return false;
    await res.body.dump();
    return true;
  }

  private async requestOnce(req: ClientRequest): Promise<{ res: HttpResponse; url: URL }> {
    const first = new URL(req.url, this.base);
    let url = first;
    let method = req.method;
    let body = req.body;
    let authRetried = false;
    let reResolved = false;
    for (let hops = 0; ; ) {
      const own = url.origin === this.base.origin;
      const headers: Record<string, string> = { ...(own ? this.extraHeaders : {}), ...req.headers };
      if (own) {
        const h = await this.auth.header(req.scope, req.signal);
        if (h) headers['authorization'] = h;
      }
      const res = await this.transport.send({
        method, url, headers, ...(body !== undefined ? { body } : {}),
        ...(req.retryable !== undefined ? { retryable: req.retryable } : {}), ...(req.retry ? { retry: req.retry } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
      });
      if (res.statusCode === 401 && own && !authRetried) {
        authRetried = true;
        const canRetry = await this.auth.onUnauthorized(headerValue(res.headers, 'www-authenticate'), req.scope, headers['authorization'], req.signal);
        if (canRetry && (body === undefined || Buffer.isBuffer(body))) {
          await res.body.dump();
          continue;
        }
      }
      const location = headerValue(res.headers, 'location');
      if (res.statusCode >= 300 && res.statusCode < 400 && res.statusCode !== 304 && location) {
        await res.body.dump();
        if (++hops > MAX_REDIRECTS) throw errorAbout('Unavailable', { op: req.method, subject: first.pathname }, `more than ${MAX_REDIRECTS} redirects`);
        url = new URL(location, url);
        this.transport.log(`redirect to ${url.host}${url.pathname}`);
        if (res.statusCode === 303) {
          method = method === 'HEAD' ? 'HEAD' : 'GET';
          body = undefined;
        }
        continue;
      }
      if (res.statusCode === 403 && url !== first && !reResolved && (method === 'GET' || method === 'HEAD')) {
        // A pre-signed redirect URL expired: ask the registry again for a fresh one.
        await res.body.dump();
        reResolved = true;
        url = first;
        continue;
      }
      return { res, url };
    }
  }

  /** Turn an unexpected response into a CtrError naming the operation (consumes the body). */
  async statusError(res: HttpResponse, what: ErrorContext, signal?: AbortSignal): Promise<CtrError> {
    const detail = await registryErrorMessage(res);
    const code = statusCode(res.statusCode);
    let msg = detail ?? httpReason(res.statusCode);
    let rejected = false;
    if (isTlsServerAnswer(res)) msg = 'the registry speaks HTTPS (it answered plain HTTP with a bare 400); drop --plain-http';
    else if (res.statusCode === 401) {
      const why = await this.auth.explainRejection(headerValue(res.headers, 'www-authenticate'), signal);
      msg = `unauthorized: ${why.reason}`;
      rejected = why.rejected;
    } else if (res.statusCode === 403) msg = `denied${detail ? `: ${detail}` : ''}`;
    const e = errorAbout(code, what, msg);
    return rejected ? markCredentialsRejected(e) : e;
  }

  /** Close connections. */
  close(): Promise<void> {
    return this.transport.close();
  }
}

/** A bare `400` without any header: what Go's TLS server sends to a plain-HTTP client (registries always send headers). */
function isTlsServerAnswer(res: HttpResponse): boolean {
  return res.statusCode === 400 && Object.keys(res.headers).length === 0;
}

function statusCode(status: number): ErrorCode {
  if (status === 401 || status === 403) return 'Unauthorized';
  if (status === 404) return 'NotFound';
  if (status === 429 || status >= 500) return 'Unavailable';
  if (status === 413) return 'LimitExceeded';
  if (status >= 400) return 'InvalidArgument';
  return 'Internal';
}

function httpReason(status: number): string {
  if (status === 404) return 'not found';
  if (status === 429) return 'too many requests (HTTP 429)';
  if (status >= 500) return `registry unavailable (HTTP ${status})`;
  return `unexpected HTTP ${status}`;
}

/** The first message of a distribution error body (`{"errors":[{"code","message"}]}`), if any. */
async function registryErrorMessage(res: HttpResponse): Promise<string | undefined> {
  let text = '';
  try {
    for await (const chunk of res.body) {
      text += (chunk as Buffer).toString('utf8');
      if (text.length > MAX_ERROR_BODY) break;
    }
  } catch {
    return undefined;
  } finally {
    discardBody(res);
  }
  try {
    const j = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const e = j.errors?.[0];
    return e ? (e.message || e.code?.toLowerCase().replace(/_/g, ' ')) : undefined;
  } catch {
    return undefined;
  }
}
