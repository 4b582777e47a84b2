// CtrError's fields and withContext: the context an error is about travels as op/subject, the message is
// built from them, and an error about the same subject is not named twice.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CtrError, contextLabel, errorAbout, notFound, withContext } from '../src/errors.js';

describe('CtrError fields', () => {
  test('op and subject make the head of the message; detail is the rest', () => {
    const e = errorAbout('NotFound', { op: 'fetch blob', subject: 'r.io/x@sha256:ab' }, 'blob unknown to registry');
    assert.equal(e.message, 'fetch blob r.io/x@sha256:ab: blob unknown to registry');
    assert.deepEqual([e.code, e.op, e.subject, e.detail], ['NotFound', 'fetch blob', 'r.io/x@sha256:ab', 'blob unknown to registry']);
    const bare = new CtrError('Unsupported', 'zstd is not supported');
    assert.deepEqual([bare.message, bare.op, bare.subject, bare.detail], ['zstd is not supported', undefined, undefined, 'zstd is not supported']);
    assert.equal(errorAbout('Internal', { op: 'reading its TOC' }, 'x').message, 'reading its TOC: x');
    assert.equal(contextLabel({ op: 'ls', subject: '' }), 'ls');
  });
});

describe('withContext', () => {
  test('prefixes the context, keeps the code and the cause; other errors become Internal, an AbortError Aborted', () => {
    const inner = notFound('no such image');
    const e = withContext({ op: 'rm', subject: 'docker.io/library/a:1' }, inner);
    assert.deepEqual([e.code, e.op, e.subject, e.message], ['NotFound', 'rm', 'docker.io/library/a:1', 'rm docker.io/library/a:1: no such image']);
    assert.equal(e.cause, inner);
    const internal = withContext({ op: 'mknod', subject: '/d/x' }, new Error('Operation not permitted'));
    assert.deepEqual([internal.code, internal.message], ['Internal', 'mknod /d/x: Operation not permitted']);
    const aborted = withContext({ op: 'convert', subject: 'a' }, Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }));
    assert.deepEqual([aborted.code, aborted.message], ['Aborted', 'convert a: aborted']);
  });

  test('nested contexts read outside in', () => {
    const read = errorAbout('Unavailable', { op: 'read blob', subject: 'r.io/x@sha256:ab bytes 0-9' }, 'registry unavailable (HTTP 503)');
    const e = withContext({ op: 'rpull', subject: 'r.io/x:1' }, withContext({ op: 'layer', subject: '0 (sha256:ab)' }, withContext({ op: 'reading its TOC' }, read)));
    assert.equal(e.message, 'rpull r.io/x:1: layer 0 (sha256:ab): reading its TOC: read blob r.io/x@sha256:ab bytes 0-9: registry unavailable (HTTP 503)');
    assert.deepEqual([e.op, e.subject, e.code], ['rpull', 'r.io/x:1', 'Unavailable']);
  });

  test('an error about the same subject keeps its detail under the new op, not the subject twice', () => {
    const resolve = errorAbout('NotFound', { op: 'resolve', subject: 'r.io/x:1' }, 'manifest unknown');
    assert.equal(withContext({ op: 'rpull', subject: 'r.io/x:1' }, resolve).message, 'rpull r.io/x:1: manifest unknown');
    // another subject is kept
    assert.equal(withContext({ op: 'rpull', subject: 'r.io/y:1' }, resolve).message, 'rpull r.io/y:1: resolve r.io/x:1: manifest unknown');
    // "the same" is the caller's to define (the CLI compares image references: `x` is docker.io/library/x:latest)
    const same = (a: string, b: string) => a.replace(/^docker\.io\/library\//, '').replace(/:latest$/, '') === b;
    const pulled = errorAbout('NotFound', { op: 'pull', subject: 'docker.io/library/x:latest' }, 'manifest unknown');
    const e = withContext({ op: 'pull', subject: 'x' }, pulled, same);
    assert.deepEqual([e.message, e.subject], ['pull x: manifest unknown', 'x']);
    // only the outermost context of the inner error counts: the message text is never searched
    const mentions = notFound('image r.io/x:1 not found in /store');
    assert.equal(withContext({ op: 'tag', subject: 'r.io/x:1' }, mentions).message, 'tag r.io/x:1: image r.io/x:1 not found in /store');
  });
});
