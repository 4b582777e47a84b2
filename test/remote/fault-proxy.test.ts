// The fault proxy fixture itself, in front of a plain node:http server (the proxy is generic HTTP).
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';

const DATA = Buffer.from(Array.from({ length: 500_000 }, (_, i) => i % 251));

describe('fault proxy', () => {
  let server: Server;
  let proxy: FaultProxy;
  let shaped: FaultProxy;
  const ranges: (string | undefined)[] = [];

  before(async () => {
    server = createServer((req, res) => {
      ranges.push(req.headers.range);
      res.writeHead(200, { 'content-length': String(DATA.length), 'x-path': req.url ?? '' });
      res.end(DATA);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    proxy = await startFaultProxy(url);
    shaped = await startFaultProxy(url, { link: { rttMs: 30, bytesPerSec: 2_000_000 } });
  });
  beforeEach(() => {
    proxy.clearRules();
    proxy.stats.reset();
    ranges.length = 0;
  });
  after(async () => {
    await proxy?.stop();
    await shaped?.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const get = async (p: FaultProxy, path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${p.url}${path}`, { headers });
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  };

  test('forwards and counts bytes per path', async () => {
    const r = await get(proxy, '/a?x=1');
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(DATA));
    await get(proxy, '/b');
    assert.equal(proxy.stats.bytesByPath.get('/a'), DATA.length);
    assert.equal(proxy.stats.totalBytes, 2 * DATA.length);
    assert.deepEqual(proxy.stats.requests.map((q) => [q.method, q.path, q.status, q.bytes]), [['GET', '/a?x=1', 200, DATA.length], ['GET', '/b', 200, DATA.length]]);
  });

  test('nth, times and when select requests; rules compose', async () => {
    const a = proxy.addRule({ path: /^\/x/, nth: 2, status: 500 });
    const b = proxy.addRule({ path: /^\/x/, times: 1, headers: { 'x-extra': 'yes' } });
    const c = proxy.addRule({ path: /^\/x/, when: (n) => n % 3 === 0, status: 503 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(proxy, '/x')).status);
    assert.deepEqual(statuses, [200, 500, 503, 200]);
    assert.deepEqual([a.seen, a.hits, b.hits, c.hits], [4, 1, 1, 1]);
  });

  test('body faults: flip, truncate, replace, reset', async () => {
    proxy.addRule({ path: /flip/, flipByteAt: 7 });
    const f = (await get(proxy, '/flip')).body;
    assert.equal(f[7], DATA[7]! ^ 0xff);
    assert.ok(f.subarray(8).equals(DATA.subarray(8)));
    proxy.addRule({ path: /trunc/, truncateAfterBytes: 1000 });
    const t = await get(proxy, '/trunc');
    assert.equal(t.headers.get('content-length'), '1000');
    assert.ok(t.body.equals(DATA.subarray(0, 1000)));
    proxy.addRule({ path: /repl/, replaceBody: (b) => b.subarray(0, 3) });
    assert.deepEqual([...(await get(proxy, '/repl')).body], [0, 1, 2]);
    proxy.addRule({ path: /reset/, resetAfterBytes: 100_000 });
    await assert.rejects(get(proxy, '/reset'));
    assert.equal(proxy.stats.bytesByPath.get('/reset'), 100_000);
  });

  test('stalls: headers and N body bytes then silence, or no answer at all, until the client gives up', async () => {
    proxy.addRule({ path: /mid/, stallAfterBytes: 4 });
    const res = await fetch(`${proxy.url}/mid`);
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let got = 0;
    const silent = new Promise<'silent'>((r) => setTimeout(() => r('silent'), 300));
    for (;;) {
      const next = await Promise.race([reader.read(), silent]);
      if (next === 'silent') break;
      assert.ok(!next.done, 'the stalled body does not end');
      got += next.value.length;
    }
    assert.equal(got, 4);
    await reader.cancel();
    proxy.addRule({ path: /never/, stallBeforeHeaders: true });
    await assert.rejects(fetch(`${proxy.url}/never`, { signal: AbortSignal.timeout(300) }), (e: Error) => e.name === 'TimeoutError');
    const done = await get(proxy, '/after');
    assert.ok(done.body.equals(DATA), 'other requests are served meanwhile');
  });

  test('range faults: reject multi-range, strip Range', async () => {
    proxy.addRule({ rejectMultiRange: true });
    assert.equal((await get(proxy, '/r', { range: 'bytes=0-1,5-6' })).status, 400);
    await get(proxy, '/r', { range: 'bytes=0-1' });
    proxy.addRule({ ignoreRange: true });
    await get(proxy, '/r', { range: 'bytes=0-1' });
    assert.deepEqual(ranges, ['bytes=0-1', undefined]);
  });

  test('per-rule bandwidth and the shared link', async () => {
    proxy.addRule({ bytesPerSec: 2_000_000 });
    let t0 = Date.now();
    await get(proxy, '/slow');
    assert.ok(Date.now() - t0 >= 200, `500 kB at 2 MB/s took ${Date.now() - t0} ms`);
    t0 = Date.now();
    await Promise.all([get(shaped, '/1'), get(shaped, '/2')]);
    const took = Date.now() - t0;
    assert.ok(took >= 450, `two 500 kB responses over one 2 MB/s link took ${took} ms (≥ 500 expected)`);
  });
});
