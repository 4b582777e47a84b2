// A Buffer kept for long that is a small view of a much larger ArrayBuffer (a chunk cut from a zlib output
// piece, a TOC read out of a tail) keeps all of that ArrayBuffer alive. Whatever keeps such bytes (the memory
// LRU, a reader kept for its mount) keeps a copy instead, so that what it counts is what it holds.

/** `buf` itself, or a copy of it when it is a view of an ArrayBuffer more than about twice its size. */
export function compactView(buf: Buffer): Buffer {
  return buf.buffer.byteLength > 2 * buf.length + 8192 ? Buffer.from(buf) : buf;
}
