// TLS: a registry on 127.0.0.1 serving HTTPS with a self-signed certificate. Loopback defaults to plain HTTP
// and switches to https when the registry speaks TLS; the certificate needs --tlscacert or -k.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { openRegistry, type RegistryEndpoint, type RegistryOptions } from '../../src/remote/registry-endpoint.js';
import { isCtrError } from '../../src/errors.js';
import { readStream, streamOf, testImage } from './image-helpers.js';

describe('registry over TLS', () => {
  let reg: RegistryFixture;
  const open: RegistryEndpoint[] = [];
  const img = testImage([5000]);
  const ep = (opts: RegistryOptions) => {
    const e = openRegistry(`${reg.host}/tls/app:v1`, { retries: 1, retryBaseMs: 1, ...opts });
    open.push(e);
    return e;
  };

  before(async () => {
    reg = await startRegistry({ tls: true });
  });
  after(async () => {
    for (const e of open) await e.close();
    await reg?.stop();
  });

  test('--tlscacert: push and pull over https (scheme detected on a loopback host)', async () => {
    const lines: string[] = [];
    const e = ep({ tlsCaCert: reg.caCertPath!, debug: (l) => lines.push(l) });
    for (const b of [img.config, ...img.layers]) await e.put(b.desc, streamOf(b.data));
    await e.tag(img.manifest.desc, img.manifest.data);
    assert.equal(e.client.base.protocol, 'https:');
    assert.ok(lines.some((l) => /speaks TLS; switching to https/.test(l)));
    const puller = ep({ tlsCaCert: reg.caCertPath! });
    assert.deepEqual(await puller.resolve(), img.manifest.desc);
    assert.ok((await readStream(await puller.fetch(img.layers[0]!.desc))).equals(img.layers[0]!.data));
  });

  test('-k skips verification; without either the error says what to do', async () => {
    assert.deepEqual(await ep({ skipVerify: true }).resolve(), img.manifest.desc);
    await assert.rejects(ep({}).resolve(), (e: unknown) => isCtrError(e, 'Unavailable') && /TLS certificate not trusted/.test(e.message) && /--tlscacert/.test(e.message));
  });

  test('--plain-http against a TLS registry fails clearly', async () => {
    await assert.rejects(ep({ plainHttp: true }).resolve(), (e: unknown) => isCtrError(e, 'InvalidArgument') && /speaks HTTPS.*drop --plain-http/.test(e.message));
  });

  test('an unreadable --tlscacert is InvalidArgument', () => {
    assert.throws(() => ep({ tlsCaCert: '/nonexistent/ca.pem' }), (e: unknown) => isCtrError(e, 'InvalidArgument') && e.message.includes('/nonexistent/ca.pem'));
  });
});
