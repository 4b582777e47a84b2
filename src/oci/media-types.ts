// OCI and Docker media types. https://github.com/opencontainers/image-spec/blob/main/media-types.md

export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** True for single-platform manifests (OCI or Docker schema 2). */
export const isManifestType = (mt: string | undefined): boolean =>
  mt === MediaType.OciManifest || mt === MediaType.DockerManifest;

/** True for multi-platform indexes (OCI index or Docker manifest list). */
export const isIndexType = (mt: string | undefined): boolean =>
  mt === MediaType.OciIndex || mt === MediaType.DockerManifestList;

/** True for Docker (non-OCI) media types, which cannot carry layer annotations. */
export const isDockerType = (mt: string | undefined): boolean => !!mt && mt.startsWith('application/vnd.docker.');

/** The compression a layer media type implies. */
export function layerCompression(mt: string): 'gzip' | 'zstd' | 'none' | undefined {
  if (mt === MediaType.OciLayerGzip || mt === MediaType.DockerLayerGzip || mt === MediaType.DockerLayerForeignGzip) return 'gzip';
  if (mt === MediaType.OciLayerZstd) return 'zstd';
  if (mt === MediaType.OciLayer || mt === 'application/vnd.docker.image.rootfs.diff.tar') return 'none';
  return undefined;
}

/** Annotation keys used by eStargz and zstd:chunked layers, and by OCI image layouts. */
export const Annotation = {
  TocDigest: 'containerd.io/snapshot/stargz/toc.digest',
  UncompressedSize: 'io.containers.estargz.uncompressed-size',
  /**
   * This project's extension: how many bytes at the blob's end hold the TOC and the footer (estargz/toc-tail.ts),
   * so that a lazy puller fetches both in one request. Under containerd.io/snapshot/ so that containerd passes
   * it to a snapshotter with the layer's other labels; a reader that does not know it reads the footer first.
   */
  TocTailSize: 'containerd.io/snapshot/stargz/toc.tail-size',
  ZstdChunkedManifestChecksum: 'io.containers.zstd-chunked.manifest-checksum',
  ZstdChunkedManifestPosition: 'io.containers.zstd-chunked.manifest-position',
  RefName: 'org.opencontainers.image.ref.name',
} as const;
