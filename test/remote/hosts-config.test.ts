// containerd's hosts.toml: mirrors in file order and the origin last, capabilities (mirrors default to
// pull+resolve), plain HTTP from the URL, override_path, headers, server replacing the origin, the
// _default directory, and bad files as InvalidArgument naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCtrError } from '../../src/errors.js';
import { loadRegistryHosts, parseHostsToml } from '../../src/remote/hosts-config.js';

const brief = (hosts: Awaited<ReturnType<typeof loadRegistryHosts>>) =>
  hosts.map((h) => ({ host: h.host, http: h.plainHttp, root: h.apiRoot, caps: [...h.capabilities].sort().join(','), origin: h.origin, headers: h.headers, skip: h.skipVerify }));

test('mirrors come first in file order, the origin last with every capability', () => {
  const hosts = parseHostsToml(
    [
      '[host."http://10.0.0.1:5000"]',
      '  capabilities = ["pull"]',
      '[host."https://mirror.example.com/cache/v2"]',
      '  override_path = true',
      '  skip_verify = true',
      '  [host."https://mirror.example.com/cache/v2".header]',
      '    X-Token = "t"',
      '    Via = ["a", "b"]',
    ].join('\n'),
    'registry.example.com',
    'hosts.toml',
  );
  assert.deepEqual(brief(hosts), [
    { host: '10.0.0.1:5000', http: true, root: '/v2', caps: 'pull', origin: false, headers: {}, skip: false },
    { host: 'mirror.example.com', http: false, root: '/cache/v2', caps: 'pull,resolve', origin: false, headers: { 'x-token': 't', via: 'a, b' }, skip: true },
    { host: 'registry.example.com', http: false, root: '/v2', caps: 'pull,push,resolve', origin: true, headers: {}, skip: false },
  ]);
});

test('server replaces the origin; a loopback origin talks plain HTTP', () => {
  assert.deepEqual(brief(parseHostsToml('server = "http://10.1.1.1:8080"\n', 'docker.io', 'f')), [
    { host: '10.1.1.1:8080', http: true, root: '/v2', caps: 'pull,push,resolve', origin: true, headers: {}, skip: false },
  ]);
  assert.equal(parseHostsToml('', '127.0.0.1:5000', 'f')[0]!.plainHttp, true);
});

test('the registry\'s own directory, else _default, else the origin alone', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hosts-dir-'));
  await mkdir(join(dir, '127.0.0.1:5000'));
  await writeFile(join(dir, '127.0.0.1:5000', 'hosts.toml'), '[host."http://127.0.0.1:6000"]\n');
  assert.deepEqual((await loadRegistryHosts(dir, '127.0.0.1:5000')).map((h) => h.host), ['127.0.0.1:6000', '127.0.0.1:5000']);
  assert.deepEqual((await loadRegistryHosts(dir, 'other.example.com')).map((h) => h.host), ['other.example.com']);
  await mkdir(join(dir, '_default'));
  await writeFile(join(dir, '_default', 'hosts.toml'), '[host."https://all.example.com"]\n');
  assert.deepEqual((await loadRegistryHosts(dir, 'other.example.com')).map((h) => h.host), ['all.example.com', 'other.example.com']);
});

test('bad files are InvalidArgument naming the file', () => {
  for (const [text, why] of [
    ['[host."http://x"', /not valid TOML/],
    ['[host."ftp://x"]', /not http or https/],
    ['[host."http://x"]\ncapabilities = ["fetch"]', /capabilities must be a list of/],
    ['[host."http://x"]\nskip_verify = "yes"', /skip_verify must be true or false/],
  ] as const) {
    assert.throws(() => parseHostsToml(text, 'r.example.com', '/etc/certs.d/r/hosts.toml'), (e: unknown) => isCtrError(e, 'InvalidArgument') && e.message.includes('/etc/certs.d/r/hosts.toml') && why.test(e.message), text);
  }
});
