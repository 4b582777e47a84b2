// writeFileAtomic and its synchronous twin: the target holds the old content or the new one, never a part,
// and no temp file stays beside it, whether the write succeeds or fails.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/host/atomic-file.js';

const writers = {
  async: (p: string, d: string | Uint8Array, o?: { mode?: number }) => writeFileAtomic(p, d, o),
  sync: async (p: string, d: string | Uint8Array, o?: { mode?: number }) => writeFileAtomicSync(p, d, o),
};

for (const [name, write] of Object.entries(writers)) {
  describe(`writeFileAtomic (${name})`, () => {
    test('replaces the content whole, with the mode asked for, and leaves only the target', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
      const path = join(dir, 'doc.json');
      writeFileSync(path, 'old content that is longer than the new');
      await write(path, 'new', { mode: 0o600 });
      assert.equal(readFileSync(path, 'utf8'), 'new');
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const big = Buffer.alloc(3 << 20, 7); // more than one write(2) may take
      await write(path, big);
      assert.ok(readFileSync(path).equals(big));
      assert.deepEqual(readdirSync(dir), ['doc.json']);
    });

    test('a failed replace leaves the target as it was and no temp file', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
      const path = join(dir, 'taken');
      mkdirSync(path); // rename(2) of a file over a directory fails
      writeFileSync(join(path, 'inside'), 'kept');
      await assert.rejects(write(path, 'x'), (e: NodeJS.ErrnoException) => e.code === 'EISDIR');
      assert.deepEqual(readdirSync(dir), ['taken']);
      assert.equal(readFileSync(join(path, 'inside'), 'utf8'), 'kept');
      await assert.rejects(write(join(dir, 'missing', 'doc'), 'x'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
    });
  });
}
