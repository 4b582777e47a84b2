import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import {
  buildFooter, buildLegacyFooter, FOOTER_SIZE, LEGACY_FOOTER_SIZE, locateFooter, parseFooter, parseLegacyFooter,
} from '../../src/estargz/footer.js';
import { isCtrError } from '../../src/errors.js';

test('footer is a 51-byte empty gzip member carrying the offset as %016xSTARGZ in an SG subfield', () => {
  const f = buildFooter(0x1234abcd);
  assert.equal(f.length, FOOTER_SIZE);
  assert.deepEqual([...f.subarray(0, 4)], [0x1f, 0x8b, 0x08, 0x04]);
  assert.equal(f[9], 0xff);
  assert.equal(f.readUInt16LE(10), 26);
  assert.equal(f.subarray(12, 14).toString(), 'SG');
  assert.equal(f.readUInt16LE(14), 22);
  assert.equal(f.subarray(16, 38).toString(), '000000001234abcdSTARGZ');
  assert.equal(gunzipSync(f).length, 0, 'a valid, empty gzip member');
  assert.equal(parseFooter(f), 0x1234abcd);
});

test('legacy 47-byte footer parses; locateFooter tries 51 then 47', () => {
  const l = buildLegacyFooter(777);
  assert.equal(l.length, LEGACY_FOOTER_SIZE);
  assert.equal(gunzipSync(l).length, 0);
  assert.equal(parseLegacyFooter(l), 777);
  const blobTail = Buffer.concat([Buffer.alloc(10, 1), l]);
  assert.deepEqual(locateFooter(blobTail.subarray(blobTail.length - 51)), { tocOffset: 777, footerSize: 47, kind: 'legacy' });
  assert.deepEqual(locateFooter(buildFooter(5)), { tocOffset: 5, footerSize: 51, kind: 'estargz' });
});

test('footer parsing rejects garbage with InvalidArgument', () => {
  const cases: Buffer[] = [Buffer.alloc(51), Buffer.alloc(10), buildFooter(1).fill(0x41, 16, 32)];
  const bad = buildFooter(1);
  bad.write('NOTMAG', 32, 'latin1');
  cases.push(bad);
  for (const c of cases) {
    assert.throws(() => locateFooter(c), (e) => isCtrError(e, 'InvalidArgument'));
  }
  assert.throws(() => parseFooter(buildLegacyFooter(3).subarray(0, 47)), /must be 51 bytes/);
});
