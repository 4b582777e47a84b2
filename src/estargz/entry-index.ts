// The in-memory index a reader builds from a TOC: cleaned names, synthesized parent directories,
// hardlink resolution, link counts and the chunk list (with member bounds) of every regular file.
import { invalidArgument } from '../errors.js';
import { baseOf, cleanEntryName, parentOf } from '../oci/entry-name.js';
import type { TOC, TOCEntry } from './toc-types.js';
import type { ChunkRef } from './reader.js';

/** A TOC entry as a reader sees it: cleaned name plus the link count (never serialized). */
export interface EStargzEntry extends TOCEntry {
  /** Number of names referring to this entry (2 + subdirectories for directories). */
  numLink: number;
}

/** Path → entry index over one TOC. */
export class EntryIndex {
  private readonly byName = new Map<string, EStargzEntry>();
  private readonly kids = new Map<string, Map<string, EStargzEntry>>();
  private readonly chunkLists = new Map<EStargzEntry, ChunkRef[]>();

  constructor(toc: TOC, tocOffset: number) {
    const memberEnd = memberEnds(toc.entries, tocOffset);
    this.indexEntries(toc.entries as EStargzEntry[], memberEnd, tocOffset);
    this.linkTree();
  }

  lookup(path: string): EStargzEntry | undefined {
    const e = this.byName.get(cleanEntryName(path));
    return e && this.resolveHardlink(e);
  }

  children(dir: string): ReadonlyMap<string, EStargzEntry> {
    return this.kids.get(cleanEntryName(dir)) ?? new Map();
  }

  resolveHardlink(e: EStargzEntry): EStargzEntry {
    let cur = e;
    for (let hops = 0; cur.type === 'hardlink'; hops++) {
      const t = this.byName.get(cleanEntryName(cur.linkName ?? ''));
      if (!t || hops > 64 || t === cur) throw invalidArgument(`hardlink "${e.name}" points at missing "${e.linkName ?? ''}"`);
      cur = t;
    }
    return cur;
  }

  chunks(e: EStargzEntry): readonly ChunkRef[] {
    return this.chunkLists.get(e) ?? [];
  }

  private indexEntries(entries: EStargzEntry[], memberEnd: Map<number, number>, tocOffset: number): void {
    const unames = new Map<number, string>();
    const gnames = new Map<number, string>();
    let lastReg: EStargzEntry | undefined;
    for (const [i, e] of entries.entries()) {
      e.numLink = 0;
      if (e.type === 'chunk') {
        if (!lastReg) throw invalidArgument(`corrupted TOC: chunk entry ${i} follows no regular file`);
        e.name = lastReg.name;
        this.addChunk(lastReg, e, memberEnd, tocOffset, i);
        continue;
      }
      e.name = cleanEntryName(e.name);
      fillName(e, 'uid', 'userName', unames);
      fillName(e, 'gid', 'groupName', gnames);
      this.byName.set(e.name, e);
      lastReg = e.type === 'reg' ? e : undefined;
      if (e.type === 'reg' && (e.size ?? 0) > 0) this.addChunk(e, e, memberEnd, tocOffset, i);
    }
    for (const [reg, list] of this.chunkLists) checkCoverage(reg, list);
  }

  private addChunk(reg: EStargzEntry, e: EStargzEntry, memberEnd: Map<number, number>, tocOffset: number, i: number): void {
    const size = reg.size ?? 0;
    const chunkOffset = e.chunkOffset ?? 0;
    const chunkSize = e.chunkSize || size - chunkOffset;
    const offset = e.offset ?? 0;
    const bad = (what: string) => invalidArgument(`corrupted TOC: entry ${i} ("${reg.name}"): ${what}`);
    if (chunkSize <= 0 || chunkOffset + chunkSize > size) throw bad(`chunk ${chunkOffset}+${chunkSize} outside file size ${size}`);
    if (offset < 0 || offset >= tocOffset) throw bad(`offset ${offset} outside the blob's data (TOC at ${tocOffset})`);
    const digest = e.chunkDigest || (chunkOffset === 0 && chunkSize === size ? reg.digest : undefined) || undefined;
    const ref: ChunkRef = { entry: e, chunkOffset, chunkSize, offset, memberEnd: memberEnd.get(offset) ?? tocOffset, innerOffset: e.innerOffset ?? 0, digest };
    const list = this.chunkLists.get(reg) ?? [];
    list.push(ref);
    this.chunkLists.set(reg, list);
  }

  private linkTree(): void {
    const root = this.dir('');
    root.numLink = Math.max(root.numLink, 2);
    for (const e of [...this.byName.values()]) {
      if (e.name === '') continue;
      const parent = this.dir(parentOf(e.name));
      const target = e.type === 'hardlink' ? this.resolveHardlink(e) : e;
      target.numLink += 1;
      if (e.type === 'dir') {
        e.numLink += 1; // "." inside itself
        parent.numLink += 1; // ".." of the child
      }
      this.childMap(parent.name).set(baseOf(e.name), target);
    }
  }

  // The directory entry `name`, synthesized (mode 0755) with its own parents when the TOC lacks it.
  private dir(name: string): EStargzEntry {
    let d = this.byName.get(name);
    if (d) return d;
    d = { name, type: 'dir', mode: 0o755, numLink: name === '' ? 2 : 1 };
    this.byName.set(name, d);
    if (name !== '') {
      const parent = this.dir(parentOf(name));
      d.numLink += 1;
      parent.numLink += 1;
      this.childMap(parent.name).set(baseOf(name), d);
    }
    return d;
  }

  private childMap(dir: string): Map<string, EStargzEntry> {
    let m = this.kids.get(dir);
    if (!m) this.kids.set(dir, (m = new Map()));
    return m;
  }
}

// Map each data member's start offset to where it ends: the next larger member offset or the TOC.
function memberEnds(entries: readonly TOCEntry[], tocOffset: number): Map<number, number> {
  const data = entries.filter((e) => e.type === 'chunk' || (e.type === 'reg' && (e.size ?? 0) > 0));
  const offsets = [...new Set(data.map((e) => e.offset ?? 0))].sort((a, b) => a - b);
  const out = new Map<number, number>();
  offsets.forEach((o, i) => out.set(o, offsets[i + 1] ?? tocOffset));
  return out;
}

function fillName(e: EStargzEntry, idKey: 'uid' | 'gid', nameKey: 'userName' | 'groupName', seen: Map<number, string>): void {
  const id = e[idKey] ?? 0;
  const n = e[nameKey];
  if (n) seen.set(id, n);
  else if (seen.has(id)) e[nameKey] = seen.get(id);
}

function checkCoverage(reg: EStargzEntry, list: ChunkRef[]): void {
  list.sort((a, b) => a.chunkOffset - b.chunkOffset);
  let pos = 0;
  for (const c of list) {
    if (c.chunkOffset !== pos) throw invalidArgument(`corrupted TOC: "${reg.name}" has a gap or overlap at offset ${pos}`);
    pos += c.chunkSize;
  }
  if (pos !== (reg.size ?? 0)) throw invalidArgument(`corrupted TOC: chunks of "${reg.name}" cover ${pos} of ${reg.size ?? 0} bytes`);
}
