// Warming the code a resident process runs on the first Prepare: V8 compiles a function to fast code only
// after it has run many times, so the first TOC a fresh process parses, checks and indexes costs about twice
// what later ones do (125 ms against 60 ms for a Debian root filesystem of 8,000 entries, measured). A
// service that starts before any image is pulled can pay that once at start instead, on a made-up TOC that
// goes through the same code: JSON parse and validation, the limits check, the index and the inode table.
// The first registry request of a process pays for its own kind of first time (the HTTP parser compiled
// from WebAssembly, the connection and request code, the random generator and the hash), 10-30 ms on the
// first Prepare: warmRegistryCode pays it on a request to a server of its own on the loopback.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { gunzip, gzipSync } from 'node:zlib';
import { TocIndex } from '../estargz/toc-index.js';
import { openRegistry } from '../remote/registry-endpoint.js';
import { parseTOC } from '../estargz/toc-json.js';
import { checkToc } from '../estargz/toc-limits.js';
import type { TOCEntry } from '../estargz/toc-types.js';
import { buildInodeTable } from '../fs/inode-table.js';

/** Entries of the made-up TOC: enough iterations for V8 to optimize the loops (a few ms of work at start). */
const WARMUP_ENTRIES = 3000;

/** A made-up TOC shaped like a root filesystem's (directories, files with chunks, symlinks, a hardlink). */
export function warmupToc(entries = WARMUP_ENTRIES): { json: Buffer; dataEnd: number } {
  const out: TOCEntry[] = [];
  const digest = `sha256:${'0'.repeat(64)}`;
  const modtime = '2024-01-01T00:00:00Z';
  let offset = 0;
  for (let d = 0; out.length < entries; d++) {
    const dir = `usr/lib/d${d}`;
    out.push({ name: dir, type: 'dir', mode: 0o755, modtime });
    for (let f = 0; f < 20 && out.length < entries; f++) {
      const name = `${dir}/f${f}.py`;
      if (f % 7 === 6) {
        out.push({ name: `${dir}/l${f}`, type: 'symlink', linkName: `f${f - 1}.py`, mode: 0o777, modtime });
        continue;
      }
      const size = f % 5 === 0 ? 3 << 20 : 4000;
      out.push({ name, type: 'reg', size, mode: 0o644, modtime, offset: (offset += 1000), digest, chunkDigest: digest, ...(size > 1 << 20 ? { chunkSize: 1 << 20 } : {}) });
      for (let c = 1 << 20; c < size; c += 1 << 20) out.push({ name, type: 'chunk', offset: (offset += 1000), chunkOffset: c, ...(c + (1 << 20) < size ? { chunkSize: 1 << 20 } : {}), chunkDigest: digest });
    }
  }
  out.push({ name: 'usr/lib/d0/h0.py', type: 'hardlink', linkName: 'usr/lib/d0/f0.py', modtime });
  return { json: Buffer.from(JSON.stringify({ version: 1, entries: out })), dataEnd: offset + 1000 };
}

/** Run a made-up TOC through parse, check, index and inode table; milliseconds taken. */
export function warmTocCode(): number {
  const t0 = performance.now();
  const { json, dataEnd } = warmupToc();
  const toc = parseTOC(json);
  checkToc(toc.entries, dataEnd);
  buildInodeTable(TocIndex.build(toc.entries, dataEnd));
  return performance.now() - t0;
}

/**
 * Read the tail of a made-up blob through the registry client from a server on 127.0.0.1 started for it,
 * gunzip and hash it; milliseconds taken, and whether the bytes came back whole. Never throws: a warm-up
 * that fails leaves the first Prepare cold.
 */
export async function warmRegistryCode(): Promise<{ ms: number; ok: boolean }> {
  const t0 = performance.now();
  let ok = false;
  const body = gzipSync(Buffer.alloc(4096, 'w'));
  const server = createServer((req, res) => {
    if (!req.url?.includes('/blobs/')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    res.writeHead(206, { 'content-range': `bytes 0-${body.length - 1}/${body.length}`, 'content-length': body.length }).end(body);
  });
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    const registry = openRegistry(`127.0.0.1:${(server.address() as AddressInfo).port}/warm/up:1`, { plainHttp: true, dockerConfigDir: '/nonexistent' });
    try {
      const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      const { data } = await registry.repository.blobTail(digest, 1 << 16);
      ok = (await promisify(gunzip)(data)).length === 4096;
      randomBytes(6);
    } finally {
      await registry.close();
    }
  } catch {
    // cold, then
  } finally {
    server.close();
    server.closeAllConnections();
  }
  return { ms: performance.now() - t0, ok };
}
