// optimize's access record: the workload's file opens, in first-access order, attributed to a layer of
// the SOURCE image's (platform) manifest, and the NDJSON record file (`--record-out`) that
// `convert --estargz-record-in` reads back. See docs/ESTARGZ.md, "Record file".
//
// Attribution: each layer is its own FUSE mount under overlayfs, so an open reaches the topmost layer
// that has the path and that no higher layer whites out (overlayfs resolves that), and files the
// container wrote live in the upper dir and never reach a layer: the recorder's layer is the answer.
import { writeFile } from 'node:fs/promises';
import { invalidArgument } from '../../errors.js';

/** One line of the record file. */
export interface RecordEntry {
  /** Path in the image, no leading "/". */
  path: string;
  /** Digest of the source image manifest the layer index refers to. */
  manifestDigest: string;
  /** Layer index from the base layer (0). */
  layerIndex: number;
}

/** Collects accesses while armed, one entry per path (the first access wins). */
export class AccessLog {
  readonly entries: RecordEntry[] = [];
  private readonly seen = new Set<string>();
  private armed = false;

  constructor(private readonly manifestDigest: string) {}

  /** Start recording (the workload has been started). */
  arm(): void {
    this.armed = true;
  }

  /** Stop recording (the workload has ended; teardown opens nothing of interest). */
  disarm(): void {
    this.armed = false;
  }

  /** Note the open of `path` served by layer `layerIndex`. */
  add(path: string, layerIndex: number): void {
    if (!this.armed || path === '' || this.seen.has(path)) return;
    this.seen.add(path);
    this.entries.push({ path, manifestDigest: this.manifestDigest, layerIndex });
  }

  /** The accessed paths of each layer index, in first-access order (the second conversion's priorities). */
  byLayer(): Map<number, string[]> {
    const out = new Map<number, string[]>();
    for (const e of this.entries) out.set(e.layerIndex, [...(out.get(e.layerIndex) ?? []), e.path]);
    return out;
  }
}

/** The record file's text: one JSON object per line, keys in the reference's order. */
export function recordFileText(entries: readonly RecordEntry[]): string {
  return entries.map((e) => `${JSON.stringify({ path: e.path, manifestDigest: e.manifestDigest, layerIndex: e.layerIndex })}\n`).join('');
}

/** Write the record file to `path`; throws InvalidArgument naming the path when it cannot be written. */
export async function writeRecordFile(path: string, entries: readonly RecordEntry[]): Promise<void> {
  try {
    await writeFile(path, recordFileText(entries));
  } catch (e) {
    throw invalidArgument(`cannot write record file ${path}: ${(e as Error).message}`, e);
  }
}
