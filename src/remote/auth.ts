// Registry authentication: anonymous, Basic, and the bearer-token flow driven by WWW-Authenticate
// (token fetched from the realm per scope, cached until it expires, refreshed once on a 401). With a
// refresh token (`--refresh`), tokens come from the OAuth2 form POST to the realm (grant_type
// refresh_token), falling back to the GET flow with the token as the Basic secret where the token server
// has no POST endpoint (404, 405, 400, 401), as containerd does.
// https://distribution.github.io/distribution/spec/auth/token/
// https://distribution.github.io/distribution/spec/auth/oauth/
import { CtrError, unauthorized, unavailable } from '../errors.js';
import { loadDockerCredentials, type Credentials } from './docker-config.js';
import { parseWwwAuthenticate, type Challenge } from './www-authenticate.js';
import type { Transport } from './transport.js';

/** Where credentials come from: explicit `-u`, else the Docker config (dir override), else none. */
export interface CredentialOptions {
  username?: string;
  password?: string;
  dockerConfigDir?: string;
  /** `--refresh TOKEN`: an OAuth2 refresh token for the token server; replaces the other credentials. Default none. */
  refreshToken?: string;
}

/** The client_id we send in OAuth2 token requests (containerd sends "containerd-client"). */
const OAUTH_CLIENT_ID = 'ctr-remote';
/** Answers of a token server without the OAuth2 POST endpoint, after which the GET flow is tried. */
const NO_OAUTH_POST = new Set([400, 401, 404, 405]);

interface CachedToken {
  token: string;
  expiresAt: number;
}

const MAX_TOKEN_BYTES = 1 << 20;

/** Unauthorized errors for which the registry refused the credentials given (rather than finding none). */
const rejectedCredentials = new WeakSet<object>();

/** Mark `e` as the registry refusing the credentials it was given; returns it. */
export function markCredentialsRejected<E extends object>(e: E): E {
  rejectedCredentials.add(e);
  return e;
}

/** True when `e`, or an error it wraps, says that the registry refused the credentials given. */
export function credentialsRejected(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; typeof cur === 'object' && cur !== null && depth < 8; cur = (cur as { cause?: unknown }).cause, depth++) {
    if (rejectedCredentials.has(cur)) return true;
  }
  return false;
}

/** Why the registry answered 401, in words, and whether it refused credentials we sent. */
export interface Rejection {
  reason: string;
  /** Credentials were given and refused (false: none were given, or they lack access to this repository). */
  rejected: boolean;
}

