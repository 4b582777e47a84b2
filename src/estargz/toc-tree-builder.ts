// Builds the tree of one layer from its TOC entries, in one pass, for the TOC index (toc-index.ts). The one
// rule of oci/entry-name.ts and oci/whiteout.ts, as unpacking applies it: a name climbing above the root is
// refused; a symlink of this layer met on a parent path is followed inside the layer (an absolute target from
// the layer root; a relative one that climbs out, and more than 40 links, are refused); missing parents are
// made (0755, root-owned); a later entry of a name replaces the earlier one (a directory over a directory
// keeps its children); a hardlink is its (earlier, non-directory) target under a second name; `.wh.NAME` and
// `.wh..wh..opq` are recorded on their directory rather than becoming entries. Alongside, every regular file
// gets its chunks and every payload member its place in blob order. docs/ESTARGZ.md, "Chunks and members".

import { invalidArgument } from '../errors.js';
import { entryComponents, entryParentAndBase, joinPath } from '../oci/entry-name.js';
import { whiteoutKind } from '../oci/whiteout.js';
import { TocDir, TocFile, TocNode, type Chunk, type Member, type TocNodeExtra } from './toc-node.js';
import type { TOCEntry } from './toc-types.js';
import { landmarkOf } from './prefetch-span.js';

/** Most symlinks followed while resolving one parent path (Linux's MAXSYMLINKS, as unpacking uses). */
const MAX_LINKS = 40;
const NO_CHUNKS: readonly Chunk[] = Object.freeze([]);

/** What the builder makes of a TOC. */
export interface TocTree {
  root: TocDir;
  /** Reachable nodes by id (whiteouts included; replaced entries and their subtrees are not). */
  byId: (TocNode | undefined)[];
  /** How many nodes are reachable. */
  count: number;
  /** Payload members in blob order. */
  members: Member[];
  /** Offset of `.prefetch.landmark`, or undefined without it (or with `.no.prefetch.landmark`). */
  prefetchEnd: number | undefined;
}

/** Build the tree of a TOC whose payload members end at `dataEnd`; InvalidArgument for a hostile structure. */
export function buildTocTree(entries: Iterable<TOCEntry>, dataEnd: number): TocTree {
  const builder = new TreeBuilder();
  for (const e of entries) builder.add(e);
  return builder.finish(dataEnd);
}

class TreeBuilder {
  private nextId = 1;
  private readonly root = new TocDir(0, '', undefined, 0o755, 0, 0, 0, undefined);
  /** The parent directory of the previous entry, by its components as named (entries come grouped by directory). */
  private last: { key: string; dir: TocDir } | undefined;
  /** The regular file whose chunk entries may follow, and the chunks seen so far. */
  private file: { node: TocFile; name: string; chunks: Chunk[] } | undefined;
  private readonly byOffset = new Map<number, Member>();
  private readonly owners = new OwnerNames();
  private prefetch: number | undefined;
  private noPrefetch = false;

  add(e: TOCEntry): void {
    this.noteLandmark(e);
    if (e.type === 'chunk') return this.addChunk(e);
    this.endFile();
    const extra = this.owners.extraOf(e);
    const [parent, base] = entryParentAndBase(e.name);
    if (base === undefined) {
      this.keepChunks(e, this.root, '', extra);
      return setAttrs(this.root, e, extra);
    }
    const dir = this.parentDir(parent, e.name);
    const wh = whiteoutKind(base);
    if (wh.kind !== 'none') {
      this.keepChunks(e, dir, base, extra);
      if (wh.kind === 'opaque') dir.opaque = true;
      if (wh.kind === 'whiteout' && !dir.whiteouts?.has(wh.target)) {
        dir.whiteouts ??= new Map();
        dir.whiteouts.set(wh.target, new TocNode(this.nextId++, wh.target, dir, 'whiteout', 0, 0, 0, parseModTime(e.modtime), undefined));
      }
      return;
    }
    if (e.type === 'hardlink') return this.link(dir, base, e);
    const existing = dir.children.get(base);
    if (e.type === 'dir' && existing instanceof TocDir) return setAttrs(existing, e, extra);
    if (existing instanceof TocDir) this.last = undefined; // a directory replaced: cached parents may be under it
    dir.children.set(base, this.newNode(e, dir, base, extra));
  }

  finish(dataEnd: number): TocTree {
    this.endFile();
    const members = [...this.byOffset.values()].sort((a, b) => a.offset - b.offset);
    members.forEach((m, i) => {
      m.end = members[i + 1]?.offset ?? dataEnd;
      m.seq = i;
    });
    const byId = new Array<TocNode | undefined>(this.nextId).fill(undefined);
    const count = countLinks(this.root, byId);
    return { root: this.root, byId, count, members, prefetchEnd: this.noPrefetch ? undefined : this.prefetch };
  }

