// The tar entry header as the codec sees it: every field that ustar, PAX and GNU extensions can carry,
// kept exactly (numbers beyond octal range, fractional mtimes, binary xattr values, unknown PAX records).

/** Kinds of entries the codec reads and writes (typeflags 0–6; '7' contiguous files read as 'file'). */
export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** One entry's header, after PAX/GNU extensions are applied. */
export interface TarHeader {
  /** Path as stored (after PAX/GNU long-name resolution); directories may end in "/". */
  name: string;
  type: TarEntryType;
  /**
   * The mode field as stored: permission and special bits (0o7777). Writers should not set S_IFMT type bits;
   * the reader keeps them when an old archiver wrote them (consumers mask with 0o7777).
   */
  mode: number;
  uid: number;
  gid: number;
  /** Payload size in bytes (0 for anything but regular files). */
  size: number;
  /** Modification time in whole seconds since the epoch. */
  mtime: number;
  /** Sub-second part of mtime in nanoseconds (from PAX mtime); 0 when absent. */
  mtimeNsec?: number;
  /** Target of symlinks and hardlinks. */
  linkname?: string;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes (PAX SCHILY.xattr.*), values as raw bytes. Insertion order is kept. */
  xattrs?: Map<string, Buffer>;
  /**
   * PAX records the codec does not map onto a field above (atime, ctime, vendor keys), kept verbatim
   * so that a read → write round trip loses nothing.
   */
  paxExtra?: Map<string, Buffer>;
}

/** Tar block size. */
export const BLOCK = 512;
/** Bytes of zero padding after a payload of `size` bytes. */
export const paddingFor = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;
