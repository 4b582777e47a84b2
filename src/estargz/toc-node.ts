// The nodes of one layer's tree as the TOC index holds them (toc-index.ts): what every reader of a layer
// needs (the verifying reader, the lazy layer, the FUSE view), kept compactly: the TOC's JSON objects are not
// kept, and what few entries have (link targets, devices, xattrs, owner names) lives in a side object.
// Names follow the one rule of oci/entry-name.ts; a hardlink is the same node under a second name; a
// whiteout is recorded on its directory, not as a child. docs/ESTARGZ.md, "A layer as a filesystem".

/** What a node is: a TOC entry type (hardlinks and chunks resolved), or a whiteout of its name. */
export type TocNodeType = 'dir' | 'reg' | 'symlink' | 'char' | 'block' | 'fifo' | 'whiteout';

/** Fields few entries have; nodes with none share no object at all (`extra` undefined). */
export interface TocNodeExtra {
  /** Symlink target. */
  readonly linkName?: string;
  readonly devMajor?: number;
  readonly devMinor?: number;
  /** xattr name → base64 of the value, as in the TOC (overlayfs's own included: readers filter). */
  readonly xattrs?: Readonly<Record<string, string>>;
  /** Owner names; an entry without one takes the name an earlier entry gave its id, as the reference reader does. */
  readonly userName?: string;
  readonly groupName?: string;
}

/** One file, directory, link, device or whiteout of a layer. */
export class TocNode {
  /** Directory holding the first name (the root is its own parent). */
  readonly parent: TocDir;
  /** Links to this node: names for non-directories, 2 + subdirectories for directories. */
  numLink = 1;

  constructor(
    /** Dense number, unique in its index, in TOC order (0 is the root). */
    readonly id: number,
    /** Name in its parent directory (for a hardlinked node, its first name in the TOC; "" for the root). */
    readonly name: string,
    parent: TocDir | undefined,
    readonly type: TocNodeType,
    /** Permission and special bits as in the TOC (0755 for directories the TOC lacks). */
    public mode: number,
    public uid: number,
    public gid: number,
    /** Modification time in seconds since the epoch (0 when absent or unparsable). */
    public mtime: number,
    public extra: TocNodeExtra | undefined,
  ) {
    this.parent = parent ?? (this as unknown as TocDir);
  }

  /** Cleaned path below the layer root ("" for the root), of the first name. */
  get path(): string {
    const parts: string[] = [];
    for (let n: TocNode = this; n.parent !== n; n = n.parent) parts.push(n.name);
    return parts.reverse().join('/');
  }

  /** Symlink target ("" when absent). */
  get linkName(): string {
    return this.extra?.linkName ?? '';
  }
}

/** A directory: its entries by name, the names it whites out, whether it is opaque. */
export class TocDir extends TocNode {
  readonly children = new Map<string, TocNode>();
  /** `.wh.NAME` of this layer by NAME, when the layer has no NAME of its own here. */
  whiteouts: Map<string, TocNode> | undefined;
  /** `.wh..wh..opq`: the directory hides everything lower layers have in it. */
  opaque = false;

  constructor(id: number, name: string, parent: TocDir | undefined, mode: number, uid: number, gid: number, mtime: number, extra: TocNodeExtra | undefined) {
    super(id, name, parent, 'dir', mode, uid, gid, mtime, extra);
  }
}

/** A regular file: its size, sha256 and chunks. */
export class TocFile extends TocNode {
  /** Chunks in file order, covering it exactly (none when empty). */
  chunks: readonly Chunk[] = [];

  constructor(
    id: number,
    name: string,
    parent: TocDir,
    mode: number,
    uid: number,
    gid: number,
    mtime: number,
    extra: TocNodeExtra | undefined,
    readonly size: number,
    /** sha256 of the whole file (`digest`), when the TOC gives one. */
    readonly digest: string | undefined,
  ) {
    super(id, name, parent, 'reg', mode, uid, gid, mtime, extra);
  }
}

/** One chunk of a regular file: `size` uncompressed bytes at `fileOffset` of the file. */
export interface Chunk {
  readonly file: TocFile;
  readonly fileOffset: number;
  readonly size: number;
  /** Where the chunk starts in its member's uncompressed bytes (several small files may share a member). */
  readonly innerOffset: number;
  /** sha256 of the chunk's bytes (`chunkDigest`, or the file's `digest` for a one-chunk file lacking it). */
  readonly digest: string | undefined;
  readonly member: Member;
}

/**
 * A compressed gzip member (or zstd frame) of the blob, [offset, end): it ends where the next payload member
 * starts (or at the TOC), so it may carry trailing tar headers. docs/ESTARGZ.md, "Chunks and members".
 */
export interface Member {
  readonly offset: number;
  end: number;
  /** Position in the index's members (blob order). */
  seq: number;
  readonly chunks: Chunk[];
}

/** Where `chunk` is, for messages: `PATH chunk at N`. */
export function chunkWhere(chunk: Chunk): string {
  return `${chunk.file.path} chunk at ${chunk.fileOffset}`;
}