  private noteLandmark(e: TOCEntry): void {
    const kind = landmarkOf(e);
    if (kind === 'no-prefetch') this.noPrefetch = true;
    if (kind === 'prefetch' && e.offset !== undefined) this.prefetch = e.offset;
  }

  private newNode(e: TOCEntry, dir: TocDir, base: string, extra: TocNodeExtra | undefined): TocNode {
    const mtime = parseModTime(e.modtime);
    switch (e.type) {
      case 'dir':
        return new TocDir(this.nextId++, base, dir, e.mode ?? 0, e.uid ?? 0, e.gid ?? 0, mtime, extra);
      case 'reg':
        return this.startFile(e, dir, base, extra);
      case 'symlink':
      case 'char':
      case 'block':
      case 'fifo':
        return new TocNode(this.nextId++, base, dir, e.type, e.mode ?? 0, e.uid ?? 0, e.gid ?? 0, mtime, extra);
      default:
        throw invalidArgument(`TOC entry ${JSON.stringify(e.name)} has unsupported type ${JSON.stringify(e.type)}`);
    }
  }

  /** A regular file that is no entry of the tree (a whiteout, the root) still has chunks in the blob. */
  private keepChunks(e: TOCEntry, dir: TocDir, base: string, extra: TocNodeExtra | undefined): void {
    if (e.type === 'reg') this.startFile(e, dir, base, extra);
  }

  private startFile(e: TOCEntry, dir: TocDir, base: string, extra: TocNodeExtra | undefined): TocFile {
    // One string for the file digest and its one chunk's digest, not two copies of the same 71 characters.
    const digest = e.digest && e.digest === e.chunkDigest ? e.chunkDigest : e.digest || undefined;
    const node = new TocFile(this.nextId++, base, dir, e.mode ?? 0, e.uid ?? 0, e.gid ?? 0, parseModTime(e.modtime), extra, e.size ?? 0, digest);
    this.file = { node, name: e.name, chunks: [] };
    if (node.size > 0) this.addChunk(e);
    return node;
  }

  private addChunk(e: TOCEntry): void {
    const f = this.file;
    if (!f || (e.type === 'chunk' && e.name !== f.name)) throw invalidArgument(`TOC chunk entry ${JSON.stringify(e.name)} does not follow its file`);
    const file = f.node;
    const fileOffset = e.chunkOffset ?? 0;
    const size = e.chunkSize ? e.chunkSize : file.size - fileOffset;
    if (size <= 0) return;
    if (fileOffset + size > file.size) throw invalidArgument(`TOC entry ${JSON.stringify(e.name)} has a chunk outside its file`);
    const whole = fileOffset === 0 && size === file.size;
    const digest = e.chunkDigest || (whole ? file.digest : undefined) || undefined;
    const offset = e.offset ?? 0; // omitted when 0, as Go's omitempty writes it
    let member = this.byOffset.get(offset);
    if (!member) {
      member = { offset, end: offset, seq: -1, chunks: [] };
      this.byOffset.set(offset, member);
    }
    const chunk: Chunk = { file, fileOffset, size, innerOffset: e.innerOffset ?? 0, digest, member };
    member.chunks.push(chunk);
    f.chunks.push(chunk);
  }

  /** The chunk entries of the current file have all been seen: give the file its chunks in file order. */
  private endFile(): void {
    const f = this.file;
    if (!f) return;
    this.file = undefined;
    f.node.chunks = f.chunks.length === 0 ? NO_CHUNKS : f.chunks.sort((a, b) => a.fileOffset - b.fileOffset);
  }

  /** The directory at the cleaned path `key` (made when missing), the last one found remembered. */
  private parentDir(key: string, name: string): TocDir {
    if (this.last?.key === key) return this.last.dir;
    const dir = this.dirAt(key === '' ? [] : key.split('/'), name, true);
    if (!dir) throw invalidArgument(`TOC entry ${JSON.stringify(name)}: parent directory missing`);
    this.last = { key, dir };
    return dir;
  }

