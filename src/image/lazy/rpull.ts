// `image rpull`: a lazy pull. Fetches the manifest and config, and for every eStargz layer only its footer
// and TOC (by Range), verified against the layer's toc.digest annotation; those layers are fetched later,
// chunk by chunk, by a mount. A layer that is not eStargz is pulled in full, and the result SAYS which
// layers are lazy and why the others are not (the reference silently falls back to a full pull). Only a blob
// that is not eStargz (bad footer, unreadable TOC) falls back; when the registry fails while the TOC is read
// (after the client's retries) or the TOC does not match its annotation, the rpull fails naming the layer.
// Annotations: https://github.com/containerd/stargz-snapshotter/blob/main/docs/estargz.md

import { CtrError, invalidArgument, withContext } from '../../errors.js';
import { DEFAULT_IMAGE_LIMITS, type TocSummary } from '../../estargz/toc-limits.js';
import { prefetchSpan, prefetchSpanGuess, type PrefetchSpan } from '../../estargz/prefetch-span.js';
import { tocTailGuess } from '../../estargz/toc-tail.js';
import { Annotation, layerCompression } from '../../oci/media-types.js';
import { chainIds } from '../../oci/chain-id.js';
import { MAX_CONFIG_SIZE, parseManifestJson } from '../../oci/manifest-json.js';
import type { Descriptor, ImageConfig, Platform } from '../../oci/types.js';
import type { RegistryEndpoint, RegistryOptions } from '../../remote/registry-endpoint.js';
import type { RegistryAccess } from '../../snapshot/remote-labels.js';
import { LayoutEndpoint } from '../../store/layout-endpoint.js';
import { credentialSource } from '../../remote/credential-source.js';
import { fetchLayerToc, type FetchTocOptions } from '../../service/toc-fetch.js';
import type { RootLayout } from '../../store/root-layout.js';
import { TaskLimit } from '../../layer/task-limit.js';
import type { Context } from '../context.js';
import { checkImageLabels } from '../copy/image-labels.js';
import { writeLazyRecord, type LazyLayerRecord } from './lazy-record.js';
import { keptItem, keptLayerRef } from './layer-keeper.js';
import type { KeeperHandoff } from './keeper-handoff.js';
import { registryAccess } from './keeper-policy.js';
import { openLocation, parseLocation } from '../location.js';
import { selectImageManifest } from '../platform.js';
import type { FetchedManifest } from '../../content/read-manifest.js';

/** Options of rpullImage. */
export interface RpullOptions {
  /** Registry flags (`--plain-http`, `-u`, ...). */
  registry?: RegistryOptions;
  /** Platform to select from an index. Default: this host. */
  platform?: Platform;
  /** `--skip-content-verify`: accept a TOC that does not match its annotation. Default false. */
  skipContentVerify?: boolean;
  /** Labels stored with the name (`--label`); default none. */
  labels?: Record<string, string>;
  /** Called once per layer as soon as it is decided (for progressive output). */
  onLayer?: (layer: LazyLayerRecord, index: number) => void;
  /**
   * Hand the lazy layers to the root's keeper (layer-keeper.ts), which mounts them and starts their
   * prefetch now; the caller has checked whyNoKeeper, started the handoff and closes it. Default none.
   */
  keeper?: KeeperHandoff;
  /** Told why the keeper did not take the layers (the rpull itself succeeded): one line. */
  onWarning?: (line: string) => void;
  signal?: AbortSignal;
}

/** What rpull stored. */
export interface RpullResult {
  name: string;
  descriptor: Descriptor;
  layers: LazyLayerRecord[];
  /** The chain ID of the image's layers (from its config's diff_ids). */
  chainId?: string;
  /** The keeper that serves the lazy layers now (options.keeper), with its pid. */
  keeper?: { pid: number; layers: number };
}

