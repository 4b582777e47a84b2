// The service's config file: the reference's TOML keys, typed; a key with no effect here or an unknown key
// is reported (not silently taken); bad TOML and wrong types are one-line InvalidArgument errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCtrError } from '../../src/errors.js';
import { loadServiceConfig, parseServiceConfig } from '../../src/service/service-config.js';

test('the keys acted on are read with their types; the rest are reported one by one', () => {
  const c = parseServiceConfig(
    ['no_background_fetch = true', 'disable_verification = false', 'allow_no_verification = true', 'cache_max_bytes = 1048576', 'prefetch_size = 10', 'no_such_key = 1', '[fuse]', 'attr_timeout = 1'].join('\n'),
    'c.toml',
  );
  assert.deepEqual([c.noBackgroundFetch, c.disableVerification, c.allowNoVerification, c.cacheMaxBytes], [true, false, true, 1048576]);
  assert.deepEqual(c.notes, [
    'config c.toml: prefetch_size is accepted but has no effect in this service',
    'config c.toml: unknown key no_such_key (ignored)',
    'config c.toml: fuse is accepted but has no effect in this service',
  ]);
});

test('bad TOML and wrongly typed keys are InvalidArgument naming the file and the key', () => {
  assert.throws(() => parseServiceConfig('no_background_fetch = ', 'a.toml'), (e: unknown) => isCtrError(e, 'InvalidArgument') && /^config a\.toml: not valid TOML: [^\n]+$/.test(e.message));
  assert.throws(() => parseServiceConfig('no_background_fetch = "yes"', 'a.toml'), (e: unknown) => isCtrError(e, 'InvalidArgument') && /no_background_fetch must be true or false/.test(e.message));
  assert.throws(() => parseServiceConfig('cache_max_bytes = -1', 'a.toml'), (e: unknown) => isCtrError(e, 'InvalidArgument') && /cache_max_bytes must be a positive integer/.test(e.message));
});

test('the default file may be absent; a named one must exist', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'svc-config-'));
  assert.deepEqual((await loadServiceConfig(join(dir, 'none.toml'), { optional: true })).notes, []);
  await assert.rejects(loadServiceConfig(join(dir, 'none.toml'), { optional: false }), (e: unknown) => isCtrError(e, 'InvalidArgument') && /cannot read it: ENOENT/.test(e.message));
  await writeFile(join(dir, 'c.toml'), 'no_background_fetch = true\n');
  assert.equal((await loadServiceConfig(join(dir, 'c.toml'), { optional: false })).noBackgroundFetch, true);
});

test('the CRI keychain, mirrors and metrics are read from their tables', () => {
  const c = parseServiceConfig(
    ['metrics_address = "127.0.0.1:9102"', '[resolver]', 'config_path = "/etc/containerd/certs.d"', '[cri_keychain]', 'enable_keychain = true', 'image_service_path = "/run/k.sock"', '[fuse_manager]', 'enable = false'].join('\n'),
    'c.toml',
  );
  assert.deepEqual([c.metricsAddress, c.hostsDir, c.criKeychain, c.fuseManager, c.notes], ['127.0.0.1:9102', '/etc/containerd/certs.d', { imageServicePath: '/run/k.sock' }, false, []]);
  assert.equal(parseServiceConfig('[cri_keychain]\nenable_keychain = false\n', 'c.toml').criKeychain, undefined);
  assert.throws(() => parseServiceConfig('metrics_address = "nope"', 'c.toml'), (e: unknown) => isCtrError(e, 'InvalidArgument') && /metrics_address must be "host:port"/.test(e.message));
});