  /**
   * The directory at `comps` (cleaned components), made (0755) when missing if `create`, else undefined.
   * Symlinks on the way are followed inside the layer: an absolute target from the layer root, a relative
   * one from the link's directory; ".." of a target climbing above the root is refused.
   */
  private dirAt(comps: readonly string[], name: string, create: boolean): TocDir | undefined {
    let dir = this.root;
    const queue = [...comps];
    let links = 0;
    while (queue.length > 0) {
      const c = queue.shift() as string;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (dir === this.root) throw invalidArgument(`TOC entry ${JSON.stringify(name)} goes through a symlink that leads outside the layer`);
        dir = dir.parent;
        continue;
      }
      let child = dir.children.get(c);
      if (!child) {
        if (!create) return undefined;
        child = new TocDir(this.nextId++, c, dir, 0o755, 0, 0, 0, undefined);
        dir.children.set(c, child);
      }
      if (child instanceof TocDir) dir = child;
      else if (child.type === 'symlink') {
        if (++links > MAX_LINKS) throw invalidArgument(`TOC entry ${JSON.stringify(name)}: too many levels of symbolic links`);
        const target = child.linkName;
        if (target.startsWith('/')) dir = this.root;
        queue.unshift(...target.split('/'));
      } else throw invalidArgument(`TOC entry ${JSON.stringify(name)}: ${JSON.stringify(joinPath(dir.path, c))} is a ${child.type}, not a directory`);
    }
    return dir;
  }

  private link(dir: TocDir, base: string, e: TOCEntry): void {
    const comps = entryComponents(e.linkName ?? '');
    const targetBase = comps.pop();
    const target = targetBase === undefined ? this.root : this.dirAt(comps, e.name, false)?.children.get(targetBase);
    if (!target || target instanceof TocDir) {
      const what = target ? 'a directory' : 'a missing entry';
      throw invalidArgument(`TOC hardlink ${JSON.stringify(e.name)} points to ${what} ${JSON.stringify(e.linkName ?? '')}`);
    }
    dir.children.set(base, target);
  }
}

/** Take the attributes of a later entry for an existing directory (or the root), keeping its children. */
function setAttrs(node: TocNode, e: TOCEntry, extra: TocNodeExtra | undefined): void {
  node.mode = e.mode ?? 0;
  node.uid = e.uid ?? 0;
  node.gid = e.gid ?? 0;
  node.mtime = parseModTime(e.modtime);
  node.extra = extra;
}

/**
 * The rare fields of an entry (toc-node.ts TocNodeExtra), with owner names filled in from earlier entries of
 * the same id. Nodes with owner names only (a tar made by GNU tar names every owner) share one object per pair.
 */
class OwnerNames {
  private readonly users = new Map<number, string>();
  private readonly groups = new Map<number, string>();
  private readonly shared = new Map<string, TocNodeExtra>();

  extraOf(e: TOCEntry): TocNodeExtra | undefined {
    const userName = this.fill(this.users, e.uid ?? 0, e.userName);
    const groupName = this.fill(this.groups, e.gid ?? 0, e.groupName);
    const device = e.type === 'char' || e.type === 'block';
    const xattrs = e.xattrs && Object.keys(e.xattrs).length > 0 ? e.xattrs : undefined;
    const linkName = e.type === 'symlink' ? e.linkName : undefined;
    if (!device && !xattrs && !linkName) {
      if (userName === undefined && groupName === undefined) return undefined;
      const key = `${userName ?? ''}\0${groupName ?? ''}`;
      let names = this.shared.get(key);
      if (!names) this.shared.set(key, (names = { ...(userName !== undefined ? { userName } : {}), ...(groupName !== undefined ? { groupName } : {}) }));
      return names;
    }
    const extra: { -readonly [K in keyof TocNodeExtra]: TocNodeExtra[K] } = {};
    if (linkName) extra.linkName = linkName;
    if (device) {
      extra.devMajor = e.devMajor ?? 0;
      extra.devMinor = e.devMinor ?? 0;
    }
    if (xattrs) extra.xattrs = xattrs;
    if (userName !== undefined) extra.userName = userName;
    if (groupName !== undefined) extra.groupName = groupName;
    return extra;
  }

  private fill(seen: Map<number, string>, id: number, name: string | undefined): string | undefined {
    if (name) {
      seen.set(id, name);
      return name;
    }
    return seen.get(id);
  }
}

/** Seconds since the epoch of an RFC 3339 TOC modtime; 0 when absent or unparsable. */
function parseModTime(modtime: string | undefined): number {
  if (!modtime) return 0;
  const ms = Date.parse(modtime);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
}

/** Walk the tree: index every reachable node by id, set link counts, drop whiteouts of names the directory has; returns how many. */
function countLinks(root: TocDir, byId: (TocNode | undefined)[]): number {
  byId[root.id] = root;
  let count = 1;
  const stack: TocDir[] = [root];
  for (let dir = stack.pop(); dir; dir = stack.pop()) {
    let subdirs = 0;
    for (const child of dir.children.values()) {
      if (child instanceof TocDir) {
        subdirs++;
        byId[child.id] = child;
        count++;
        stack.push(child);
      } else if (byId[child.id]) {
        child.numLink++;
      } else {
        child.numLink = 1;
        byId[child.id] = child;
        count++;
      }
    }
    for (const [name, w] of dir.whiteouts ?? []) {
      if (dir.children.has(name)) dir.whiteouts?.delete(name);
      else {
        byId[w.id] = w;
        count++;
      }
    }
    if (dir.whiteouts?.size === 0) dir.whiteouts = undefined;
    dir.numLink = 2 + subdirs;
  }
  return count;
}