/** Holds one registry's credentials, its last challenge and the bearer tokens per scope. */
export class Authorizer {
  private challenge: Challenge | undefined;
  /** Tokens per scope; a pending fetch is shared by concurrent requests. */
  private readonly tokens = new Map<string, Promise<CachedToken>>();
  private creds: Promise<Credentials | undefined> | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly registry: string,
    private readonly opts: CredentialOptions = {},
  ) {}

  /** The credentials that will be used (explicit first, then the Docker config); loaded once. */
  credentials(signal?: AbortSignal): Promise<Credentials | undefined> {
    this.creds ??= this.opts.refreshToken !== undefined
      ? Promise.resolve({ username: '', password: this.opts.refreshToken })
      : this.opts.username !== undefined
      ? Promise.resolve({ username: this.opts.username, password: this.opts.password ?? '' })
      : loadDockerCredentials(this.registry, this.opts.dockerConfigDir, signal);
    return this.creds;
  }

  /** The Authorization header for a request needing `scope`, when a challenge has been seen. */
  async header(scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') {
      const c = await this.credentials(signal);
      return c ? basicHeader(c) : undefined;
    }
    if (ch.scheme !== 'bearer') return undefined;
    const cached = await this.tokens.get(scope)?.catch(() => undefined);
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
    return `Bearer ${(await this.fetchToken(ch, scope, signal)).token}`;
  }

  /**
   * React to a 401 of a request sent with Authorization `sent`: remember the challenge and get a new token
   * unless a concurrent request already did; true when a retry may succeed.
   */
  async onUnauthorized(wwwAuthenticate: string | undefined, scope: string, sent: string | undefined, signal?: AbortSignal): Promise<boolean> {
    const ch = parseWwwAuthenticate(wwwAuthenticate ?? '').find((c) => c.scheme === 'bearer' || c.scheme === 'basic');
    if (!ch) return false;
    this.challenge = ch;
    if (ch.scheme === 'basic') return (await this.credentials(signal)) !== undefined;
    const current = await this.tokens.get(scope)?.catch(() => undefined);
    if (current && `Bearer ${current.token}` !== sent && current.expiresAt > Date.now()) return true;
    this.tokens.delete(scope);
    await this.fetchToken(ch, scope, signal);
    return true;
  }

  /** Why a final 401 (given its WWW-Authenticate) happened, without revealing secrets. */
  async explainRejection(wwwAuthenticate: string | undefined, signal?: AbortSignal): Promise<Rejection> {
    const c = await this.credentials(signal).catch(() => undefined);
    const error = parseWwwAuthenticate(wwwAuthenticate ?? '').find((ch) => ch.scheme === 'bearer')?.params['error'];
    if (error === 'insufficient_scope') {
      // Docker Hub answers this for repositories that do not exist as well as for private ones.
      const reason = `access denied: the repository does not exist or ${c ? 'these credentials may not access it' : `requires authorization (no credentials for ${this.registry}; use -u or docker login)`}`;
      return { reason, rejected: false };
    }
    return c ? { reason: 'credentials rejected', rejected: true } : { reason: `authentication required (no credentials for ${this.registry}; use -u or docker login)`, rejected: false };
  }

  private fetchToken(ch: Challenge, scope: string, signal?: AbortSignal): Promise<CachedToken> {
    const pending = this.tokens.get(scope);
    if (pending) return pending.then((t) => (t.expiresAt > Date.now() ? t : this.startFetch(ch, scope, signal)));
    return this.startFetch(ch, scope, signal);
  }

  private startFetch(ch: Challenge, scope: string, signal?: AbortSignal): Promise<CachedToken> {
    const p = this.requestToken(ch, scope, signal);
    this.tokens.set(scope, p);
    p.catch(() => {
      if (this.tokens.get(scope) === p) this.tokens.delete(scope);
    });
    return p;
  }

  private async requestToken(ch: Challenge, scope: string, signal?: AbortSignal): Promise<CachedToken> {
    const realm = ch.params['realm'];
    if (!realm) throw unauthorized(`registry ${this.registry}: bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch (e) {
      throw unauthorized(`registry ${this.registry}: bearer realm ${JSON.stringify(realm)} is not a URL`, e);
    }
    const scopes = [...new Set([...scope.split(' '), ...(ch.params['scope'] ?? '').split(' ')])].filter((s) => s !== '');
    if (this.opts.refreshToken !== undefined) {
      const viaPost = await this.requestOAuthToken(url, ch.params['service'], scopes, this.opts.refreshToken, signal);
      if (viaPost) return viaPost;
    }
    if (ch.params['service']) url.searchParams.set('service', ch.params['service']);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { accept: 'application/json' };
    const creds = await this.credentials(signal);
    if (creds) headers['authorization'] = basicHeader(creds);
    const res = await this.transport.send({ method: 'GET', url, headers, ...(signal ? { signal } : {}) });
    const body = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode === 401 || res.statusCode === 403) {
      const e = unauthorized(`registry ${this.registry}: token server ${url.host} refused: ${creds ? 'credentials rejected' : 'authentication required'} (HTTP ${res.statusCode})`);
      throw creds ? markCredentialsRejected(e) : e;
    }
    if (res.statusCode !== 200) throw unavailable(`registry ${this.registry}: token server ${url.host} answered HTTP ${res.statusCode}`);
    return parseTokenResponse(body, url.host, Date.now());
  }

  /** Exchange a refresh token at `realm` (OAuth2 form POST); undefined when the server has no such endpoint. */
  private async requestOAuthToken(realm: URL, service: string | undefined, scopes: string[], refreshToken: string, signal?: AbortSignal): Promise<CachedToken | undefined> {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: OAUTH_CLIENT_ID });
    if (service) form.set('service', service);
    if (scopes.length > 0) form.set('scope', scopes.join(' '));
    const res = await this.transport.send({
      method: 'POST', url: realm, body: Buffer.from(form.toString()),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, ...(signal ? { signal } : {}),
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    if (NO_OAUTH_POST.has(res.statusCode)) return undefined;
    if (res.statusCode === 403) throw markCredentialsRejected(unauthorized(`registry ${this.registry}: token server ${realm.host} refused the refresh token (HTTP 403)`));
    if (res.statusCode !== 200) throw unavailable(`registry ${this.registry}: token server ${realm.host} answered HTTP ${res.statusCode}`);
    return parseTokenResponse(body, realm.host, Date.now());
  }
}

function parseTokenResponse(body: Buffer, host: string, now: number): CachedToken {
  if (body.length > MAX_TOKEN_BYTES) throw new CtrError('LimitExceeded', `token server ${host}: response larger than 1 MiB`);
  let j: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    j = JSON.parse(body.toString('utf8')) as typeof j;
  } catch (e) {
    throw unavailable(`token server ${host}: malformed JSON response`, e);
  }
  const token = typeof j.token === 'string' && j.token ? j.token : typeof j.access_token === 'string' ? j.access_token : '';
  if (!token) throw unavailable(`token server ${host}: response has no token`);
  const ttl = typeof j.expires_in === 'number' && j.expires_in > 0 ? j.expires_in : 60;
  return { token, expiresAt: now + Math.max(1, ttl - 10) * 1000 };
}

function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

