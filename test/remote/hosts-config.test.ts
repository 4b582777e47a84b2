// containerd's hosts.toml: mirrors in file order and the origin last, capabilities (mirrors default to
// pull+resolve), plain HTTP from the URL, override_path, headers, server replacing the origin, the
// _default directory, TLS files (ca lists, client pairs and combined files, relative paths, certs.d
// directories), and bad files as InvalidArgument naming the file.
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

test('ca and client: every form containerd reads, relative paths from the hosts.toml directory', () => {
  const hosts = parseHostsToml(
    [
      'ca = "/abs/ca.pem"',
      'client = "both.pem"',
      '[host."https://m1.example.com"]',
      '  ca = ["a.pem", "/b.pem"]',
      '  client = [["c.pem", "k.pem"], ["d.pem", ""], "e.pem"]',
    ].join('\n'),
    'r.example.com', '/etc/hosts.d/r.example.com/hosts.toml', '/etc/hosts.d/r.example.com',
  );
  const d = '/etc/hosts.d/r.example.com';
  assert.deepEqual(hosts.map((h) => ({ host: h.host, ca: h.ca, client: h.client, schemeGiven: h.schemeGiven })), [
    { host: 'm1.example.com', ca: [`${d}/a.pem`, '/b.pem'], client: [{ cert: `${d}/c.pem`, key: `${d}/k.pem` }, { cert: `${d}/d.pem` }, { cert: `${d}/e.pem` }], schemeGiven: true },
    { host: 'r.example.com', ca: ['/abs/ca.pem'], client: [{ cert: `${d}/both.pem` }], schemeGiven: false },
  ]);
  for (const bad of ['client = 5', 'client = [["a", "b", "c"]]', 'client = [[]]', 'ca = [1]']) {
    assert.throws(() => parseHostsToml(bad, 'r.example.com', 'h.toml'), (e: unknown) => isCtrError(e, 'InvalidArgument') && e.message.startsWith('hosts file h.toml: '), bad);
  }
});

test('a host directory without hosts.toml is certs.d; TLS files that cannot be read name the hosts file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hosts-dir-'));
  const d = join(dir, 'r.example.com');
  await mkdir(d);
  for (const f of ['ca.crt', 'client.cert', 'client.key', 'other.txt']) await writeFile(join(d, f), '');
  // the registry's directory exists: _default is not read
  await mkdir(join(dir, '_default'));
  await writeFile(join(dir, '_default', 'hosts.toml'), '[host."https://all.example.com"]\n');
  const [origin, ...rest] = await loadRegistryHosts(dir, 'r.example.com');
  assert.deepEqual(rest, []);
  assert.deepEqual([origin!.host, origin!.ca, origin!.client], ['r.example.com', [join(d, 'ca.crt')], [{ cert: join(d, 'client.cert'), key: join(d, 'client.key') }]]);
  await writeFile(join(d, 'lonely.cert'), '');
  await assert.rejects(loadRegistryHosts(dir, 'r.example.com'), (e: unknown) => isCtrError(e, 'InvalidArgument') && /lonely\.cert has no lonely\.key/.test(e.message));
  await writeFile(join(d, 'hosts.toml'), '[host."https://m.example.com"]\n  client = [["c.pem", "missing-key.pem"]]\n');
  await writeFile(join(d, 'c.pem'), '');
  await assert.rejects(loadRegistryHosts(dir, 'r.example.com'),
    (e: unknown) => isCtrError(e, 'InvalidArgument') && e.message === `hosts file ${join(d, 'hosts.toml')}: client key ${join(d, 'missing-key.pem')} of m.example.com: cannot read it (ENOENT)`);
});
