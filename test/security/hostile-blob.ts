// Test fixture: eStargz blobs as a hostile tool would write them. Our writer refuses what these hold (a
// chunk over the limit, a member that is a gzip bomb, a million entries), so the bytes are assembled by
// hand: payload members as given, the TOC in its own gzip member (a tar entry stargz.index.json), the
// 51-byte footer. The layout follows docs/ESTARGZ.md.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { buildFooter } from '../../src/estargz/footer.js';
import { serializeTOC } from '../../src/estargz/toc-json.js';
import { TOC_TAR_NAME, type TOCEntry } from '../../src/estargz/toc-types.js';
import { encodeTar } from '../../src/tar/writer.js';

/** A blob and what a manifest says of it. */
export interface HostileBlob {
  blob: Buffer;
  tocDigest: string;
  /** sha256 of the blob (its layer digest). */
  digest: string;
}

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * Assemble a blob from payload members (placed in order from offset 0) and TOC entries; `entries` gets each
 * member's offset through `offsetOf(i)` (a function of the member index) where the caller needs it.
 */
export function hostileBlob(members: Buffer[], entries: (offsetOf: (i: number) => number) => TOCEntry[]): HostileBlob {
  const offsets: number[] = [];
  let at = 0;
  for (const m of members) {
    offsets.push(at);
    at += m.length;
  }
  const json = serializeTOC({ version: 1, entries: entries((i) => offsets[i] ?? 0) });
  const head = { mode: 0o644, uid: 0, gid: 0, mtime: 0 } as const;
  const tocMember = gzipSync(encodeTar([{ header: { ...head, name: TOC_TAR_NAME, type: 'file', size: json.length }, data: json }]));
  const blob = Buffer.concat([...members, tocMember, buildFooter(at)]);
  return { blob, tocDigest: sha(json), digest: sha(blob) };
}

/** A gzip member of `size` zero bytes, compressed by gzip -9 (about a thousandth of its size). */
export function zeroBomb(size: number): Buffer {
  return execFileSync('sh', ['-c', `head -c ${size} /dev/zero | gzip -9`], { maxBuffer: 1 << 30 });
}

/** A zstd frame of `size` zero bytes (from a pipe: the frame does not declare its content size). */
export function zstdZeroBomb(size: number): Buffer {
  return execFileSync('sh', ['-c', `head -c ${size} /dev/zero | zstd -q -19 -c`], { maxBuffer: 1 << 30 });
}
