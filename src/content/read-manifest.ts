// Fetching a manifest or index from any ImageSource: size-limited, digest-verified, JSON-validated.
import { limitExceeded } from '../errors.js';
import type { Descriptor } from '../oci/types.js';
import { MAX_MANIFEST_SIZE, parseManifestJson, type ParsedManifest } from '../oci/manifest-json.js';
import type { ImageSource } from './endpoint.js';
import { readVerified } from './verified-stream.js';

/** A manifest's verified bytes and its parsed form. */
export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
  parsed: ParsedManifest;
}

/** Fetch and validate the manifest or index `desc` from `src` (4 MiB limit). */
export async function readManifest(src: ImageSource, desc: Descriptor, signal?: AbortSignal): Promise<FetchedManifest> {
  if (desc.size > MAX_MANIFEST_SIZE) {
    throw limitExceeded(`manifest ${desc.digest} is ${desc.size} bytes, over the ${MAX_MANIFEST_SIZE}-byte limit`);
  }
  const bytes = await readVerified(desc, await src.fetch(desc, signal));
  return { descriptor: desc, bytes, parsed: parseManifestJson(bytes, desc) };
}
