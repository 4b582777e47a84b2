// One repository on one registry: resolve tags, fetch verified manifests, stream blobs (resuming after a
// dropped or stalled connection), Range and multi-range reads for lazy mounts (sent again after one), and
// pushes (HEAD skip, cross-repo mount, monolithic or chunked upload, manifest PUT). Streamed blobs and range
// reads retry under the same policy (backoff.ts): one budget per operation, shared by its requests and bodies. https://github.com/opencontainers/distribution-spec/blob/main/spec.md
import { createHash } from 'node:crypto';
import { CtrError, contextLabel, errorAbout, unavailable, type ErrorContext } from '../errors.js';
import { isDigest, sha256Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor } from '../oci/types.js';
import {
  multipartBoundary, parseContentRange, parseMultipartByteRanges, rangeHeader, sliceRanges,
  type ByteRange, type RangePart,
} from './byte-ranges.js';
import type { RetryBudget } from './backoff.js';
import type { RegistryClient } from './client.js';
import { rangesFromFullBody } from './full-body-ranges.js';
import type { OnBytes } from '../content/blob-source.js';
import { discardBody, headerValue, markTransient, type HttpResponse } from './transport.js';
import { MAX_MANIFEST_SIZE } from '../oci/manifest-json.js';

/** Largest manifest or index accepted (containerd uses the same limit). */

/** Accept header for manifests: OCI and Docker, single and multi-platform. */
export const MANIFEST_ACCEPT = [MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest, MediaType.DockerManifestList].join(', ');

/** Tunables of a repository. */
export interface RepositoryOptions {
  /** Blobs up to this size are uploaded in one PUT; larger ones in PATCH chunks of this size. Default 16 MiB. */
  uploadChunkSize?: number;
  /** The path the API lives under (a mirror's `override_path`). Default `/v2`. */
  apiRoot?: string;
  /** For a mirror: the registry it mirrors, sent as `?ns=` as containerd does (Spegel and others route on it). */
  mirrorOf?: string;
}

/** A manifest's verified bytes and its descriptor. */
export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
}

/** What pushBlob did. */
export type PushResult = 'skipped' | 'mounted' | 'uploaded';

/** Options of pushBlob. */
export interface PushBlobOptions {
  /** Another repository on the same registry that may hold the blob (tries `POST ?mount=&from=`). */
  mountFrom?: string;
  signal?: AbortSignal;
}

/** Client for `<registry>/<name>`. */
export class Repository {
  private multiRangeRefused = false;
  private readonly pullScope: string;
  private readonly pushScope: string;

  constructor(readonly client: RegistryClient, readonly name: string, private readonly opts: RepositoryOptions = {}) {
    this.pullScope = `repository:${name}:pull`;
    this.pushScope = `repository:${name}:pull,push`;
  }

  /** `registry/name` for messages. */
  get label(): string {
    return `${this.client.registry}/${this.name}`;
  }

  /** The descriptor of a tag or digest (HEAD, falling back to GET when HEAD is refused or incomplete). Throws NotFound. */
  async resolve(target: string, signal?: AbortSignal): Promise<Descriptor> {
    const { res } = await this.client.request({
      method: 'HEAD', url: this.path('manifests', target), scope: this.pullScope,
      headers: { accept: MANIFEST_ACCEPT }, ...opt(signal),
    });
    await res.body.dump();
    const digest = headerValue(res.headers, 'docker-content-digest');
    const mediaType = stripParams(headerValue(res.headers, 'content-type'));
    const size = Number(headerValue(res.headers, 'content-length'));
    if (res.statusCode === 200 && digest && isDigest(digest) && mediaType && Number.isSafeInteger(size) && size > 0) {
      if (isDigest(target) && digest !== target) throw errorAbout('DigestMismatch', this.about('resolve', target), `registry reports digest ${digest}`);
      if (size > MAX_MANIFEST_SIZE) throw errorAbout('LimitExceeded', this.about('resolve', target), `manifest is ${size} bytes, limit ${MAX_MANIFEST_SIZE}`);
      return { mediaType, digest, size };
    }
    return (await this.fetchManifest(target, signal)).descriptor;
  }

