// Fetching a layer's TOC from a registry in as few round trips as possible (the footer and, for most
// layers, the whole TOC come in the first request), verifying it and keeping the blob's tail, so a mount
// needs no other request to open the TOC again. Used by rpull and by the layer service's check of a remote
// layer. https://github.com/containerd/stargz-snapshotter/blob/main/docs/estargz.md
import type { RangeReader } from '../content/range-reader.js';
import { isCtrError, withContext } from '../errors.js';
import { openEStargz, type EStargzReader } from '../estargz/reader.js';
import type { TocSummary } from '../estargz/toc-limits.js';
import { BlobRangeReader } from '../remote/blob-range-reader.js';
import type { Repository } from '../remote/repository.js';
import { writeLayerTail } from '../store/layer-tails.js';
import type { RootLayout } from '../store/root-layout.js';

/** The layer whose TOC to fetch. */
export interface LayerToFetch {
  digest: string;
  /** Blob size, when the descriptor gives it (else asked of the registry). */
  size?: number;
  /** The toc.digest annotation: what the TOC must hash to. */
  tocDigest?: string | undefined;
}

/** Options of fetchLayerToc. */
export interface FetchTocOptions {
  /** Accept a TOC that does not match `tocDigest`. Default false. */
  skipContentVerify?: boolean;
  /** Bytes of TOC and footer expected at the blob's end (a toc.tail-size annotation, WARM_TAIL_GUESS): the first request reads them and HEAD_SLACK more. Default: TAIL_GUESS in all. */
  tailGuess?: number;
  /** Told the TOC's JSON once it is verified, before it is parsed, with the blob's size (OpenEStargzOptions.onTocJson). */
  onTocJson?: (json: Buffer, blobSize: number) => Promise<void> | void;
  signal?: AbortSignal;
}

/**
 * A verified TOC (its digest, what it declares, the blob's size, and the opened blob, so that a mount soon
 * after needs no second parse of it), or why the blob is not eStargz.
 */
export type FetchedToc = {
  tocDigest: string;
  summary: TocSummary;
  size: number;
  opened: EStargzReader;
  /** Settles when the blob's tail is saved (written beside what follows: a caller that ends soon awaits it). */
  tailSaved: Promise<void>;
} | { notEStargz: string };

/**
 * Read a layer's footer + TOC by Range, verify the TOC against `layer.tocDigest` (unless `skipContentVerify`),
 * start saving the blob's tail (store/layer-tails.ts; `tailSaved`); returns the TOC digest, what it declares and the blob size,
 * or why the blob is not eStargz (its footer or TOC do not parse, or it is over a limit of lazy mounting).
 * A failure of the registry (what the client's retries did not cure) or of the verification is thrown: it
 * says nothing about the format.
 */
