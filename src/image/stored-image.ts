// An image named in the local store, opened for mounting: its manifest (the platform's asked for, or the
// host's, when the name points at an index), its config, and the rpull record that says which layers
// are lazy. Platform rules: image/platform.ts.

import { invalidArgument, notFound } from '../errors.js';
import { isManifestType } from '../oci/media-types.js';
import type { Descriptor, ImageConfig, Manifest, Platform } from '../oci/types.js';
import { MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE, parseManifestJson } from '../oci/manifest-json.js';
import type { Context } from './context.js';
import { readLazyRecord, type LazyImageRecord } from './lazy/lazy-record.js';
import { normalizeName } from './location.js';
import { checkPlatform, checkRunnable, configPlatform, hostPlatform, selectPlatform } from './platform.js';

/** A stored image ready to mount. */
export interface StoredImage {
  name: string;
  manifestDigest: string;
  manifest: Manifest;
  config: ImageConfig;
  /** Present when the image was lazily pulled. */
  record?: LazyImageRecord;
}

/**
 * Open the image `ref` from the store; NotFound when it is not there, or when `platform` is
 * given and the image has no manifest for it (a single-platform image is checked against its config).
 */
export async function openStoredImage(ctx: Context, ref: string, platform?: Platform): Promise<StoredImage> {
  const name = normalizeName(ref);
  const store = await ctx.store();
  let desc: Descriptor | undefined = await store.find(name);
  if (!desc) throw notFound(`image ${name} is not in the store (pull or rpull it first)`);
  let parsed = parseManifestJson(await store.readBytes(desc.digest, MAX_MANIFEST_SIZE), desc);
  if (parsed.kind === 'index') {
    desc = selectPlatform(parsed.index.manifests.filter((d) => isManifestType(d.mediaType)), platform ?? hostPlatform(), name);
    parsed = parseManifestJson(await store.readBytes(desc.digest, MAX_MANIFEST_SIZE), desc);
  }
  if (parsed.kind !== 'manifest') throw invalidArgument(`image ${name}: nested index is not supported`);
  const config = JSON.parse((await store.readBytes(parsed.manifest.config.digest, MAX_CONFIG_SIZE)).toString('utf8')) as ImageConfig;
  if (platform) checkPlatform(name, platform, configPlatform(config));
  const record = await readLazyRecord(ctx.paths, desc.digest);
  return { name, manifestDigest: desc.digest, manifest: parsed.manifest, config, ...(record ? { record } : {}) };
}

/** Refuse an image this host cannot run (its config's platform); `run` calls it unless --platform asked for one. */
export function checkRunsHere(image: StoredImage): void {
  checkRunnable(`image ${image.name}`, configPlatform(image.config));
}
