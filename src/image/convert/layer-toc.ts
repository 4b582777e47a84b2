// `image get-toc-digest`: the TOC (its digest and JSON) of an eStargz or zstd:chunked layer blob in the store.
import { openEStargz } from '../../estargz/reader.js';
import { digestHex } from '../../oci/digest.js';
import type { Context } from '../context.js';

/** Options of layerToc. */
export interface LayerTocOptions {
  /** 'zstd' for a zstd:chunked layer. Default 'gzip' (eStargz). */
  format?: 'gzip' | 'zstd';
  signal?: AbortSignal;
}

/** The TOC of a layer: the digest of its JSON (the toc.digest annotation) and the JSON as stored. */
export interface LayerToc {
  tocDigest: string;
  tocJson: Buffer;
}

/** Read the TOC of the layer blob `digest` in the store; InvalidArgument for a malformed digest, NotFound when absent. */
export async function layerToc(ctx: Context, digest: string, options: LayerTocOptions = {}): Promise<LayerToc> {
  digestHex(digest);
  const store = await ctx.store();
  const r = await store.readerAt(digest);
  try {
    const opened = await openEStargz(r, { format: options.format ?? 'gzip', ...(options.signal ? { signal: options.signal } : {}) });
    return { tocDigest: opened.tocDigest, tocJson: opened.tocJson };
  } finally {
    await r.close?.();
  }
}