  /** Fetch a manifest/index by descriptor, digest or tag; verifies size limit and digest. */
  async fetchManifest(target: Descriptor | string, signal?: AbortSignal): Promise<FetchedManifest> {
    const desc = typeof target === 'string' ? undefined : target;
    const ref = desc?.digest ?? (target as string);
    const what = this.about('fetch manifest', ref);
    if (desc && desc.size > MAX_MANIFEST_SIZE) throw errorAbout('LimitExceeded', what, `descriptor size ${desc.size} exceeds the ${MAX_MANIFEST_SIZE}-byte manifest limit`);
    const { res } = await this.client.request({
      method: 'GET', url: this.path('manifests', ref), scope: this.pullScope,
      headers: { accept: desc?.mediaType ? `${desc.mediaType}, ${MANIFEST_ACCEPT}` : MANIFEST_ACCEPT }, ...opt(signal),
    });
    if (res.statusCode !== 200) throw await this.client.statusError(res, what, signal);
    const bytes = await readLimited(res, MAX_MANIFEST_SIZE, what, `manifest exceeds the ${MAX_MANIFEST_SIZE}-byte limit`);
    const got = sha256Digest(bytes);
    const want = desc?.digest ?? (isDigest(ref) ? ref : headerValue(res.headers, 'docker-content-digest'));
    if (want !== undefined && want !== got) throw errorAbout('DigestMismatch', what, `content digest ${got} does not match ${want}`);
    const mediaType = desc?.mediaType ?? stripParams(headerValue(res.headers, 'content-type')) ?? jsonMediaType(bytes);
    if (!mediaType) throw errorAbout('Unsupported', what, `no media type in response or manifest`);
    return { descriptor: { mediaType, digest: got, size: bytes.length }, bytes };
  }

  /** True when the manifest with this digest exists in the repository. */
  async hasManifest(digest: string, signal?: AbortSignal): Promise<boolean> {
    const { res } = await this.client.request({
      method: 'HEAD', url: this.path('manifests', digest), scope: this.pullScope, headers: { accept: MANIFEST_ACCEPT }, ...opt(signal),
    });
    await res.body.dump();
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw await this.client.statusError(res, this.about('check manifest', digest), signal);
  }

  /**
   * Stream a blob; a dropped, stalled or short body resumes with a Range request from the last byte, under
   * the retry policy (one budget for the whole download). The caller verifies the digest.
   */
  async fetchBlob(desc: Descriptor, signal?: AbortSignal): Promise<AsyncIterable<Buffer>> {
    const budget = this.client.transport.retryBudget();
    const res = await this.openBlob(desc.digest, 0, budget, signal);
    return this.resumingBody(desc, res, budget, signal);
  }

  private async *resumingBody(desc: Descriptor, first: HttpResponse, budget: RetryBudget, signal?: AbortSignal): AsyncGenerator<Buffer> {
    const what = this.about('fetch blob', desc.digest);
    let res = first;
    let received = 0;
    let skip = 0;
    for (;;) {
      try {
        for await (const raw of res.body) {
          let chunk = raw as Buffer;
          if (skip > 0) {
            const n = Math.min(skip, chunk.length);
            skip -= n;
            chunk = chunk.subarray(n);
            if (chunk.length === 0) continue;
          }
          received += chunk.length;
          if (received > desc.size) throw errorAbout('DigestMismatch', what, `more than the ${desc.size} bytes of its descriptor`);
          yield chunk;
        }
        if (received >= desc.size) return;
        throw markTransient(unavailable(`body ended at ${received} of ${desc.size} bytes`));
      } catch (e) {
        discardBody(res);
        await this.client.transport.retryAfter(e, what, budget, signal, ` at byte ${received} of ${desc.size}`);
      }
      this.client.transport.log(`${contextLabel(what)}: resuming at byte ${received}`);
      res = await this.openBlob(desc.digest, received, budget, signal);
      skip = res.statusCode === 200 ? received : 0;
    }
  }

