// Client certificates, --http-dump and --refresh through the CLI, against real registries (docker-registry):
// one that requires a TLS client certificate of its CA (`http.tls.clientcas`), one behind htpasswd and one
// behind a bearer-token server that also takes OAuth2 refresh tokens. The certificates are made with
// openssl at test time (test/fixtures/registry.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../fixtures/image-builder.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { cli, type CliRun } from './cli-harness.js';

let tmp: string;
let mtls: RegistryFixture;
let basic: RegistryFixture;
let token: RegistryFixture;
let layout: string;
const REFRESH = 'rt-secret-7f3a';
let roots = 0;
const root = () => join(tmp, `root-${roots++}`);
const pulled = (r: CliRun) => assert.equal(r.code, 0, r.stderr);
/** One error line and exit 1. */
const oneLine = (r: CliRun, re: RegExp) => {
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
  assert.match(r.stderr, re);
};

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cli-tls-auth-'));
  [mtls, basic, token] = await Promise.all([
    startRegistry({ tls: 'client-cert' }),
    startRegistry({ auth: 'htpasswd' }),
    startRegistry({ auth: 'token', refreshTokens: { [REFRESH]: 'tester' } }),
  ]);
  layout = join(tmp, 'layout');
  await buildImage(layout, 'app', { layers: [{ entries: [{ path: 'etc/a', type: 'file', content: 'a'.repeat(3000) }] }] });
  const tlsFlags = ['--tlscacert', mtls.caCertPath!, '--tlscert', mtls.clientCertPath!, '--tlskey', mtls.clientKeyPath!];
  for (const [reg, flags] of [[mtls, tlsFlags], [basic, ['-u', `${basic.username}:${basic.password}`]], [token, ['-u', `${token.username}:${token.password}`]]] as const) {
    const r = await cli(['--root', root(), 'image', 'push', ...flags, `${reg.host}/app:1`, `oci:${layout}:app`]);
    assert.equal(r.code, 0, `push to ${reg.host}: ${r.stderr}`);
  }
});
after(async () => {
  await Promise.all([mtls?.stop(), basic?.stop(), token?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

describe('a registry that requires a TLS client certificate', () => {
  test('pull with --tlscacert --tlscert --tlskey works', async () => {
    pulled(await cli(['--root', root(), 'image', 'pull', '--tlscacert', mtls.caCertPath!, '--tlscert', mtls.clientCertPath!, '--tlskey', mtls.clientKeyPath!, `${mtls.host}/app:1`]));
  });

  test('without a client certificate the pull fails in one line saying what to pass', async () => {
    oneLine(await cli(['--root', root(), 'image', 'pull', '--tlscacert', mtls.caCertPath!, `${mtls.host}/app:1`]), /requires a TLS client certificate.*--tlscert FILE --tlskey FILE/);
  });

  test('a client certificate of another CA is refused, and the error says so', async () => {
    const cert = join(tmp, 'stranger.pem');
    const key = join(tmp, 'stranger-key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=stranger'], { stdio: 'ignore' });
    oneLine(await cli(['--root', root(), 'image', 'pull', '--tlscacert', mtls.caCertPath!, '--tlscert', cert, '--tlskey', key, `${mtls.host}/app:1`]), /refused our TLS client certificate/);
  });

  test('bad TLS flags: --tlscert without --tlskey is a usage error; a key of another certificate names both files', async () => {
    const r = await cli(['--root', root(), 'image', 'pull', '--tlscert', mtls.clientCertPath!, `${mtls.host}/app:1`]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--tlscert needs --tlskey/);
    const caKey = join(mtls.caCertPath!, '..', 'ca-key.pem');
    oneLine(await cli(['--root', root(), 'image', 'pull', '--tlscacert', mtls.caCertPath!, '--tlscert', mtls.clientCertPath!, '--tlskey', caKey, `${mtls.host}/app:1`]),
      new RegExp(`TLS client certificate ${mtls.clientCertPath!} with key ${caKey}: the key does not belong to the certificate`));
  });

  test('hosts.toml: ca and a [cert, key] client pair (relative paths), or one combined PEM file', async () => {
    const hosts = join(tmp, 'hosts-mtls');
    const dir = join(hosts, mtls.host);
    await mkdir(dir, { recursive: true });
    await copyFile(mtls.caCertPath!, join(dir, 'ca.pem'));
    await copyFile(mtls.clientCertPath!, join(dir, 'client.pem'));
    await copyFile(mtls.clientKeyPath!, join(dir, 'client-key.pem'));
    await writeFile(join(dir, 'hosts.toml'), `server = "https://${mtls.host}"\nca = "ca.pem"\nclient = [["client.pem", "client-key.pem"]]\n`);
    pulled(await cli(['--root', root(), 'image', 'pull', '--hosts-dir', hosts, `${mtls.host}/app:1`]));
    // no server: the loopback origin is found to speak TLS, with the top-level settings
    await writeFile(join(dir, 'hosts.toml'), `ca = ["${mtls.caCertPath!}"]\nclient = "${mtls.clientCombinedPath!}"\n`);
    pulled(await cli(['--root', root(), 'image', 'rpull', '--hosts-dir', hosts, `${mtls.host}/app:1`]));
    await writeFile(join(dir, 'hosts.toml'), `ca = "ca.pem"\n`);
    oneLine(await cli(['--root', root(), 'image', 'pull', '--hosts-dir', hosts, `${mtls.host}/app:1`]), /requires a TLS client certificate/);
  });

  test("a host directory without hosts.toml is read as Docker's certs.d (*.crt, *.cert + *.key)", async () => {
    const hosts = join(tmp, 'hosts-certsd');
    const dir = join(hosts, mtls.host);
    await mkdir(dir, { recursive: true });
    await copyFile(mtls.caCertPath!, join(dir, 'ca.crt'));
    await copyFile(mtls.clientCertPath!, join(dir, 'client.cert'));
    await copyFile(mtls.clientKeyPath!, join(dir, 'client.key'));
    pulled(await cli(['--root', root(), 'image', 'pull', '--hosts-dir', hosts, `${mtls.host}/app:1`]));
  });
});

describe('--http-dump', () => {
  test('prints each request and response, and never the credentials (Basic)', async () => {
    const r = await cli(['--root', root(), 'image', 'pull', '--http-dump', '-u', `${basic.username}:${basic.password}`, `${basic.host}/app:1`]);
    pulled(r);
    assert.match(r.stderr, /^> HEAD \/v2\/app\/manifests\/1 HTTP\/1\.1$/m);
    assert.match(r.stderr, /^> GET \/v2\/app\/blobs\/sha256:[0-9a-f]{64} HTTP\/1\.1$/m);
    assert.match(r.stderr, /^< HTTP\/1\.1 401$/m);
    assert.match(r.stderr, /^< www-authenticate: Basic realm="test-realm"$/m);
    assert.match(r.stderr, /^> authorization: Basic <redacted>$/m);
    const b64 = Buffer.from(`${basic.username}:${basic.password}`).toString('base64');
    for (const secret of [basic.password, b64]) assert.ok(!r.stderr.includes(secret), `the dump shows ${secret}`);
  });

  test('--refresh: tokens come from the OAuth2 refresh grant; the dump shows neither the refresh token nor the bearer token', async () => {
    const ts = token.tokenServer!;
    const before = ts.requests.length;
    const r = await cli(['--root', root(), 'image', 'pull', '--http-dump', '--refresh', REFRESH, `${token.host}/app:1`]);
    pulled(r);
    const asked = ts.requests.slice(before);
    assert.ok(asked.length > 0 && asked.every((q) => q.method === 'POST' && q.grant === 'refresh_token' && q.user === 'tester' && q.status === 200), JSON.stringify(asked));
    assert.match(r.stderr, /^> POST \/token HTTP\/1\.1$/m);
    assert.match(r.stderr, /^> authorization: Bearer <redacted>$/m);
    assert.ok(!r.stderr.includes(REFRESH), 'the refresh token is not shown');
    assert.ok(!/eyJ[\w-]{10,}/.test(r.stderr), 'no JWT is shown');
  });

  test('--refresh with a token the server does not know fails in one line without showing it; with -u it is a usage error', async () => {
    const r = await cli(['--root', root(), 'image', 'pull', '--refresh', 'not-a-token-9b1', `${token.host}/app:1`]);
    oneLine(r, /credentials rejected/);
    assert.ok(!r.stderr.includes('not-a-token-9b1'));
    const both = await cli(['--root', root(), 'image', 'pull', '--refresh', REFRESH, '-u', 'a:b', `${token.host}/app:1`]);
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /--refresh and -u both give credentials/);
  });
});
