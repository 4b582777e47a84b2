// Auth against real registries: htpasswd (Basic), distribution token auth (our token server), Docker
// config.json auths and credential helpers, redirects that must not carry Authorization.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { startFaultProxy } from '../fixtures/fault-proxy.js';
import { openRegistry, type RegistryEndpoint, type RegistryOptions } from '../../src/remote/registry-endpoint.js';
import { isCtrError } from '../../src/errors.js';
import { credentialsRejected } from '../../src/remote/auth.js';
import { registryBlobSource } from '../../src/remote/registry-blob-source.js';
import { readStream, streamOf, testImage } from './image-helpers.js';

const img = testImage([3000, 70_000]);

describe('registry auth', () => {
  let basic: RegistryFixture;
  let token: RegistryFixture;
  let tmp: string;
  const open: RegistryEndpoint[] = [];
  const debugLines: string[] = [];
  const ep = (ref: string, opts: RegistryOptions = {}) => {
    const e = openRegistry(ref, { retryBaseMs: 1, dockerConfigDir: join(tmp, 'no-docker-config'), debug: (l) => debugLines.push(l), ...opts });
    open.push(e);
    return e;
  };
  const push = async (e: RegistryEndpoint) => {
    for (const b of [img.config, ...img.layers]) await e.put(b.desc, streamOf(b.data));
    await e.tag(img.manifest.desc, img.manifest.data);
  };
  const pullAll = async (e: RegistryEndpoint) => {
    const root = await e.resolve();
    assert.equal(root.digest, img.manifest.desc.digest);
    for (const l of img.layers) assert.ok((await readStream(await e.fetch(l.desc))).equals(l.data));
  };
  const secretFree = (e: unknown, ...secrets: string[]) => {
    const text = `${(e as Error).message} ${JSON.stringify(e)} ${String((e as Error).stack)}`;
    for (const s of secrets) assert.ok(!text.includes(s), `error text must not contain a secret`);
    return true;
  };

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ctr-auth-'));
    [basic, token] = await Promise.all([startRegistry({ auth: 'htpasswd' }), startRegistry({ auth: 'token' })]);
  });
  after(async () => {
    for (const e of open) await e.close();
    await basic?.stop();
    await token?.stop();
    await rm(tmp, { recursive: true, force: true });
    const all = debugLines.join('\n');
    for (const s of [basic.password, token.password, 'Basic ', 'Bearer ']) assert.ok(!all.includes(s), 'debug lines never carry credentials');
  });

  test('basic auth: right credentials push and pull', async () => {
    await push(ep(`${basic.host}/auth/app:v1`, { username: basic.username, password: basic.password }));
    await pullAll(ep(`${basic.host}/auth/app:v1`, { username: basic.username, password: basic.password }));
  });

  test('basic auth: wrong password or none → Unauthorized, clear and secret-free', async () => {
    await assert.rejects(ep(`${basic.host}/auth/app:v1`, { username: basic.username, password: 'wrong-pw-123' }).resolve(),
      (e: unknown) => isCtrError(e, 'Unauthorized') && /credentials rejected/.test(e.message) && e.message.includes('auth/app') && secretFree(e, 'wrong-pw-123'));
    await assert.rejects(ep(`${basic.host}/auth/app:v1`).resolve(),
      (e: unknown) => isCtrError(e, 'Unauthorized') && /no credentials for/.test(e.message));
  });

  test('token auth: push and pull; tokens cached per scope', async () => {
    const ts = token.tokenServer!;
    const e = ep(`${token.host}/tok/app:v1`, { username: token.username, password: token.password });
    await push(e);
    const before = ts.requests.length;
    const puller = ep(`${token.host}/tok/app:v1`, { username: token.username, password: token.password });
    await pullAll(puller);
    await pullAll(puller);
    assert.equal(ts.requests.length - before, 1, 'one token for the pull scope, reused');
    assert.ok(ts.requests.every((r) => r.user === token.username && r.status === 200));
    assert.ok(ts.requests.some((r) => r.scopes.includes('repository:tok/app:pull,push')));
    const parallel = ep(`${token.host}/tok/app:v1`, { username: token.username, password: token.password });
    const n = ts.requests.length;
    await Promise.all([...img.layers, ...img.layers].map(async (l) => assert.ok((await readStream(await parallel.fetch(l.desc))).equals(l.data))));
    assert.equal(ts.requests.length - n, 1, 'concurrent requests share one token fetch');
  });

  test('token auth: a 401 with a valid token refreshes once', async () => {
    const proxy = await startFaultProxy(token.url);
    try {
      const ts = token.tokenServer!;
      const e = ep(`${proxy.host}/tok/app:v1`, { username: token.username, password: token.password });
      await e.resolve();
      const n = ts.requests.length;
      const challenge = `Bearer realm="${ts.realm}",service="${ts.service}",scope="repository:tok/app:pull",error="invalid_token"`;
      const r = proxy.addRule({ method: 'GET', path: /\/blobs\//, status: 401, times: 1, headers: { 'www-authenticate': challenge } });
      assert.ok((await readStream(await e.fetch(img.layers[0]!.desc))).equals(img.layers[0]!.data));
      assert.equal(r.hits, 1);
      assert.equal(ts.requests.length, n + 1, 'exactly one refresh');
      proxy.addRule({ method: 'GET', path: /\/blobs\//, status: 401, headers: { 'www-authenticate': challenge } });
      await assert.rejects(e.fetch(img.layers[0]!.desc), (err: unknown) => isCtrError(err, 'Unauthorized') && /credentials rejected/.test(err.message));
    } finally {
      await proxy.stop();
    }
  });

  test('token auth: wrong password → Unauthorized from the token server, secret-free', async () => {
    await assert.rejects(ep(`${token.host}/tok/app:v1`, { username: token.username, password: 'nope-nope-42' }).resolve(),
      (e: unknown) => isCtrError(e, 'Unauthorized') && /token server .* refused: credentials rejected/.test(e.message) && secretFree(e, 'nope-nope-42'));
    // anonymous: the token grants no access, the registry keeps answering 401
    await assert.rejects(ep(`${token.host}/tok/app:v1`).resolve(), (e: unknown) => isCtrError(e, 'Unauthorized') && /access denied: the repository does not exist or requires authorization \(no credentials/.test(e.message));
  });

  test('docker config.json auths (via dockerConfigDir and $DOCKER_CONFIG)', async () => {
    const dir = join(tmp, 'docker1');
    await writeFileP(join(dir, 'config.json'), JSON.stringify({
      auths: { [basic.host]: { auth: Buffer.from(`${basic.username}:${basic.password}`).toString('base64') } },
    }));
    await pullAll(ep(`${basic.host}/auth/app:v1`, { dockerConfigDir: dir }));
    // a default credsStore whose helper is not installed falls back to auths; a missing per-host helper is an error
    const withStore = join(tmp, 'docker-store');
    await writeFileP(join(withStore, 'config.json'), JSON.stringify({
      credsStore: 'not-installed-xyz',
      auths: { [basic.host]: { auth: Buffer.from(`${basic.username}:${basic.password}`).toString('base64') } },
    }));
    await pullAll(ep(`${basic.host}/auth/app:v1`, { dockerConfigDir: withStore }));
    const withHelper = join(tmp, 'docker-helper');
    await writeFileP(join(withHelper, 'config.json'), JSON.stringify({ credHelpers: { [basic.host]: 'not-installed-xyz' } }));
    await assert.rejects(ep(`${basic.host}/auth/app:v1`, { dockerConfigDir: withHelper }).resolve(),
      (e: unknown) => isCtrError(e, 'Unauthorized') && /docker-credential-not-installed-xyz not found on PATH/.test(e.message));
    const saved = process.env['DOCKER_CONFIG'];
    process.env['DOCKER_CONFIG'] = dir;
    try {
      const e = openRegistry(`${basic.host}/auth/app:v1`);
      open.push(e);
      await pullAll(e);
    } finally {
      if (saved === undefined) delete process.env['DOCKER_CONFIG'];
      else process.env['DOCKER_CONFIG'] = saved;
    }
  });

  test('docker config.json credHelpers run docker-credential-<name> from PATH', async () => {
    const bin = join(tmp, 'bin');
    const log = join(tmp, 'helper.log');
    const script = `#!/bin/sh\nread url\necho "$1 $url" >> ${log}\nif [ "$url" = "${token.host}" ]; then\n  printf '{"ServerURL":"%s","Username":"${token.username}","Secret":"${token.password}"}' "$url"\nelse\n  echo "credentials not found in native keychain"; exit 1\nfi\n`;
    await writeFileP(join(bin, 'docker-credential-test'), script);
    await chmod(join(bin, 'docker-credential-test'), 0o755);
    const dir = join(tmp, 'docker2');
    await writeFileP(join(dir, 'config.json'), JSON.stringify({ credHelpers: { [token.host]: 'test' }, credsStore: 'test' }));
    const savedPath = process.env['PATH'];
    process.env['PATH'] = `${bin}:${savedPath}`;
    try {
      await pullAll(ep(`${token.host}/tok/app:v1`, { dockerConfigDir: dir }));
      // the store has nothing for the basic registry → anonymous → Unauthorized (not a helper crash)
      await assert.rejects(ep(`${basic.host}/auth/app:v1`, { dockerConfigDir: dir }).resolve(), (e: unknown) => isCtrError(e, 'Unauthorized') && /no credentials/.test(e.message));
    } finally {
      process.env['PATH'] = savedPath;
    }
    const calls = (await readFile(log, 'utf8')).trim().split('\n');
    assert.ok(calls.includes(`get ${token.host}`), calls.join('|'));
    assert.ok(calls.includes(`get ${basic.host}`));
  });

  test('an error from below names the endpoint by its fields, whatever its text happens to contain (repository "a")', async () => {
    // The missing helper's message contains the letter "a", the whole repository name: the old check
    // (message includes the repository) took that as "already names the image" and added no context.
    const withHelper = join(tmp, 'docker-helper-a');
    await writeFileP(join(withHelper, 'config.json'), JSON.stringify({ credHelpers: { [basic.host]: 'not-installed-xyz' } }));
    await assert.rejects(ep(`${basic.host}/a:v1`, { dockerConfigDir: withHelper }).resolve(), (e: unknown) => {
      assert.ok(isCtrError(e, 'Unauthorized'));
      assert.deepEqual([e.op, e.subject], ['resolve', `${basic.host}/a:v1`]);
      assert.equal(e.message, `resolve ${basic.host}/a:v1: credential helper docker-credential-not-installed-xyz not found on PATH`);
      return true;
    });
    // an error that already names what it concerns (a manifest of this repository) is passed on as it is
    await assert.rejects(ep(`${basic.host}/a:nope`, { username: basic.username, password: basic.password }).resolve(), (e: unknown) => {
      assert.ok(isCtrError(e, 'NotFound'));
      assert.deepEqual([e.op, e.subject], ['fetch manifest', `${basic.host}/a:nope`]);
      return true;
    });
  });

  test('a default credsStore is skipped only when its program is missing, not when its name reads "not found on PATH"', async () => {
    // A helper that exists but fails is an error; the old check matched the words in its message.
    const bin = join(tmp, 'bin-odd');
    const name = 'odd not found on PATH';
    await writeFileP(join(bin, `docker-credential-${name}`), '#!/bin/sh\necho not-json\n');
    await chmod(join(bin, `docker-credential-${name}`), 0o755);
    const dir = join(tmp, 'docker-odd');
    await writeFileP(join(dir, 'config.json'), JSON.stringify({
      credsStore: name, auths: { [basic.host]: { auth: Buffer.from(`${basic.username}:${basic.password}`).toString('base64') } },
    }));
    const savedPath = process.env['PATH'];
    process.env['PATH'] = `${bin}:${savedPath}`;
    try {
      await assert.rejects(ep(`${basic.host}/auth/app:v1`, { dockerConfigDir: dir }).resolve(),
        (e: unknown) => isCtrError(e, 'Unauthorized') && /printed malformed JSON/.test(e.message));
    } finally {
      process.env['PATH'] = savedPath;
    }
  });

  test('lazy reads refused without credentials say "credentials are needed", even from a repository named "rejected"', async () => {
    // The old check searched the error text for "rejected", which the repository name put there.
    const authed = ep(`${basic.host}/rejected/app:v1`, { username: basic.username, password: basic.password });
    await push(authed);
    const layer = img.layers[1]!;
    const warnings: string[] = [];
    const anonymous = ep(`${basic.host}/rejected/app:v1`);
    const source = registryBlobSource(anonymous.repository, layer.desc.digest, layer.desc.size, { onWarning: (l) => warnings.push(l) });
    await assert.rejects(source.readRanges([{ offset: 0, length: 10 }]), (e: unknown) => isCtrError(e, 'Unauthorized') && !credentialsRejected(e));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /\(unauthorized\): credentials are needed; /);
    // with a wrong password the registry rejects them, and the line says so
    const wrong = ep(`${basic.host}/rejected/app:v1`, { username: basic.username, password: 'wrong-pw-456' });
    const refused: string[] = [];
    const source2 = registryBlobSource(wrong.repository, layer.desc.digest, layer.desc.size, { onWarning: (l) => refused.push(l) });
    await assert.rejects(source2.readRanges([{ offset: 0, length: 10 }]), (e: unknown) => credentialsRejected(e));
    assert.match(refused[0]!, /\(unauthorized\): it rejected the credentials given; /);
  });

  test('redirects: Authorization never sent to the other host; an expired redirect is re-resolved', async () => {
    const proxy = await startFaultProxy(basic.url);
    const seen: { auth: string | undefined; path: string }[] = [];
    const layer = img.layers[1]!;
    let served = 0;
    const cdn: Server = createServer((req, res) => {
      seen.push({ auth: req.headers.authorization, path: req.url ?? '' });
      if (served++ === 0) {
        res.writeHead(403).end('expired');
        return;
      }
      res.writeHead(200, { 'content-length': String(layer.data.length) }).end(layer.data);
    });
    await new Promise<void>((r) => cdn.listen(0, '127.0.0.1', r));
    try {
      const cdnUrl = `http://localhost:${(cdn.address() as AddressInfo).port}/signed/blob?sig=abc`;
      const r = proxy.addRule({ method: 'GET', path: new RegExp(`/blobs/${layer.desc.digest}`), status: 307, headers: { location: cdnUrl } });
      const e = ep(`${proxy.host}/auth/app:v1`, { username: basic.username, password: basic.password });
      assert.ok((await readStream(await e.fetch(layer.desc))).equals(layer.data));
      assert.equal(seen.length, 2);
      assert.ok(seen.every((s) => s.auth === undefined && s.path === '/signed/blob?sig=abc'));
      assert.equal(r.hits, 2, 'registry asked again after the 403');
    } finally {
      cdn.closeAllConnections();
      await new Promise((r) => cdn.close(r));
      await proxy.stop();
    }
  });
});

async function writeFileP(path: string, text: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
}