  private async openBlob(digest: string, from: number, budget: RetryBudget, signal?: AbortSignal): Promise<HttpResponse> {
    const headers: Record<string, string> = from > 0 ? { range: `bytes=${from}-` } : {};
    const { res } = await this.client.request({ method: 'GET', url: this.path('blobs', digest), scope: this.pullScope, headers, retry: budget, ...opt(signal) });
    if (res.statusCode === 200 || (from > 0 && res.statusCode === 206 && parseContentRange(headerValue(res.headers, 'content-range'))?.start === from)) return res;
    throw await this.client.statusError(res, this.about('fetch blob', digest), signal);
  }

  /** Size of a blob from HEAD, or undefined when the registry does not have it (`scope` defaults to pull). */
  async headBlob(digest: string, signal?: AbortSignal, scope = this.pullScope): Promise<number | undefined> {
    const { res } = await this.client.request({ method: 'HEAD', url: this.path('blobs', digest), scope, ...opt(signal) });
    await res.body.dump();
    if (res.statusCode === 404) return undefined;
    const size = Number(headerValue(res.headers, 'content-length'));
    if (res.statusCode === 200 && Number.isSafeInteger(size)) return size;
    throw await this.client.statusError(res, this.about('check blob', digest), signal);
  }

  /** Size of a blob: HEAD, or when HEAD is refused the Content-Range of a `bytes=0-1` GET. Throws NotFound. */
  async blobSize(digest: string, signal?: AbortSignal): Promise<number> {
    let size: number | undefined;
    try {
      size = await this.headBlob(digest, signal);
    } catch (e) {
      if (e instanceof CtrError && (e.code === 'NotFound' || e.code === 'Aborted')) throw e;
      const { res } = await this.client.request({
        method: 'GET', url: this.path('blobs', digest), scope: this.pullScope, headers: { range: 'bytes=0-1' }, ...opt(signal),
      });
      const cr = parseContentRange(headerValue(res.headers, 'content-range'));
      if (res.statusCode === 206 && cr?.size !== undefined) {
        discardBody(res);
        return cr.size;
      }
      throw await this.client.statusError(res, this.about('size of blob', digest), signal);
    }
    if (size === undefined) throw errorAbout('NotFound', this.about('blob', digest), 'blob unknown to registry');
    return size;
  }

  /**
   * Read `length` bytes at `offset` with one Range request, sent again under the retry policy when its
   * body fails (dropped, stalled, short). A 200 answer (Range ignored) is streamed and only the wanted bytes
   * are kept (full-body-ranges.ts).
   */
  async blobRange(digest: string, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    if (length <= 0) return Buffer.alloc(0);
    const what = this.about('read blob', digest, ` bytes ${offset}-${offset + length - 1}`);
    return this.retrying(what, signal, async (retry) => {
      const { res } = await this.client.request({
        method: 'GET', url: this.path('blobs', digest), scope: this.pullScope, headers: { range: rangeHeader([{ offset, length }]) }, retry, ...opt(signal),
      });
      if (res.statusCode === 200) {
        this.client.transport.log(`${contextLabel(what)}: registry ignored the Range header (200); streaming to the range`);
        const [data] = await rangesFromFullBody(res, [{ offset, length }]);
        return data!;
      }
      if (res.statusCode !== 206) throw await this.client.statusError(res, what, signal);
      const cr = parseContentRange(headerValue(res.headers, 'content-range'));
      const data = await readLimited(res, length, what, 'response longer than requested');
      if (cr && cr.start === offset && data.length < cr.end - cr.start + 1) throw markTransient(unavailable(`body ended after ${data.length} of ${cr.end - cr.start + 1} bytes`));
      if (!cr || cr.start !== offset || data.length !== cr.end - cr.start + 1) throw errorAbout('Unavailable', what, `response Content-Range does not match (${headerValue(res.headers, 'content-range') ?? 'none'})`);
      return data;
    });
  }

