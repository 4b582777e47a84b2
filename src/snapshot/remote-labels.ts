// The labels of the remote-snapshot protocol (what containerd's unpacker, ctr-remote and the CRI plugin
// put on a Prepare to ask for a lazily mounted layer, and what the snapshotter puts on the snapshot it
// mounts). Both label sets are read: `containerd.io/snapshot/remote/stargz.*` (ctr-remote, nerdctl) and
// `containerd.io/snapshot/cri.*` (the CRI plugin with snapshot annotations). Pure.
// https://github.com/containerd/stargz-snapshotter/blob/main/docs/overview.md
import { Annotation } from '../oci/media-types.js';
import { tocTailGuess } from '../estargz/toc-tail.js';

/** The target name of a Prepare that asks for a remote snapshot (the layer's chain ID). */
export const TARGET_LABEL = 'containerd.io/snapshot.ref';
/** Set on a snapshot that is a lazily mounted layer. */
export const REMOTE_LABEL = 'containerd.io/snapshot/remote';
export const REMOTE_LABEL_VALUE = 'remote snapshot';
/** The layer descriptor's TOC digest annotation, inherited as a label. */
export const TOC_DIGEST_LABEL = 'containerd.io/snapshot/stargz/toc.digest';

const STARGZ = 'containerd.io/snapshot/remote/stargz.';
/** Our own label of a remote snapshot: its blob's size, so that mounting it again asks the registry nothing. */
const SIZE_LABEL = 'ctr-remote.layer-size';
const CRI = 'containerd.io/snapshot/cri.';

/** A layer to mount lazily, as a Prepare's labels describe it. */
export interface RemoteLayerRef {
  /** The image reference the layer is fetched from (its repository). */
  ref: string;
  /** The layer blob's digest. */
  digest: string;
  /** The blob's size, once known (the labels do not give it; checking the layer learns it). */
  size?: number;
  /** Expected TOC digest; undefined when the labels carry none (then it cannot be verified). */
  tocDigest?: string;
  /**
   * Bytes at the blob's end that hold its TOC and footer, as the layer's toc.tail-size annotation says
   * (estargz/toc-tail.ts): the size of the first request for them. A hint, bounded; the footer decides.
   */
  tocTail?: number;
  /** The layers of the image from this one up, when the labels list them (prefetch hints). */
  layers?: string[];
  /** The manifest digest, when the CRI labels give it. */
  manifestDigest?: string;
  /**
   * How to reach its registry when the server's own options do not say (the CLI's keeper: each rpull's flags
   * travel with its layers). Files and switches only, never a secret. Default: the server's options.
   */
  access?: RegistryAccess;
}

/** The registry flags a layer may carry to the process that serves it: no password or token among them. */
export interface RegistryAccess {
  plainHttp?: boolean;
  skipVerify?: boolean;
  tlsCaCert?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Where its credentials are looked up again (the Docker config the rpull read). */
  dockerConfigDir?: string;
  hostsDir?: string;
  readTimeoutMs?: number;
}

/** The remote layer a Prepare's labels ask for, or undefined when they ask for none (a normal Prepare). */
export function remoteLayerOf(labels: Record<string, string> | undefined): { target: string; layer: RemoteLayerRef } | undefined {
  if (!labels) return undefined;
  const target = labels[TARGET_LABEL];
  const ref = labels[`${STARGZ}reference`] ?? labels[`${CRI}image-ref`];
  const digest = labels[`${STARGZ}digest`] ?? labels[`${CRI}layer-digest`];
  if (!target || !ref || !digest) return undefined;
  const list = labels[`${STARGZ}layers`] ?? labels[`${CRI}image-layers`];
  const layer: RemoteLayerRef = { ref, digest };
  const toc = labels[TOC_DIGEST_LABEL];
  if (toc) layer.tocDigest = toc;
  const tail = tocTailGuess(labels[Annotation.TocTailSize]);
  if (tail) layer.tocTail = tail;
  if (list) layer.layers = list.split(',').filter((d) => d !== '');
  const manifest = labels[`${CRI}manifest-digest`];
  if (manifest) layer.manifestDigest = manifest;
  return { target, layer };
}

/** The labels a remote snapshot keeps (so that it can be mounted again after a restart). */
export function remoteSnapshotLabels(layer: RemoteLayerRef): Record<string, string> {
  return {
    [REMOTE_LABEL]: REMOTE_LABEL_VALUE,
    [`${STARGZ}reference`]: layer.ref,
    [`${STARGZ}digest`]: layer.digest,
    ...(layer.tocDigest ? { [TOC_DIGEST_LABEL]: layer.tocDigest } : {}),
    ...(layer.tocTail ? { [Annotation.TocTailSize]: String(layer.tocTail) } : {}),
    ...(layer.size !== undefined ? { [SIZE_LABEL]: String(layer.size) } : {}),
  };
}

/** The layer a remote snapshot's labels name, or undefined for a snapshot that is not remote. */
export function remoteLayerOfSnapshot(labels: Record<string, string>): RemoteLayerRef | undefined {
  if (labels[REMOTE_LABEL] !== REMOTE_LABEL_VALUE) return undefined;
  const ref = labels[`${STARGZ}reference`];
  const digest = labels[`${STARGZ}digest`];
  if (!ref || !digest) return undefined;
  const toc = labels[TOC_DIGEST_LABEL];
  const size = Number(labels[SIZE_LABEL]);
  const tail = tocTailGuess(labels[Annotation.TocTailSize]);
  return { ref, digest, ...(toc ? { tocDigest: toc } : {}), ...(tail ? { tocTail: tail } : {}), ...(Number.isSafeInteger(size) && size > 0 ? { size } : {}) };
}