export async function fetchLayerToc(paths: RootLayout, repository: Repository, layer: LayerToFetch, options: FetchTocOptions = {}): Promise<FetchedToc> {
  const want = layer.tocDigest;
  // the blob's size unknown: its tail and its size come in one request (no HEAD first)
  // a guess from the layer's annotation covers exactly its TOC and footer: with the few bytes before the TOC
  // that the saved tail starts with (HEAD_SLACK), or saving it would cost a request
  const guess = options.tailGuess !== undefined ? options.tailGuess + HEAD_SLACK : TAIL_GUESS;
  const first = layer.size === undefined ? await repository.blobTail(layer.digest, guess, options.signal) : undefined;
  const remote = new BlobRangeReader(repository, layer.digest, first?.size ?? (layer.size as number));
  const reader = new TailFirstReader(remote, guess, first?.data);
  let opened: Awaited<ReturnType<typeof openEStargz>>;
  try {
    const onTocJson = options.onTocJson;
    opened = await openEStargz(reader, {
      ...(options.skipContentVerify ? {} : { tocDigest: want }),
      ...(onTocJson ? { onTocJson: (json: Buffer) => onTocJson(json, remote.size) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (e) {
    if (reader.failure !== undefined) throw withContext({ op: 'reading its TOC' }, reader.failure);
    if (isCtrError(e, 'DigestMismatch') || isCtrError(e, 'Aborted') || options.signal?.aborted) throw e;
    if (isCtrError(e, 'LimitExceeded')) return { notEStargz: `eStargz over a limit of lazy mounting: ${e.message}` };
    return { notEStargz: `not a readable eStargz blob: ${e instanceof Error ? e.message : String(e)}` };
  }
  // keep at least the last MIN_TAIL bytes: the reader's first read of a blob looks at that many
  const size = remote.size;
  const start = Math.max(0, Math.min(opened.tocOffset - 8, size - MIN_TAIL));
  // saved beside the caller's next steps (two fsyncs: ~10-20 ms that a Prepare need not wait for; the mount
  // that follows takes the opened TOC, and a tail not saved yet is fetched again)
  const tailSaved = reader.readAt(start, size - start).then((tail) => writeLayerTail(paths, layer.digest, tail));
  tailSaved.catch(() => undefined); // a caller that does not await it is not failed by it
  return { tocDigest: opened.tocDigest, summary: opened.summary, size, opened, tailSaved };
}

/** Bytes fetched before the TOC, so that the tail saved afterwards is in memory: in the first request when a tail guess is given, else in the second one of a TOC larger than TAIL_GUESS. */
const HEAD_SLACK = 64;

/** Smallest tail saved for a lazy layer (covers the largest footer the reader probes for). */
const MIN_TAIL = 64;

/**
 * Bytes read from the end of a blob in the first request: the footer and, for layers of up to a few
 * hundred files, the whole TOC. At 100 Mbit/s 64 KiB cost ~5 ms, a second round trip ~20 ms.
 */
export const TAIL_GUESS = 64 << 10;

/**
 * Bytes read from the end of a blob whose TOC is fetched ahead of its check (LayerService.warm): the footer
 * and a small TOC. These fetches run beside the check of the layer containerd prepares first and share its
 * link: 64 KiB each of five 100 MB layers whose TOCs are 3 KB delayed that check by ~20 ms at 100 Mbit/s.
 * A larger TOC costs one more request, made ahead of need.
 */
export const WARM_TAIL_GUESS = 16 << 10;

/**
 * A RangeReader for opening a remote TOC in as few round trips as possible: the first read fetches the
 * last `guess` bytes, and every read inside them is served from memory (footer + TOC in one request
 * unless the compressed TOC is larger).
 */
class TailFirstReader implements RangeReader {
  private tail: Buffer | undefined;
  /** Where `tail` starts in the blob. */
  private tailStart = 0;
  /** The first error of a read from the registry (as opposed to one of parsing what was read). */
  failure: unknown;
  /** `tail`: the blob's last bytes when they were fetched already (its first read is then served from them). */
  constructor(private readonly inner: RangeReader, private readonly guess: number, tail?: Buffer) {
    if (tail) {
      this.tail = tail;
      this.tailStart = inner.size - tail.length;
    }
  }
  get size(): number {
    return this.inner.size;
  }
  async readAt(offset: number, length: number, options?: { signal?: AbortSignal }): Promise<Buffer> {
    try {
      return await this.read(offset, length, options);
    } catch (e) {
      this.failure ??= e;
      throw e;
    }
  }
  private async read(offset: number, length: number, options?: { signal?: AbortSignal }): Promise<Buffer> {
    if (this.tail === undefined) {
      this.tailStart = Math.max(0, this.size - this.guess);
      this.tail = await this.inner.readAt(this.tailStart, this.size - this.tailStart, options);
    }
    const start = this.tailStart;
    if (offset >= start && offset + length <= this.size) return this.tail.subarray(offset - start, offset - start + length);
    if (offset + length > start && offset + length <= this.size) {
      // a TOC larger than the guess: fetch only the part before the tail, and keep it with the tail (saving
      // the tail for the mount reads it again)
      // (from a few bytes earlier: the tail saved afterwards starts just before the TOC)
      const from = Math.max(0, offset - HEAD_SLACK);
      const head = await this.inner.readAt(from, start - from, options);
      this.tail = Buffer.concat([head, this.tail]);
      this.tailStart = from;
      return this.tail.subarray(offset - from, offset - from + length);
    }
    return this.inner.readAt(offset, length, options);
  }
}
