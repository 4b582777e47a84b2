// The made-up TOC the fuse manager warms its code with must go through the whole path a real one does
// (a TOC the checks refused would stop the manager at start) and be shaped like a root filesystem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TocIndex } from '../../src/estargz/toc-index.js';
import { parseTOC } from '../../src/estargz/toc-json.js';
import { checkToc } from '../../src/estargz/toc-limits.js';
import { warmRegistryCode, warmTocCode, warmupToc } from '../../src/service/code-warmup.js';

test('the warm-up TOC passes the checks and indexes into directories, chunked files, symlinks and a hardlink', () => {
  const { json, dataEnd } = warmupToc(3000);
  const toc = parseTOC(json);
  assert.ok(toc.entries.length >= 3000);
  const summary = checkToc(toc.entries, dataEnd);
  assert.equal(summary.entries, toc.entries.length);
  const index = TocIndex.build(toc.entries, dataEnd);
  const types = new Set(toc.entries.map((e) => e.type));
  for (const t of ['dir', 'reg', 'chunk', 'symlink', 'hardlink']) assert.ok(types.has(t as never), `has ${t} entries`);
  const chunked = index.lookup('usr/lib/d0/f0.py');
  assert.ok(chunked && 'chunks' in chunked && (chunked as { chunks: unknown[] }).chunks.length === 3, 'a 3 MiB file in three 1 MiB chunks');
  assert.equal(index.lookup('usr/lib/d0/h0.py'), chunked, 'the hardlink is its target');
  assert.ok(warmTocCode() >= 0);
});

test('the registry warm-up reads its made-up blob whole through the registry client (a failing warm-up would warm nothing)', async () => {
  const { ok, ms } = await warmRegistryCode();
  assert.equal(ok, true);
  assert.ok(ms > 0);
});
