// `images check`: for each named image, is every blob its platform needs in the store, whole and matching
// its digest? Each one is read and hashed (the store's verify). Layers an rpull left in the registry on
// purpose (its lazy record) count as present-by-design; any other missing blob, or one whose bytes do not
// hash to its digest, makes the image broken. As containerd's check, an index is checked for one platform
// (the asked one, else this host's), plus the index itself.
import { isIndexType, isManifestType } from '../../oci/media-types.js';
import type { Descriptor, Platform } from '../../oci/types.js';
import { MAX_MANIFEST_SIZE, parseManifestJson } from '../../oci/manifest-json.js';
import type { OciLayout } from '../../store/oci-layout.js';
import { listSnapshots } from '../../store/snapshots.js';
import type { Context } from '../context.js';
import { readLazyRecord } from '../lazy/lazy-record.js';
import { normalizeName } from '../location.js';
import { hostPlatform, selectPlatform } from '../platform.js';

/** One blob that is not as it should be. */
export interface BlobProblem {
  digest: string;
  /** 'missing', or what is wrong with the stored bytes (a wrong size, the sha256 they really have). */
  problem: string;
}

/** What `images check` says about one image. */
export interface ImageCheck {
  name: string;
  digest: string;
  mediaType: string;
  /**
   * complete: every blob present and verified; lazy: the same, but for layers an rpull leaves in the
   * registry; incomplete: a blob missing; corrupt: a stored blob whose bytes do not match its digest.
   */
  status: 'complete' | 'lazy' | 'incomplete' | 'corrupt';
  /** Blobs needed (index, manifest, config, layers) and how many are in the store and intact. */
  present: number;
  total: number;
  /** Bytes of the intact blobs, and of all needed. */
  presentSize: number;
  totalSize: number;
  /** Every layer that is not lazy is unpacked (ready for `run` without unpacking). */
  unpacked: boolean;
  problems: BlobProblem[];
}

/** Options of checkImages. */
export interface CheckImagesOptions {
  /** The platform of an index to check (default: this host's). */
  platform?: Platform;
  signal?: AbortSignal;
}

/** Check the images named by `refs` (all when empty), sorted by name; NotFound names the first unknown one. */
export async function checkImages(ctx: Context, refs: readonly string[], options: CheckImagesOptions = {}): Promise<ImageCheck[]> {
  const store = await ctx.store();
  const wanted = refs.map(normalizeName);
  const named = await store.list();
  for (const name of wanted) await store.get(name); // NotFound
  const chosen = wanted.length ? named.filter((n) => wanted.includes(n.name)) : named;
  const unpacked = new Set(await listSnapshots(ctx.paths));
  const out: ImageCheck[] = [];
  for (const { name, descriptor } of chosen) out.push(await checkOne(ctx, store, name, descriptor, unpacked, options));
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

async function checkOne(ctx: Context, store: OciLayout, name: string, root: Descriptor, unpacked: Set<string>, options: CheckImagesOptions): Promise<ImageCheck> {
  const check: ImageCheck = { name, digest: root.digest, mediaType: root.mediaType, status: 'complete', present: 0, total: 0, presentSize: 0, totalSize: 0, unpacked: true, problems: [] };
  const verify = async (d: Descriptor): Promise<boolean> => {
    check.total++;
    check.totalSize += d.size;
    const problem = await store.verify(d.digest, { size: d.size, ...(options.signal ? { signal: options.signal } : {}) });
    if (problem !== undefined) {
      check.problems.push({ digest: d.digest, problem });
      return false;
    }
    check.present++;
    check.presentSize += d.size;
    return true;
  };
  let manifestDesc = root;
  if (isIndexType(root.mediaType)) {
    if (!(await verify(root))) return finish(check, false);
    const parsed = parseManifestJson(await store.readBytes(root.digest, MAX_MANIFEST_SIZE), root);
    if (parsed.kind !== 'index') return finish(check, false);
    manifestDesc = selectPlatform(parsed.index.manifests.filter((d) => isManifestType(d.mediaType)), options.platform ?? hostPlatform(), name);
  }
  if (!(await verify(manifestDesc))) return finish(check, false);
  const parsed = parseManifestJson(await store.readBytes(manifestDesc.digest, MAX_MANIFEST_SIZE), manifestDesc);
  if (parsed.kind !== 'manifest') return finish(check, false);
  const record = await readLazyRecord(ctx.paths, manifestDesc.digest);
  const lazy = new Set(record?.layers.filter((l) => l.mode === 'lazy').map((l) => l.digest));
  await verify(parsed.manifest.config);
  let anyLazy = false;
  for (const layer of parsed.manifest.layers) {
    options.signal?.throwIfAborted();
    if (lazy.has(layer.digest) && !(await store.has(layer.digest))) {
      anyLazy = true;
      check.total++;
      check.totalSize += layer.size;
      continue;
    }
    await verify(layer);
    if (!unpacked.has(layer.digest)) check.unpacked = false;
  }
  return finish(check, anyLazy);
}

function finish(check: ImageCheck, anyLazy: boolean): ImageCheck {
  if (check.problems.some((p) => p.problem !== 'missing')) check.status = 'corrupt';
  else if (check.problems.length) check.status = 'incomplete';
  else if (anyLazy) check.status = 'lazy';
  if (check.status === 'incomplete' || check.status === 'corrupt') check.unpacked = false;
  return check;
}
