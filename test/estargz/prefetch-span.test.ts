// The prefetch region rpull records from a TOC's entries (src/estargz/prefetch-span.ts) is exactly the range a
// lazy layer's prefetch then asks for: the members below `.prefetch.landmark`, from the first to the last.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { prefetchSpan } from '../../src/estargz/prefetch-span.js';
import { openEStargz } from '../../src/estargz/reader.js';
import type { TOCEntry } from '../../src/estargz/toc-types.js';
import { BufferRangeReader } from '../../src/content/range-reader.js';
import { buildFromTar, gnuTar, makeTree, tempDir } from './helpers.js';

describe('prefetchSpan', () => {
  test('a blob built with prioritized files: the span is the prefetch members, first offset to last end', async () => {
    const dir = await makeTree(await tempDir('ctr-prefetch-span-'), {
      'bin/first': 'a'.repeat(5000), 'bin/second': Buffer.alloc(300_000, 7), 'etc/later': 'b'.repeat(2000), 'etc/other': 'c',
    });
    const { blob } = await buildFromTar(gnuTar(dir), { prioritizedFiles: ['bin/second', 'bin/first'], chunkSize: 65536 });
    const reader = await openEStargz(new BufferRangeReader(blob));
    const span = prefetchSpan(reader.toc.entries);
    const index = reader.index;
    const members = index.membersBelow(index.prefetchEnd!);
    assert.ok(members.length >= 2, 'both prioritized files have members below the landmark');
    assert.deepEqual(span, { offset: members[0]!.offset, length: members.at(-1)!.end - members[0]!.offset });
  });

  test('no landmark, .no.prefetch.landmark, or nothing before the landmark: no span', async () => {
    const reg = (name: string, offset: number): TOCEntry => ({ name, type: 'reg', size: 1, offset });
    assert.equal(prefetchSpan([reg('a', 10), reg('b', 20)]), undefined);
    assert.equal(prefetchSpan([reg('.no.prefetch.landmark', 10), reg('a', 20)]), undefined);
    assert.equal(prefetchSpan([reg('./.prefetch.landmark', 10), reg('a', 20)]), undefined);
    assert.deepEqual(prefetchSpan([{ name: 'd/', type: 'dir' }, reg('d/x', 40), reg('d/y', 90), reg('./.prefetch.landmark', 120), reg('z', 150)]), { offset: 40, length: 80 });
  });
});