  /**
   * Read `length` bytes at `offset` with one Range request, handing the body to `onBytes` as it arrives (in
   * order, each byte once). A dropped, stalled or short body is resumed from the next byte under the retry
   * policy; a 200 answer (Range ignored) is streamed to the range and handed over whole.
   */
  async blobRangeStream(digest: string, offset: number, length: number, onBytes: OnBytes, signal?: AbortSignal): Promise<void> {
    if (length <= 0) return;
    const what = this.about('read blob', digest, ` bytes ${offset}-${offset + length - 1}`);
    let got = 0;
    await this.retrying(what, signal, async (retry) => {
      const from = offset + got;
      const want = length - got;
      const { res } = await this.client.request({
        method: 'GET', url: this.path('blobs', digest), scope: this.pullScope, headers: { range: rangeHeader([{ offset: from, length: want }]) }, retry, ...opt(signal),
      });
      if (res.statusCode === 200) {
        this.client.transport.log(`${contextLabel(what)}: registry ignored the Range header (200); streaming to the range`);
        const [data] = await rangesFromFullBody(res, [{ offset: from, length: want }]);
        got += data!.length;
        await onBytes(data!);
        return;
      }
      if (res.statusCode !== 206) throw await this.client.statusError(res, what, signal);
      const cr = parseContentRange(headerValue(res.headers, 'content-range'));
      if (!cr || cr.start !== from || cr.end - cr.start + 1 !== want) {
        discardBody(res);
        throw errorAbout('Unavailable', what, `response Content-Range does not match (${headerValue(res.headers, 'content-range') ?? 'none'})`);
      }
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const take = Math.min(chunk.length, length - got);
        if (take <= 0) break;
        got += take;
        const held = onBytes(take === chunk.length ? chunk : chunk.subarray(0, take));
        if (held) await held; // the taker's back-pressure: the body is not read meanwhile
      }
      if (got < length) throw markTransient(unavailable(`body ended after ${got - (from - offset)} of ${want} bytes`));
    });
  }

  /**
   * The last `length` bytes of a blob and the blob's size, in one request (a suffix Range, `bytes=-N`,
   * whose Content-Range gives the size): a HEAD saved. A registry that ignores the Range (200) or answers
   * without a size gets a HEAD and an ordinary Range read instead; the body of its 200 is not read.
   */
  async blobTail(digest: string, length: number, signal?: AbortSignal): Promise<{ data: Buffer; size: number }> {
    const what = this.about('read blob', digest, ` last ${length} bytes`);
    const direct = await this.retrying(what, signal, async (retry) => {
      const { res } = await this.client.request({
        method: 'GET', url: this.path('blobs', digest), scope: this.pullScope, headers: { range: `bytes=-${length}` }, retry, ...opt(signal),
      });
      const cr = res.statusCode === 206 ? parseContentRange(headerValue(res.headers, 'content-range')) : undefined;
      if (res.statusCode === 200 || (res.statusCode === 206 && cr?.size === undefined)) {
        discardBody(res);
        return undefined;
      }
      if (res.statusCode !== 206 || !cr || cr.size === undefined) throw await this.client.statusError(res, what, signal);
      const want = cr.end - cr.start + 1;
      const data = await readLimited(res, want, what, 'response longer than its Content-Range');
      if (data.length < want) throw markTransient(unavailable(`body ended after ${data.length} of ${want} bytes`));
      if (cr.end !== cr.size - 1 || want > length) throw errorAbout('Unavailable', what, `response Content-Range is not the blob's tail (${headerValue(res.headers, 'content-range') ?? 'none'})`);
      return { data, size: cr.size };
    });
    if (direct) return direct;
    const size = await this.blobSize(digest, signal);
    const start = Math.max(0, size - length);
    return { data: await this.blobRange(digest, start, size - start, signal), size };
  }

  /**
   * Read several ranges with one multi-range request (multipart/byteranges), sent again under the retry
   * policy when its body fails. Falls back to one covering range when the registry refuses multi-range
   * (400/416); a 200 full body is streamed, keeping only the ranges.
   */
  async blobRanges(digest: string, ranges: readonly ByteRange[], signal?: AbortSignal): Promise<Buffer[]> {
    const wanted = ranges.filter((r) => r.length > 0);
    if (wanted.length === 0) return ranges.map(() => Buffer.alloc(0));
    if (wanted.length === 1) return fill(ranges, [await this.blobRange(digest, wanted[0]!.offset, wanted[0]!.length, signal)]);
    if (this.multiRangeRefused) return fill(ranges, await this.coveringRange(digest, wanted, signal));
    const what = this.about('read blob', digest, ` (${wanted.length} ranges)`);
    const got = await this.retrying(what, signal, async (retry) => {
      const { res } = await this.client.request({
        method: 'GET', url: this.path('blobs', digest), scope: this.pullScope, headers: { range: rangeHeader(wanted) }, retry, ...opt(signal),
      });
      if (res.statusCode === 400 || res.statusCode === 416) {
        await res.body.dump();
        this.multiRangeRefused = true;
        this.client.transport.log(`${contextLabel(what)}: multi-range refused (HTTP ${res.statusCode}), using one covering range`);
        return undefined;
      }
      if (res.statusCode === 200) return rangesFromFullBody(res, wanted);
      if (res.statusCode !== 206) throw await this.client.statusError(res, what, signal);
      // bounded: the span the ranges cover plus room for the part headers (a registry may answer one covering range)
      const span = Math.max(...wanted.map((r) => r.offset + r.length)) - Math.min(...wanted.map((r) => r.offset));
      const body = await readLimited(res, span + wanted.length * 1024 + (64 << 10), what, 'response longer than the ranges asked for');
      const declared = Number(headerValue(res.headers, 'content-length'));
      if (Number.isSafeInteger(declared) && body.length < declared) throw markTransient(unavailable(`body ended after ${body.length} of ${declared} bytes`));
      let parts: RangePart[];
      const boundary = multipartBoundary(headerValue(res.headers, 'content-type'));
      const cr = parseContentRange(headerValue(res.headers, 'content-range'));
      if (boundary) parts = parseMultipartByteRanges(body, boundary);
      else if (cr) parts = [{ offset: cr.start, data: body }];
      else throw errorAbout('Unavailable', what, `206 without Content-Range or multipart body`);
      return sliceRanges(parts, wanted);
    });
    return fill(ranges, got ?? (await this.coveringRange(digest, wanted, signal)));
  }

  private async coveringRange(digest: string, wanted: readonly ByteRange[], signal?: AbortSignal): Promise<Buffer[]> {
    const start = Math.min(...wanted.map((r) => r.offset));
    const end = Math.max(...wanted.map((r) => r.offset + r.length));
    const data = await this.blobRange(digest, start, end - start, signal);
    return sliceRanges([{ offset: start, data }], wanted);
  }

  /** Run one exchange (request + body read) of the operation `what`, again under the retry policy while it fails transiently. */
  private async retrying<T>(what: ErrorContext, signal: AbortSignal | undefined, exchange: (budget: RetryBudget) => Promise<T>): Promise<T> {
    const budget = this.client.transport.retryBudget();
    for (;;) {
      try {
        return await exchange(budget);
      } catch (e) {
        await this.client.transport.retryAfter(e, what, budget, signal);
      }
    }
  }

  /** Upload a blob unless present; tries a cross-repository mount first when `mountFrom` is given. */
  async pushBlob(desc: Descriptor, content: AsyncIterable<Buffer> | Buffer, opts: PushBlobOptions = {}): Promise<PushResult> {
    const { signal } = opts;
    if ((await this.headBlob(desc.digest, signal, this.pushScope)) !== undefined) return 'skipped';
    const what = this.about('push blob', desc.digest);
    const mount = opts.mountFrom !== undefined && opts.mountFrom !== this.name;
    const start = new URL(this.path('blobs', 'uploads/'), this.client.base);
    if (mount) {
      start.searchParams.set('mount', desc.digest);
      start.searchParams.set('from', opts.mountFrom!);
    }
    const scope = mount ? `${this.pushScope} repository:${opts.mountFrom}:pull` : this.pushScope;
    const { res } = await this.client.request({ method: 'POST', url: start, scope, headers: { 'content-length': '0' }, ...opt(signal) });
    if (res.statusCode === 201 && mount) {
      await res.body.dump();
      return 'mounted';
    }
    if (res.statusCode !== 202) throw await this.client.statusError(res, what, signal);
    await res.body.dump();
    const location = this.uploadLocation(res, what);
    const chunk = this.opts.uploadChunkSize ?? 16 << 20;
    if (desc.size <= chunk) await this.putMonolithic(desc, location, await collect(content, desc, what), signal);
    else await this.putChunked(desc, location, content, chunk, signal);
    return 'uploaded';
  }

  private async putMonolithic(desc: Descriptor, location: URL, data: Buffer, signal?: AbortSignal): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', desc.digest);
    const { res } = await this.client.request({
      method: 'PUT', url, scope: this.pushScope, body: data,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) }, ...opt(signal),
    });
    if (res.statusCode !== 201) throw await this.client.statusError(res, this.about('push blob', desc.digest), signal);
    await res.body.dump();
  }

  private async putChunked(desc: Descriptor, location: URL, content: AsyncIterable<Buffer> | Buffer, chunk: number, signal?: AbortSignal): Promise<void> {
    const what = this.about('push blob', desc.digest);
    const hash = createHash('sha256');
    let url = location;
    let offset = 0;
    for await (const piece of rechunk(content, chunk)) {
      hash.update(piece);
      if (offset + piece.length > desc.size) throw errorAbout('DigestMismatch', what, `content longer than the descriptor size ${desc.size}`);
      const { res } = await this.client.request({
        method: 'PATCH', url, scope: this.pushScope, body: piece, retryable: false,
        headers: {
          'content-type': 'application/octet-stream', 'content-length': String(piece.length),
          'content-range': `${offset}-${offset + piece.length - 1}`,
        }, ...opt(signal),
      });
      if (res.statusCode !== 202) throw await this.client.statusError(res, { ...what, subject: `${what.subject} (chunk at ${offset})` }, signal);
      await res.body.dump();
      url = this.uploadLocation(res, what);
      offset += piece.length;
    }
    const got = `sha256:${hash.digest('hex')}`;
    if (offset !== desc.size || got !== desc.digest) {
      await this.client.request({ method: 'DELETE', url, scope: this.pushScope, ...opt(signal) }).then((r) => r.res.body.dump(), () => undefined);
      throw errorAbout('DigestMismatch', what, `content is ${offset} bytes with digest ${got}, descriptor says ${desc.size} bytes ${desc.digest}`);
    }
    await this.putMonolithic(desc, url, Buffer.alloc(0), signal);
  }

  /** Store a manifest (by digest, or under `tag` when given); verifies its digest first. */
  async pushManifest(desc: Descriptor, bytes: Buffer, tag?: string, signal?: AbortSignal): Promise<void> {
    const what = this.about('push manifest', tag ?? desc.digest);
    const got = sha256Digest(bytes);
    if (got !== desc.digest || bytes.length !== desc.size) throw errorAbout('DigestMismatch', what, `bytes have digest ${got} (${bytes.length} bytes), descriptor says ${desc.digest} (${desc.size} bytes)`);
    if (bytes.length > MAX_MANIFEST_SIZE) throw errorAbout('LimitExceeded', what, `manifest is ${bytes.length} bytes, limit ${MAX_MANIFEST_SIZE}`);
    const { res } = await this.client.request({
      method: 'PUT', url: this.path('manifests', tag ?? desc.digest), scope: this.pushScope, body: bytes,
      headers: { 'content-type': desc.mediaType, 'content-length': String(bytes.length) }, ...opt(signal),
    });
    if (res.statusCode !== 201 && res.statusCode !== 200) throw await this.client.statusError(res, what, signal);
    await res.body.dump();
    const echoed = headerValue(res.headers, 'docker-content-digest');
    if (echoed && echoed !== desc.digest) throw errorAbout('DigestMismatch', what, `registry stored it as ${echoed}`);
  }

  private uploadLocation(res: HttpResponse, what: ErrorContext): URL {
    const loc = headerValue(res.headers, 'location');
    if (!loc) throw errorAbout('Unavailable', what, `registry gave no upload Location`);
    return new URL(loc, this.client.base);
  }

  private path(kind: 'manifests' | 'blobs', ref: string): string {
    const ns = this.opts.mirrorOf ? `?ns=${encodeURIComponent(this.opts.mirrorOf)}` : '';
    return `${this.opts.apiRoot ?? '/v2'}/${this.name}/${kind}/${ref}${ns}`;
  }

  /** The context of an operation `op` on the tag or digest `target` (`part`: which bytes of it, printed after). */
  private about(op: string, target: string, part = ''): ErrorContext {
    return { op, subject: `${this.ref(target)}${part}` };
  }

  private ref(target: string): string {
    return isDigest(target) ? `${this.label}@${target}` : `${this.label}:${target}`;
  }
}

