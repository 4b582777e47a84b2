// `image ls`: the named images of the store with digest, total size, platforms and whether all their
// layers are local ("full") or some stay in the registry ("lazy", from rpull).
import { isIndexType, isManifestType } from '../../oci/media-types.js';
import type { Descriptor, ImageConfig } from '../../oci/types.js';
import type { Context } from '../context.js';
import { MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE, parseManifestJson } from '../../oci/manifest-json.js';
import type { OciLayout } from '../../store/oci-layout.js';
import { formatPlatform } from '../platform.js';

/** One row of `image ls`. */
export interface ImageSummary {
  name: string;
  digest: string;
  mediaType: string;
  /** Bytes of every manifest, config and layer the image references (counted once each). */
  size: number;
  /** `os/arch[/variant]` of each platform whose manifest is local. */
  platforms: string[];
  /** full: everything local; lazy: some layers only in the registry; incomplete: manifests or configs missing. */
  type: 'full' | 'lazy' | 'incomplete';
}


/** Summaries of every named image in the store, sorted by name. */
export async function listImages(ctx: Context): Promise<ImageSummary[]> {
  const store = await ctx.store();
  const named = await store.list();
  const rows = await Promise.all(named.map(({ name, descriptor }) => summarize(store, name, descriptor)));
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

async function summarize(store: OciLayout, name: string, root: Descriptor): Promise<ImageSummary> {
  const acc = { size: 0, platforms: [] as string[], missingLayers: false, missingMeta: false, seen: new Set<string>() };
  await visit(store, root, acc);
  const type = acc.missingMeta ? 'incomplete' : acc.missingLayers ? 'lazy' : 'full';
  return { name, digest: root.digest, mediaType: root.mediaType, size: acc.size, platforms: acc.platforms, type };
}

type Acc = { size: number; platforms: string[]; missingLayers: boolean; missingMeta: boolean; seen: Set<string> };

async function visit(store: OciLayout, d: Descriptor, acc: Acc): Promise<void> {
  if (acc.seen.has(d.digest)) return;
  acc.seen.add(d.digest);
  acc.size += d.size;
  const isMeta = isManifestType(d.mediaType) || isIndexType(d.mediaType);
  if (!(await store.has(d.digest))) {
    if (isMeta) acc.missingMeta = true;
    else acc.missingLayers = true;
    return;
  }
  if (!isMeta) return;
  const parsed = parseManifestJson(await store.readBytes(d.digest, MAX_MANIFEST_SIZE), d);
  if (parsed.kind === 'index') {
    for (const child of parsed.index.manifests) await visit(store, child, acc);
    return;
  }
  const { config, layers } = parsed.manifest;
  if (await store.has(config.digest)) acc.platforms.push(await configPlatform(store, config));
  else acc.missingMeta = true;
  for (const l of [config, ...layers]) await visit(store, l, acc);
}

async function configPlatform(store: OciLayout, config: Descriptor): Promise<string> {
  try {
    const c = JSON.parse((await store.readBytes(config.digest, MAX_CONFIG_SIZE)).toString('utf8')) as Partial<ImageConfig>;
    if (typeof c.os !== 'string' || typeof c.architecture !== 'string') return 'unknown';
    return formatPlatform({ os: c.os, architecture: c.architecture, ...(c.variant ? { variant: c.variant } : {}) });
  } catch {
    return 'unknown';
  }
}
