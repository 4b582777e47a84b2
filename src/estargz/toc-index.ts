// The one index of an opened TOC, built once and shared by everything that reads the layer: the verifying
// reader (reader.ts lookup/readFile), the lazy layer that serves FUSE reads (layer/lazy-layer.ts), the FUSE
// view (fs/inode-table.ts adds inode numbers, stat modes, whiteouts as devices, hidden landmarks) and
// `image status`. It holds the layer's tree (cleaned paths, parents, hardlinks resolved; toc-tree-builder.ts),
// each regular file's chunks with their members, and the members in blob order.
// Like the reference's metadata.Reader, shared by its FUSE nodes and its verifying reader.

import { entryComponents } from '../oci/entry-name.js';
import type { TOCEntry } from './toc-types.js';
import { TocDir, type Chunk, type Member, type TocFile, type TocNode } from './toc-node.js';
import { buildTocTree } from './toc-tree-builder.js';

const NO_CHILDREN: ReadonlyMap<string, TocNode> = new Map();

/** Paths, chunks and members of one layer. */
export class TocIndex {
  private constructor(
    /** The layer's root directory. */
    readonly root: TocDir,
    private readonly byId: readonly (TocNode | undefined)[],
    /** Reachable nodes (each hardlinked node once, whiteouts included, the root included). */
    readonly count: number,
    /** Every payload member, in blob order (chunks of replaced entries included: the blob holds them). */
    readonly members: readonly Member[],
    /** End of the prefetch region (offset of `.prefetch.landmark`); undefined without one or with `.no.prefetch.landmark`. */
    readonly prefetchEnd: number | undefined,
  ) {}

  /**
   * Index `entries` (a TOC checked by toc-limits.ts checkToc) whose payload members end at `dataEnd` (the
   * TOC's offset). InvalidArgument for a structure the one rule refuses (see toc-tree-builder.ts).
   */
  static build(entries: Iterable<TOCEntry>, dataEnd: number): TocIndex {
    const t = buildTocTree(entries, dataEnd);
    return new TocIndex(t.root, t.byId, t.count, t.members, t.prefetchEnd);
  }

  /** The reachable node numbered `id`. */
  node(id: number): TocNode | undefined {
    return this.byId[id];
  }

  /** Every reachable node, by id. */
  *nodes(): IterableIterator<TocNode> {
    for (const n of this.byId) if (n) yield n;
  }

  /** The node at `path` (cleaned; "" is the root), following no symlinks; whiteouts are not entries. */
  lookup(path: string): TocNode | undefined {
    let node: TocNode | undefined = this.root;
    for (const part of entryComponents(path)) node = node instanceof TocDir ? node.children.get(part) : undefined;
    return node;
  }

  /** The entries of directory `path` by name (empty when it is no directory). */
  children(path: string): ReadonlyMap<string, TocNode> {
    const dir = this.lookup(path);
    return dir instanceof TocDir ? dir.children : NO_CHILDREN;
  }

  /** Whether this layer hides `path` of the layers below: a whiteout of it, or an opaque directory holding it. */
  hides(path: string): boolean {
    const comps = entryComponents(path);
    const base = comps.pop();
    const dir = base === undefined ? undefined : this.lookup(comps.join('/'));
    return dir instanceof TocDir && (dir.opaque || (dir.whiteouts?.has(base as string) ?? false));
  }

  /** The chunk of `file` holding byte `fileOffset`, or undefined past its end. */
  chunkAt(file: TocFile, fileOffset: number): Chunk | undefined {
    const c = file.chunks[firstChunkEndingAfter(file.chunks, fileOffset)];
    return c && c.fileOffset <= fileOffset ? c : undefined;
  }

  /** The chunks of `file` overlapping its bytes [offset, offset + length), in file order. */
  chunksIn(file: TocFile, offset: number, length: number): Chunk[] {
    const end = offset + length;
    const out: Chunk[] = [];
    for (let i = firstChunkEndingAfter(file.chunks, offset); i < file.chunks.length; i++) {
      const c = file.chunks[i] as Chunk;
      if (c.fileOffset >= end) break;
      out.push(c);
    }
    return out;
  }

  /** The members following `member` in the blob, as many as fit in `maxBytes` compressed bytes. */
  membersAfter(member: Member, maxBytes: number): Member[] {
    const out: Member[] = [];
    let bytes = 0;
    for (let i = member.seq + 1; i < this.members.length; i++) {
      const m = this.members[i] as Member;
      bytes += m.end - m.offset;
      if (bytes > maxBytes) break;
      out.push(m);
    }
    return out;
  }

  /** The members following `member` until their chunks hold `maxPlainBytes` uncompressed bytes (at least one). */
  membersAhead(member: Member, maxPlainBytes: number): Member[] {
    const out: Member[] = [];
    let bytes = 0;
    for (let i = member.seq + 1; i < this.members.length && bytes < maxPlainBytes; i++) {
      const m = this.members[i] as Member;
      for (const c of m.chunks) bytes += c.size;
      out.push(m);
    }
    return out;
  }

  /** Members whose offset is below `limit` (the prefetch region [0, limit)). */
  membersBelow(limit: number): Member[] {
    return this.members.filter((m) => m.offset < limit);
  }
}

/** Index of the first chunk ending after `offset` (chunks.length when none does). */
function firstChunkEndingAfter(chunks: readonly Chunk[], offset: number): number {
  let lo = 0;
  let hi = chunks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const c = chunks[mid] as Chunk;
    if (c.fileOffset + c.size <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
