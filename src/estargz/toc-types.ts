// The eStargz table of contents (TOC), as serialized in stargz.index.json. Field names and omission rules
// follow docs/ESTARGZ.md, "TOC" (the reference's JSON tags). NumLink is computed by readers, never
// serialized.

export type TOCEntryType = 'dir' | 'reg' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'chunk';

export interface TOCEntry {
  /** Tar path, cleaned, without leading "/" (directories without trailing "/"). */
  name: string;
  type: TOCEntryType;
  /** Size of the whole file (reg only). */
  size?: number;
  /** RFC3339 UTC, seconds precision ("2006-01-02T15:04:05Z"). */
  modtime?: string;
  /** Target of symlinks and hardlinks. */
  linkName?: string;
  /** Permission and special bits as in the tar header (not the S_IFMT type bits). */
  mode?: number;
  uid?: number;
  gid?: number;
  userName?: string;
  groupName?: string;
  devMajor?: number;
  devMinor?: number;
  /** xattr name → base64 of the raw value bytes (from PAX SCHILY.xattr.*). */
  xattrs?: Record<string, string>;
  /** sha256 of the whole file content (reg). */
  digest?: string;
  /** Compressed offset of the member (gzip) or frame (zstd) holding this entry's payload. */
  offset?: number;
  /** Offset of this chunk within the file. */
  chunkOffset?: number;
  /** Uncompressed size of this chunk; 0/absent on the last chunk means size − chunkOffset. */
  chunkSize?: number;
  /** sha256 of this chunk's uncompressed bytes. */
  chunkDigest?: string;
  /** Uncompressed offset inside a member shared by several small entries. */
  innerOffset?: number;
}

export interface TOC {
  version: 1;
  entries: TOCEntry[];
}

/** The TOC's own file name inside the layer tar. */
export const TOC_TAR_NAME = 'stargz.index.json';
/** Landmark files written by optimize. */
export const PREFETCH_LANDMARK = '.prefetch.landmark';
export const NO_PREFETCH_LANDMARK = '.no.prefetch.landmark';
/** Contents of a landmark file: one byte 0x0f. */
export const LANDMARK_CONTENTS = 0x0f;
/** Default chunk size: 4 MiB. */
export const DEFAULT_CHUNK_SIZE = 4 << 20;
/** Default gzip compression level for eStargz. */
export const DEFAULT_GZIP_LEVEL = 9;
/** Default zstd level for zstd:chunked. */
export const DEFAULT_ZSTD_LEVEL = 3;
