import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { multipartBoundary, parseContentRange, parseMultipartByteRanges, rangeHeader, sliceRanges } from '../../src/remote/byte-ranges.js';
import { parseWwwAuthenticate } from '../../src/remote/www-authenticate.js';
import { backoffDelay, parseRetryAfter } from '../../src/remote/backoff.js';
import { isCtrError } from '../../src/errors.js';

describe('WWW-Authenticate', () => {
  test('bearer with quoted params', () => {
    const [c] = parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/x:pull,push"');
    assert.equal(c?.scheme, 'bearer');
    assert.deepEqual(c?.params, { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/x:pull,push' });
  });
  test('basic, odd spacing, escapes, several challenges', () => {
    const cs = parseWwwAuthenticate('Basic realm="a \\"b\\"" , Bearer  realm = "r", error=invalid_token');
    assert.equal(cs.length, 2);
    assert.equal(cs[0]?.params['realm'], 'a "b"');
    assert.deepEqual(cs[1]?.params, { realm: 'r', error: 'invalid_token' });
  });
  test('garbage never throws', () => {
    for (const s of ['', '===', 'Bearer realm="unterminated', ',,,', '"x"']) assert.doesNotThrow(() => parseWwwAuthenticate(s));
  });
});

describe('byte ranges', () => {
  test('Range header and Content-Range', () => {
    assert.equal(rangeHeader([{ offset: 0, length: 10 }, { offset: 100, length: 1 }]), 'bytes=0-9,100-100');
    assert.deepEqual(parseContentRange('bytes 5-9/100'), { start: 5, end: 9, size: 100 });
    assert.deepEqual(parseContentRange('bytes 5-9/*'), { start: 5, end: 9 });
    assert.equal(parseContentRange('bytes 9-5/100'), undefined);
    assert.equal(parseContentRange('items 1-2/3'), undefined);
  });
  test('multipart/byteranges body', () => {
    const ct = 'multipart/byteranges; boundary=3d6b6a416f9b5';
    const b = multipartBoundary(ct)!;
    assert.equal(b, '3d6b6a416f9b5');
    const body = Buffer.from(
      '\r\n--3d6b6a416f9b5\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-4/20\r\n\r\nhello\r\n' +
      '--3d6b6a416f9b5\r\nContent-Range: bytes 10-14/20\r\n\r\nw\r\n--d\r\n--3d6b6a416f9b5--\r\n',
    );
    const parts = parseMultipartByteRanges(body, b);
    assert.deepEqual(parts.map((p) => [p.offset, p.data.toString()]), [[0, 'hello'], [10, 'w\r\n--']]);
    assert.deepEqual(sliceRanges(parts, [{ offset: 1, length: 3 }, { offset: 10, length: 5 }]).map(String), ['ell', 'w\r\n--']);
    assert.throws(() => sliceRanges(parts, [{ offset: 4, length: 3 }]), (e: unknown) => isCtrError(e, 'Unavailable'));
  });
  test('fuzz: mutated multipart bodies and headers only ever fail with CtrError', () => {
    const valid = Buffer.from('--B\r\nContent-Range: bytes 0-4/20\r\n\r\nhello\r\n--B\r\nContent-Range: bytes 10-11/20\r\n\r\nab\r\n--B--\r\n');
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(valid);
      for (let k = 0, m = 1 + rnd(4); k < m; k++) b[rnd(b.length)] = rnd(256);
      const cut = b.subarray(0, rnd(b.length + 1));
      try {
        const parts = parseMultipartByteRanges(cut, 'B');
        for (const p of parts) assert.ok(p.offset >= 0 && p.data.length >= 0);
      } catch (e) {
        assert.ok(isCtrError(e, 'Unavailable'), String(e));
      }
      assert.doesNotThrow(() => parseWwwAuthenticate(cut.toString('latin1')));
      assert.doesNotThrow(() => parseContentRange(cut.toString('latin1')));
    }
  });

  test('hostile multipart bodies fail cleanly', () => {
    const b = 'B';
    for (const s of ['', '--B\r\nno header end', '--B\r\nContent-Range: bytes 0-100/200\r\n\r\nshort', '--B\r\nContent-Range: bogus\r\n\r\nx\r\n--B--', '--B\r\nContent-Range: bytes 0-0/1\r\n\r\nx']) {
      assert.throws(() => parseMultipartByteRanges(Buffer.from(s), b), (e: unknown) => isCtrError(e, 'Unavailable'), s);
    }
  });
});

describe('backoff', () => {
  test('exponential, capped, jittered in [d/2, d]', () => {
    for (let a = 0; a < 8; a++) {
      const d = Math.min(1000, 100 * 2 ** a);
      const v = backoffDelay(a, { baseMs: 100, maxMs: 1000 });
      assert.ok(v >= d / 2 && v <= d, `${a}: ${v}`);
    }
  });
  test('Retry-After seconds and dates, capped', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter('soon'), undefined);
    const v = parseRetryAfter(new Date(Date.now() + 5000).toUTCString())!;
    assert.ok(v > 3000 && v <= 5000);
    assert.equal(backoffDelay(0, { maxMs: 2000 }, '60'), 2000);
    assert.equal(backoffDelay(3, { maxMs: 2000 }, '1'), 1000);
  });
});