/** Lazily pull `ref` into the store (see module comment). */
export async function rpullImage(ctx: Context, ref: string, options: RpullOptions = {}): Promise<RpullResult> {
  const loc = parseLocation(ref);
  if (loc.kind !== 'reference') throw invalidArgument(`rpull takes a registry reference, not ${ref}`);
  if (options.labels) checkImageLabels(options.labels);
  const src = await openLocation(loc, 'registry', { context: ctx, ...(options.registry ? { registry: options.registry } : {}) });
  const registry = src.endpoint as RegistryEndpoint;
  // the manifest is requested first: its round trip overlaps opening the store (~17 ms of file work)
  const early = new AbortController();
  const manifestFetched = selectManifest(registry, { ...options, signal: options.signal ? AbortSignal.any([options.signal, early.signal]) : early.signal });
  manifestFetched.catch(() => undefined); // awaited below, or stopped when the store fails to open
  let store: LayoutEndpoint;
  let release: () => Promise<void>;
  try {
    store = new LayoutEndpoint(await ctx.store(), loc.name, { label: loc.name, requireLayers: false, ...(options.labels ? { labels: options.labels } : {}) });
    release = await store.layout.lease();
  } catch (e) {
    early.abort(e);
    await manifestFetched.catch(() => undefined);
    await src.close().catch(() => undefined);
    throw e;
  }
  const keeper = options.keeper;
  try {
    const manifest = await manifestFetched;
    if (manifest.parsed.kind !== 'manifest') throw invalidArgument('nested index is not supported by rpull');
    const { config, layers } = manifest.parsed.manifest;
    // The config and every layer's TOC are fetched at once (TOC_FETCHES at a time); the layers are then
    // decided in order, as the image limits count them from the base up.
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    const limit = new TaskLimit(TOC_FETCHES);
    const configCopied = copyBlob(registry, store, config, signal);
    // with a keeper, each layer's prefetch region is requested by it as soon as the TOC's text is verified,
    // while this process parses the TOC (~0.1 s for a root filesystem's) and the layers are decided
    const credentials = credentialSource(options.registry);
    const access = registryAccess(options.registry, credentials);
    const hint = keeper ? keeperHint(keeper, loc.name, access) : undefined;
    const tocs = layers.map((layer) => limit.run(() => fetchToc(ctx.paths, registry, layer, { ...options, signal, ...(hint ? { onTocJson: hint(layer) } : {}) })));
    for (const t of [configCopied, ...tocs]) t.catch(() => {}); // each is awaited below, maybe after it failed
    const records: LazyLayerRecord[] = [];
    try {
      await configCopied;
      const declared = { entries: 0, bytes: 0 };
      for (const [i, layer] of layers.entries()) {
        const rec = await tocs[i]!.then((toc) => decideLayer(registry, store, layer, toc, declared, signal)).catch((e: unknown) => {
          throw withContext({ op: 'layer', subject: `${i} (${layer.digest.slice(0, 19)})` }, e);
        });
        records.push(rec);
        options.onLayer?.(rec, i);
      }
    } catch (e) {
      stop.abort(new CtrError('Aborted', 'another layer of this rpull failed'));
      await Promise.allSettled([configCopied, ...tocs]); // nothing of this pull runs on after it failed
      throw e;
    }
    await writeLazyRecord(ctx.paths, {
      name: loc.name, manifestDigest: manifest.descriptor.digest, layers: records, pulledAt: new Date().toISOString(),
      credentials,
    });
    await store.tag(manifest.descriptor, manifest.bytes, options.signal);
    const configJson = JSON.parse((await store.layout.readBytes(config.digest, MAX_CONFIG_SIZE)).toString('utf8')) as Partial<ImageConfig>;
    const chainId = chainIds(configJson.rootfs?.diff_ids ?? []).at(-1);
    const kept = keeper ? await handToKeeper(ctx, keeper, loc.name, records, access, options) : undefined;
    return { name: loc.name, descriptor: manifest.descriptor, layers: records, ...(chainId ? { chainId } : {}), ...(kept ? { keeper: kept } : {}) };
  } catch (e) {
    throw withContext({ op: 'rpull', subject: loc.name }, e); // an error about loc.name itself is not named twice
  } finally {
    await release();
    await src.close();
  }
}