const opt = (signal?: AbortSignal) => (signal ? { signal } : {});

function stripParams(ct: string | undefined): string | undefined {
  const v = ct?.split(';')[0]?.trim();
  return v ? v : undefined;
}

function jsonMediaType(bytes: Buffer): string | undefined {
  try {
    const mt = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    return typeof mt === 'string' ? mt : undefined;
  } catch {
    return undefined;
  }
}

function fill(ranges: readonly ByteRange[], got: Buffer[]): Buffer[] {
  let i = 0;
  return ranges.map((r) => (r.length > 0 ? got[i++]! : Buffer.alloc(0)));
}

/** Read a response body, failing with LimitExceeded past `limit` bytes. */
async function readLimited(res: HttpResponse, limit: number, what: ErrorContext, detail: string): Promise<Buffer> {
  const declared = Number(headerValue(res.headers, 'content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    discardBody(res);
    throw errorAbout('LimitExceeded', what, detail);
  }
  if (Number.isSafeInteger(declared) && declared >= 0) {
    // the size is known: the pieces go straight into one buffer as they come, so the body costs its size, not
    // twice that at the end (the pieces and their concatenation: 8 MiB for each 4 MiB background batch)
    const out = Buffer.allocUnsafe(declared);
    let n = 0;
    for await (const c of res.body) {
      const piece = c as Buffer;
      if (n + piece.length > declared) {
        discardBody(res);
        throw errorAbout('Unavailable', what, `response longer than its Content-Length (${declared} bytes)`);
      }
      piece.copy(out, n);
      n += piece.length;
    }
    return n === declared ? out : out.subarray(0, n); // short: the caller says so (it knows what it asked for)
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > limit) {
      discardBody(res);
      throw errorAbout('LimitExceeded', what, detail);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

async function collect(content: AsyncIterable<Buffer> | Buffer, desc: Descriptor, what: ErrorContext): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of Buffer.isBuffer(content) ? [content] : content) {
    n += c.length;
    if (n > desc.size) throw errorAbout('DigestMismatch', what, `content longer than the descriptor size ${desc.size}`);
    chunks.push(c);
  }
  const data = Buffer.concat(chunks);
  const got = sha256Digest(data);
  if (got !== desc.digest || data.length !== desc.size) throw errorAbout('DigestMismatch', what, `content is ${data.length} bytes with digest ${got}, descriptor says ${desc.size} bytes ${desc.digest}`);
  return data;
}

/** Regroup a stream into buffers of exactly `size` bytes (the last one shorter). */
async function* rechunk(content: AsyncIterable<Buffer> | Buffer, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let n = 0;
  for await (const c of Buffer.isBuffer(content) ? [content] : content) {
    let rest = c;
    while (n + rest.length >= size) {
      const take = size - n;
      pending.push(rest.subarray(0, take));
      yield Buffer.concat(pending);
      pending = [];
      n = 0;
      rest = rest.subarray(take);
    }
    if (rest.length > 0) {
      pending.push(rest);
      n += rest.length;
    }
  }
  if (n > 0) yield Buffer.concat(pending);
}
