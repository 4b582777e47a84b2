// The order in which a layer's entries are written to eStargz: prioritized files first (each after its
// parent directories and hardlink target), then a landmark, then the rest in tar order. Landmarks and
// TOCs in the input are dropped; a name repeated in the input keeps only its last occurrence. Names follow
// oci/entry-name.ts: one that climbs above the layer root is refused (InvalidArgument), and an absolute or
// unclean name (or hardlink target) is written cleaned, so the TOC and the tar say what a reader will use.
// Spec: https://github.com/containerd/stargz-snapshotter/blob/main/docs/estargz.md#prioritized-files-and-landmark-files
import type { TarHeader } from '../tar/header.js';
import { cleanEntryName, parentOf } from '../oci/entry-name.js';
import { LANDMARK_CONTENTS, NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, TOC_TAR_NAME } from './toc-types.js';

/** An input entry: its header and where its payload starts in the uncompressed source tar. */
export interface SourceEntry {
  header: TarHeader;
  /** Offset of the payload in the source (ignored for entries without data). */
  dataOffset: number;
}

/** An entry to write: from the source, or synthesized with its bytes (landmarks, missing parent dirs). */
export type PlannedEntry = SourceEntry | { header: TarHeader; data: Buffer };

/** The write order and the prioritized paths that the layer does not contain. */
export interface EntryPlan {
  entries: PlannedEntry[];
  missedPrioritized: string[];
}

const DROPPED = new Set([PREFETCH_LANDMARK, NO_PREFETCH_LANDMARK, TOC_TAR_NAME]);

/** Order entries for writing; with an empty `prioritized` list `.no.prefetch.landmark` goes first. */
export function planEntries(input: Iterable<SourceEntry>, prioritized: readonly string[] = []): EntryPlan {
  const rest = new Map<string, SourceEntry>();
  for (const e of input) {
    const name = cleanEntryName(e.header.name);
    if (DROPPED.has(name)) continue;
    rest.delete(name); // a later duplicate replaces the earlier one at its own position
    rest.set(name, withCleanNames(e, name));
  }
  const first = new Map<string, PlannedEntry>();
  const missedPrioritized: string[] = [];
  for (const p of prioritized) {
    const name = cleanEntryName(p);
    if (!rest.has(name) && !first.has(name)) missedPrioritized.push(p);
    else moveWithParents(name, rest, first);
  }
  const landmark = landmarkEntry(prioritized.length > 0 ? PREFETCH_LANDMARK : NO_PREFETCH_LANDMARK);
  return { entries: [...first.values(), landmark, ...rest.values()], missedPrioritized };
}

// Move `name` from `rest` to `out` after its parent directories (synthesized when the layer has none)
// and, for a hardlink, after its target.
function moveWithParents(name: string, rest: Map<string, SourceEntry>, out: Map<string, PlannedEntry>, depth = 0): void {
  if (out.has(name) || depth > 256) return;
  if (name !== '') moveWithParents(parentOf(name), rest, out, depth + 1);
  const e = rest.get(name);
  if (!e) {
    if (name !== '' && !out.has(name)) out.set(name, { header: syntheticDir(name), data: Buffer.alloc(0) });
    return;
  }
  if (e.header.type === 'hardlink') {
    const target = cleanEntryName(e.header.linkname ?? '');
    if (rest.has(target)) moveWithParents(target, rest, out, depth + 1);
  }
  rest.delete(name);
  out.set(name, e);
}

/** `e` with its name (and hardlink target) written cleaned when the tar spelled them otherwise ("./" prefixes and a directory's trailing "/" are kept). */
function withCleanNames(e: SourceEntry, name: string): SourceEntry {
  const h = e.header;
  const target = h.type === 'hardlink' ? cleanEntryName(h.linkname ?? '') : undefined;
  const nameOk = plain(h.name) === name;
  const targetOk = target === undefined || plain(h.linkname ?? '') === target;
  if (nameOk && targetOk) return e;
  const header: TarHeader = { ...h, name: nameOk ? h.name : `${name}${h.type === 'dir' && name !== '' ? '/' : ''}` };
  if (!targetOk && target !== undefined) header.linkname = target;
  return { ...e, header };
}

/** A name without a leading "./" and trailing "/" (the spellings tar tools use for clean names). */
function plain(name: string): string {
  return name.replace(/^\.\//, '').replace(/\/+$/, '');
}

function syntheticDir(name: string): TarHeader {
  return { name: `${name}/`, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 };
}

/** A landmark file entry (one byte 0x0f). */
export function landmarkEntry(name: string): PlannedEntry {
  return {
    header: { name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 1, mtime: 0 },
    data: Buffer.from([LANDMARK_CONTENTS]),
  };
}