/** Hand the lazy layers to the keeper; undefined (and a warning) when it could not take them: run then serves them itself. */
async function handToKeeper(ctx: Context, keeper: KeeperHandoff, name: string, records: LazyLayerRecord[], access: RegistryAccess, options: RpullOptions): Promise<{ pid: number; layers: number } | undefined> {
  const items = records.filter((r) => r.mode === 'lazy').map((r) => keptItem(ctx.paths, name, r, access));
  if (items.length === 0) return undefined; // close() ends a keeper that serves nothing
  try {
    return { pid: await keeper.hand(items), layers: items.length };
  } catch (e) {
    options.onWarning?.(`the keeper did not take the lazy layers (run serves them itself): ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

async function selectManifest(registry: RegistryEndpoint, options: RpullOptions): Promise<FetchedManifest> {
  const { descriptor, bytes } = await registry.fetchRoot(options.signal);
  const root: FetchedManifest = { descriptor, bytes, parsed: parseManifestJson(bytes, descriptor) };
  return selectImageManifest(registry, root, options.platform, options.signal);
}

/**
 * TOCs fetched at once by one rpull: each holds at most its tail window and its TOC. At 4, the fifth layer
 * of a five-layer image waited a round trip and a transfer for a slot (~80 ms of a 0.4 s rpull).
 */
const TOC_FETCHES = 8;

/** What deciding a layer needs: its verified TOC's digest and declarations (the parsed TOC is not kept), or why it is not lazy. */
type LayerToc = { tocDigest: string; summary: TocSummary; prefetch: PrefetchSpan | undefined } | { notEStargz: string };

/** TOC JSON from which on its parse (~10 ms and more cold) is worth waiting for a keeper's connection before. */
const LONG_PARSE_JSON_BYTES = 256 << 10;

/** For each layer, what tells the keeper its prefetch region once the TOC's text is verified (a guess from the text). */
function keeperHint(keeper: KeeperHandoff, name: string, access: RegistryAccess) {
  return (layer: Descriptor) => (json: Buffer, size: number) => {
    const span = prefetchSpanGuess(json);
    if (!span) return undefined;
    const told = keeper.hint(keptLayerRef(name, { digest: layer.digest, size, tocDigest: layer.annotations?.[Annotation.TocDigest] }, access), span);
    // a large TOC's parse holds the event loop long enough to hold back a hint to a keeper that connects
    // meanwhile: it waits for the hint to be written (KeeperHandoff.hint says how long at most); a small one's
    // does not, and rpull then ends sooner
    return json.length > LONG_PARSE_JSON_BYTES ? told : undefined;
  };
}

/** A layer's TOC, fetched, verified and its tail saved; or why the layer is not tried lazily. */
async function fetchToc(root: RootLayout, registry: RegistryEndpoint, layer: Descriptor, options: RpullOptions & Pick<FetchTocOptions, 'onTocJson'>): Promise<LayerToc> {
  const why = whyNotLazy(layer);
  if (why !== undefined) return { notEStargz: why };
  // our converter's annotation sizes the first request to hold footer and TOC (estargz/toc-tail.ts)
  const tailGuess = tocTailGuess(layer.annotations?.[Annotation.TocTailSize]);
  const toc = await fetchLayerToc(root, registry.repository, { digest: layer.digest, size: layer.size, tocDigest: layer.annotations?.[Annotation.TocDigest] }, { ...options, ...(tailGuess ? { tailGuess } : {}) });
  if (!('tocDigest' in toc)) return toc;
  await toc.tailSaved; // a mount reopens the TOC from it, in another process
  return { tocDigest: toc.tocDigest, summary: toc.summary, prefetch: prefetchSpan(toc.opened.toc.entries) };
}

/** Decide lazy or full for one layer from its fetched TOC; a full layer is copied into the store. */
async function decideLayer(
  registry: RegistryEndpoint,
  store: LayoutEndpoint,
  layer: Descriptor,
  toc: LayerToc,
  declared: { entries: number; bytes: number },
  signal: AbortSignal,
): Promise<LazyLayerRecord> {
  const base = { digest: layer.digest, size: layer.size, mediaType: layer.mediaType };
  const over = 'tocDigest' in toc ? overImageLimits(declared, toc.summary) : undefined;
  if ('tocDigest' in toc && over === undefined) {
    declared.entries += toc.summary.entries;
    declared.bytes += toc.summary.regBytes;
    return { ...base, mode: 'lazy', tocDigest: toc.tocDigest, ...(toc.prefetch ? { prefetch: toc.prefetch } : {}) };
  }
  await copyBlob(registry, store, layer, signal);
  return { ...base, mode: 'full', reason: over ?? ('notEStargz' in toc ? toc.notEStargz : '') };
}

/** Why one more lazy layer declaring `next` would take the image's lazy layers over DEFAULT_IMAGE_LIMITS, or undefined. */
function overImageLimits(declared: { entries: number; bytes: number }, next: TocSummary): string | undefined {
  const max = DEFAULT_IMAGE_LIMITS;
  const entries = declared.entries + next.entries;
  const bytes = declared.bytes + next.regBytes;
  if (entries > max.maxEntries) return `eStargz over a limit of lazy mounting: the image's lazy layers would declare ${entries} entries, over the limit of ${max.maxEntries} per image`;
  if (bytes > max.maxBytes) return `eStargz over a limit of lazy mounting: the image's lazy layers would declare ${bytes} bytes of files, over the limit of ${max.maxBytes} per image`;
  return undefined;
}

/** Why a layer descriptor cannot be mounted lazily, or undefined when it can be tried. */
export function whyNotLazy(layer: Descriptor): string | undefined {
  const compression = layerCompression(layer.mediaType);
  if (compression !== 'gzip' && compression !== 'zstd') return `media type ${layer.mediaType} is not eStargz or zstd:chunked`;
  if (!layer.annotations?.[Annotation.TocDigest]) return `no ${Annotation.TocDigest} annotation (not ${compression === 'gzip' ? 'eStargz' : 'zstd:chunked'})`;
  return undefined;
}

async function copyBlob(registry: RegistryEndpoint, store: LayoutEndpoint, desc: Descriptor, signal?: AbortSignal): Promise<void> {
  if (await store.has(desc)) return;
  try {
    await store.put(desc, await registry.fetch(desc, signal), signal);
  } catch (e) {
    throw e instanceof CtrError ? e : withContext({ op: 'fetch blob', subject: desc.digest }, e);
  }
}
