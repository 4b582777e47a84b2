// The prefetch region rpull records from a TOC's entries (src/estargz/prefetch-span.ts) is exactly the range a
// lazy layer's prefetch then asks for: the members below `.prefetch.landmark`, from the first to the last.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GUESS_SLACK, prefetchSpan, prefetchSpanGuess, spanCovers } from '../../src/estargz/prefetch-span.js';
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

  test('the guess from the TOC text covers the parsed span of a blob with prioritized files; without one there is no guess', async () => {
    const dir = await makeTree(await tempDir('ctr-prefetch-guess-'), {
      'bin/first': 'a'.repeat(5000), 'bin/second': Buffer.alloc(300_000, 7), 'etc/later': 'b'.repeat(2000),
    });
    const tar = gnuTar(dir);
    const prioritized = await openEStargz(new BufferRangeReader((await buildFromTar(tar, { prioritizedFiles: ['bin/second', 'bin/first'] })).blob));
    const span = prefetchSpan(prioritized.toc.entries)!;
    const guess = prefetchSpanGuess(prioritized.tocJson)!;
    assert.ok(span && guess, 'both found');
    assert.equal(guess.offset, 0);
    assert.equal(guess.offset + guess.length, span.offset + span.length, 'it ends at the landmark');
    assert.ok(spanCovers(guess, span));
    const plain = await openEStargz(new BufferRangeReader((await buildFromTar(tar)).blob));
    assert.equal(prefetchSpanGuess(plain.tocJson), undefined, '.no.prefetch.landmark: nothing to guess');
  });

  test('the guess reads only an entry named exactly .prefetch.landmark, in any JSON layout', () => {
    const j = (o: unknown) => Buffer.from(JSON.stringify(o));
    const reg = (name: string, offset: number) => ({ name, type: 'reg', size: 1, offset });
    assert.deepEqual(prefetchSpanGuess(j({ version: 1, entries: [reg('a', 60), reg('.prefetch.landmark', 900), reg('z', 950)] })), { offset: 0, length: 900 });
    assert.deepEqual(prefetchSpanGuess(j({ version: 1, entries: [{ type: 'reg', offset: 70, name: '.prefetch.landmark' }] })), { offset: 0, length: 70 }, 'name not first');
    assert.equal(prefetchSpanGuess(j({ version: 1, entries: [reg('d/.prefetch.landmark', 900)] })), undefined, 'in a subdirectory');
    assert.equal(prefetchSpanGuess(j({ version: 1, entries: [reg('.prefetch.landmark', 900), reg('.no.prefetch.landmark', 950)] })), undefined);
    assert.equal(prefetchSpanGuess(j({ version: 1, entries: [{ name: '.prefetch.landmark', type: 'reg', offset: '900' }] })), undefined, 'offset not a number');
    assert.equal(prefetchSpanGuess(Buffer.from('{"entries":[{"name":".prefetch.landmark","offset":9')), undefined, 'cut short');
  });

  test('spanCovers: the guessed range holds the span and overshoots it by at most the slack', () => {
    assert.equal(spanCovers({ offset: 0, length: 1000 }, { offset: 105, length: 895 }), true);
    assert.equal(spanCovers({ offset: 0, length: 1000 }, { offset: 105, length: 900 }), false, 'ends after the guess');
    assert.equal(spanCovers({ offset: 200, length: 800 }, { offset: 105, length: 895 }), false, 'starts before the guess');
    assert.equal(spanCovers({ offset: 0, length: GUESS_SLACK + 2000 }, { offset: GUESS_SLACK + 1, length: 1999 }), false, 'too much before it');
  });

  test('a small TOC does not keep zlib\'s 1 MiB output piece alive with its reader (readers are kept for their mounts)', async () => {
    const dir = await makeTree(await tempDir('ctr-small-toc-'), { 'a/b': 'tiny' });
    const reader = await openEStargz(new BufferRangeReader((await buildFromTar(gnuTar(dir))).blob));
    assert.ok(reader.tocJson.length < 4096, `a small TOC (${reader.tocJson.length} bytes)`);
    assert.ok(reader.tocJson.buffer.byteLength <= 2 * reader.tocJson.length + 8192, `backed by ${reader.tocJson.buffer.byteLength} bytes`);
  });
});
