import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReference, isLocalHost, parseReference, referenceTarget, registryHost } from '../../src/remote/reference.js';
import { isCtrError } from '../../src/errors.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  const cases: [string, string, string, string | undefined, string | undefined][] = [
    ['busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['busybox:1.36', 'docker.io', 'library/busybox', '1.36', undefined],
    ['user/app', 'docker.io', 'user/app', 'latest', undefined],
    ['docker.io/busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['index.docker.io/library/busybox:1', 'docker.io', 'library/busybox', '1', undefined],
    ['ghcr.io/o/r/x:v1', 'ghcr.io', 'o/r/x', 'v1', undefined],
    ['127.0.0.1:5000/app:1', '127.0.0.1:5000', 'app', '1', undefined],
    ['localhost/app', 'localhost', 'app', 'latest', undefined],
    ['localhost:5000/a/b', 'localhost:5000', 'a/b', 'latest', undefined],
    [`127.0.0.1:5000/app@${D}`, '127.0.0.1:5000', 'app', undefined, D],
    [`127.0.0.1:5000/app:1@${D}`, '127.0.0.1:5000', 'app', '1', D],
    ['[::1]:5000/app:2', '[::1]:5000', 'app', '2', undefined],
    ['reg.example.com/a_b/c-d/e.f__g:t', 'reg.example.com', 'a_b/c-d/e.f__g', 't', undefined],
  ];
  for (const [ref, registry, repository, tag, digest] of cases) {
    test(ref, () => {
      const r = parseReference(ref);
      assert.equal(r.registry, registry);
      assert.equal(r.repository, repository);
      assert.equal(r.tag, tag);
      assert.equal(r.digest, digest);
    });
  }

  for (const bad of ['', 'UPPER/case', 'app:bad tag', 'a//b', 'app@sha256:abc', 'app:-x', '/app', 'app/', 'ho st/app', `a:${'t'.repeat(200)}`]) {
    test(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseReference(bad), (e: unknown) => isCtrError(e, 'InvalidArgument') && e.message.includes('invalid reference'));
    });
  }

  test('format round-trips and targets', () => {
    assert.equal(formatReference(parseReference('busybox')), 'docker.io/library/busybox:latest');
    assert.equal(formatReference(parseReference(`h:1/a@${D}`)), `h:1/a@${D}`);
    assert.equal(referenceTarget(parseReference(`h:1/a:t@${D}`)), D);
    assert.equal(referenceTarget(parseReference('h:1/a:t')), 't');
  });

  test('hosts', () => {
    assert.equal(registryHost('docker.io'), 'registry-1.docker.io');
    assert.equal(registryHost('ghcr.io'), 'ghcr.io');
    for (const h of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.1.2.3', '[::1]:5000']) assert.ok(isLocalHost(h), h);
    for (const h of ['ghcr.io', '10.0.0.1:5000', 'localhost.example.com']) assert.ok(!isLocalHost(h), h);
  });
});
