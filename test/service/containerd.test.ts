// The snapshotter service under a real containerd (Debian's 1.6.20, private to the test) with real clients:
// `ctr` for the snapshot RPCs, plain pulls (the fallback path) and containers; the reference `ctr-remote`
// 0.12 (`i rpull --snapshotter`) for the remote-snapshot protocol; a grpc-js client for the error codes,
// List filters and Update masks containerd's own database would otherwise answer. The registry sits behind
// the shaping proxy (20 ms per request, 100 Mbit/s) so the bytes fetched are counted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { execa } from 'execa';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { IDLE_TRIM_MS } from '../../src/service/idle-trim.js';
import { snapshotsServiceDefinition } from '../../src/service/snapshots-grpc.js';
import { startContainerd, startService, type ContainerdFixture, type ServiceProcess } from '../fixtures/containerd.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { MOTD, pushServiceImages, type ServiceImages } from './service-images.js';

const skip = process.getuid?.() !== 0 ? 'needs root: containerd, FUSE and overlayfs mounts, runc containers' : false;

type Call = (method: string, req: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** A direct client of the service's socket (the Snapshots service as containerd would call it). */
function snapshotsClient(address: string): { call: Call; list: (filters: string[]) => Promise<string[]>; close: () => void } {
  const Client = grpc.makeGenericClientConstructor(snapshotsServiceDefinition(), 'Snapshots');
  const client = new Client(`unix://${address}`, grpc.credentials.createInsecure()) as unknown as Record<string, Function> & grpc.Client;
  const call: Call = (method, req) =>
    new Promise((resolve, reject) => client[method]!.call(client, req, (e: grpc.ServiceError | null, res: Record<string, unknown>) => (e ? reject(e) : resolve(res))));
  const list = (filters: string[]) =>
    new Promise<string[]>((resolve, reject) => {
      const names: string[] = [];
      const stream = client['List']!.call(client, { filters }) as grpc.ClientReadableStream<{ info: { name: string }[] }>;
      stream.on('data', (m) => names.push(...m.info.map((i: { name: string }) => i.name)));
      stream.on('error', reject);
      stream.on('end', () => resolve(names.sort()));
    });
  return { call, list, close: () => client.close() };
}

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'OK';
  } catch (e) {
    return grpc.status[(e as grpc.ServiceError).code] ?? String(e);
  }
};

describe('the snapshotter service under containerd', { skip, concurrency: false }, () => {
  let work = '';
  let registry: RegistryFixture;
  let proxy: FaultProxy;
  let images: ServiceImages;
  let svc: ServiceProcess;
  let cd: ContainerdFixture;
  const sn = ['--snapshotter', 'stargz'];
  const rpull = (ref: string) => execa('ctr-remote', ['--address', cd.address, 'i', 'rpull', '--plain-http', ...sn, ref], { reject: false, timeout: 120_000 });
  const logOf = (msg: string) => svc.logLines().filter((l) => l['msg'] === msg);

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'svc-containerd-'));
    registry = await startRegistry();
    // the shaping of the benchmarks: 20 ms per request, one 100 Mbit/s link
    proxy = await startFaultProxy(registry.url, { link: { rttMs: 20, bytesPerSec: 12.5e6 } });
    images = await pushServiceImages(work, proxy.host);
    // background fetch off, so the bytes fetched are what the workloads read (and the prefetch)
    await writeFile(join(work, 'config.toml'), 'no_background_fetch = true\nmetrics_address = "127.0.0.1:0"\nprefetch_size = 1\n');
    svc = await startService(join(work, 'svc-root'), join(work, 'run', 'stargz.sock'), ['--config', join(work, 'config.toml')]);
    cd = await startContainerd(join(work, 'containerd'), { snapshotters: { stargz: svc.address } });
  });
  after(async () => {
    await cd?.stop();
    await svc?.stop('SIGINT');
    await proxy?.stop();
    await registry?.stop();
    for (const m of (await mountsUnder(work)).reverse()) await execa('umount', ['-l', m], { reject: false });
    await rm(work, { recursive: true, force: true });
  });

  test('the config is read: a key without effect here is reported, not silently taken', () => {
    assert.ok(svc.logLines().some((l) => l['level'] === 'warning' && /prefetch_size is accepted but has no effect/.test(String(l['msg']))), JSON.stringify(svc.logLines()));
  });

  test('ctr snapshots drives Prepare, Mounts, Commit, View, Stat, Update, Usage and Remove', async () => {
    const snap = (args: string[], reject = true) => cd.ctr(['snapshots', ...sn, ...args], { reject });
    // ctr's snapshots hold no lease: containerd's GC, which a removal triggers, may take any of them that is not
    // a GC root (it took rpc-v between the removals of rpc-b and rpc-v once, under load)
    const created = async (key: string) => void (await snap(['label', key, 'containerd.io/gc.root=test']));
    await snap(['prepare', 'rpc-a']);
    await created('rpc-a');
    assert.match((await snap(['mounts', '/mnt', 'rpc-a'])).stdout, /^mount -t bind \S+\/svc-root\/snapshotter\/snapshots\/\d+\/fs \/mnt -o rw,rbind$/m);
    await snap(['commit', 'rpc-base', 'rpc-a']);
    await created('rpc-base');
    await snap(['prepare', 'rpc-b', 'rpc-base']);
    await created('rpc-b');
    assert.match((await snap(['mounts', '/mnt', 'rpc-b'])).stdout, /-t overlay overlay \/mnt -o workdir=\S+,upperdir=\S+,lowerdir=\S+\/snapshots\/\d+\/fs$/m);
    await snap(['view', 'rpc-v', 'rpc-base']);
    await created('rpc-v');
    await snap(['label', 'rpc-base', 'color=blue', 'size=big']);
    await snap(['label', 'rpc-base', 'size=']); // an empty value deletes the label
    const info = JSON.parse((await snap(['info', 'rpc-base'])).stdout) as { Kind: string; Labels: Record<string, string> };
    assert.equal(info.Kind, 'Committed');
    assert.equal(info.Labels['color'], 'blue');
    assert.equal(info.Labels['size'], undefined);
    assert.match((await snap(['usage', 'rpc-b'])).stdout, /rpc-b\s+\S+ \S*B\s+\d+/);
    const refused = await snap(['rm', 'rpc-base'], false);
    assert.notEqual(refused.exitCode, 0);
    assert.match(refused.stderr, /failed precondition/);
    await snap(['rm', 'rpc-b', 'rpc-v', 'rpc-base']);
    assert.doesNotMatch((await snap(['ls'])).stdout, /rpc-/);
  });

  test('errors travel as containerd\'s codes; List filters and Update masks work as containerd\'s', async () => {
    // a second instance that containerd does not know: containerd's GC removes from its snapshotters what its
    // own database lacks, and a collection the last test's removals started took g/1/a here once
    const direct = await startService(join(work, 'direct-root'), join(work, 'run', 'direct.sock'));
    const c = snapshotsClient(direct.address);
    try {
      assert.equal(await codeOf(c.call('Stat', { key: 'nope' })), 'NOT_FOUND');
      await c.call('Prepare', { key: 'g/1/a', labels: { 'containerd.io/snapshot.ref': 'x', keep: 'me' } });
      assert.equal(await codeOf(c.call('Prepare', { key: 'g/1/a' })), 'ALREADY_EXISTS');
      assert.equal(await codeOf(c.call('Prepare', { key: 'g/1/b', parent: 'g/1/a' })), 'INVALID_ARGUMENT'); // parent not committed
      assert.equal(await codeOf(c.call('Prepare', { key: 'g/1/c', parent: 'missing' })), 'NOT_FOUND');
      assert.equal(await codeOf(c.call('Mounts', { key: 'nope' })), 'NOT_FOUND');
      await c.call('Commit', { name: 'g/2/base', key: 'g/1/a' });
      assert.equal(await codeOf(c.call('Mounts', { key: 'g/2/base' })), 'FAILED_PRECONDITION');
      await c.call('Prepare', { key: 'g/3/child', parent: 'g/2/base' });
      assert.equal(await codeOf(c.call('Remove', { key: 'g/2/base' })), 'FAILED_PRECONDITION');
      assert.equal(await codeOf(c.call('Prepare', { key: 'g/1/big', labels: { k: 'v'.repeat(5000) } })), 'INVALID_ARGUMENT');
      assert.equal(await codeOf(c.list(['labels.bad syntax'])), 'INVALID_ARGUMENT');
      // the unpacker's adoption query, and the other operators
      assert.deepEqual(await c.list(['labels."containerd.io/snapshot.ref"==x,parent==""']), ['g/2/base']);
      assert.deepEqual(await c.list(['parent=="g/2/base"']), ['g/3/child']);
      assert.deepEqual(await c.list(['kind==committed,name~=^g/', 'name~=/child$/']), ['g/2/base', 'g/3/child']);
      assert.deepEqual(await c.list(['name~=^g/,kind!=active']), ['g/2/base']);
      assert.deepEqual(await c.list(['labels.keep']), ['g/2/base']);
      // a field mask changes only the labels it names; without a mask the labels are replaced
      let r = await c.call('Update', { info: { name: 'g/2/base', labels: { added: '1' } }, update_mask: { paths: ['labels.added', 'labels.keep'] } });
      assert.deepEqual((r['info'] as { labels: unknown }).labels, { 'containerd.io/snapshot.ref': 'x', added: '1' });
      r = await c.call('Update', { info: { name: 'g/2/base', labels: { only: 'this' } } });
      assert.deepEqual((r['info'] as { labels: unknown }).labels, { only: 'this' });
      const usage = await c.call('Usage', { key: 'g/3/child' });
      assert.equal(typeof usage['inodes'], 'number');
      await c.call('Remove', { key: 'g/3/child' });
      await c.call('Remove', { key: 'g/2/base' });
      await c.call('Cleanup', {});
    } finally {
      c.close();
      await direct.stop('SIGINT');
    }
  });

  test('lazy: the reference ctr-remote rpulls through the service, ctr runs it, the layers never reach containerd', async () => {
    proxy.stats.reset();
    const pulled = await rpull(images.esgz);
    assert.equal(pulled.exitCode, 0, pulled.stderr);
    // the shell stays a moment after cat: containerd can lose the output of a task that exits right after it
    // prints (containerd/containerd#770; seen once here under a loaded full suite: exit 0, nothing printed)
    const run = await cd.ctr(['run', '--rm', ...sn, images.esgz, 'lazy-1', 'sh', '-c', 'cat /etc/motd && sleep 0.2']);
    assert.equal(run.stdout, MOTD, `ctr run printed ${JSON.stringify(run.stdout)}, stderr ${JSON.stringify(run.stderr)}`);
    const remote = logOf('remote snapshot').map((l) => l['digest']);
    for (const d of images.esgzLayers) assert.ok(remote.includes(d), `layer ${d} was mounted lazily (${JSON.stringify(remote)})`);
    const content = (await cd.ctr(['content', 'ls', '-q'])).stdout;
    for (const d of images.esgzLayers) assert.doesNotMatch(content, new RegExp(d), 'the layer blob never reaches the content store');
    const layerBytes = [...proxy.stats.bytesByPath].filter(([p]) => images.esgzLayers.some((d) => p.endsWith(d))).reduce((n, [, b]) => n + b, 0);
    assert.ok(layerBytes < images.esgzLayerBytes / 3, `fetched ${layerBytes} of ${images.esgzLayerBytes} layer bytes`);
    assert.ok((await mountsUnder(join(work, 'svc-root'))).length >= 2, 'the layers are FUSE mounts of the service');
  });

  test('fallback: a gzip layer in an rpulled image is logged and counted; a plain pull of a gzip image goes the normal way', async () => {
    const before = logOf('remote snapshot fell back to a normal layer: containerd downloads it').length;
    const pulled = await rpull(images.mixed);
    assert.equal(pulled.exitCode, 0, pulled.stderr);
    const fell = logOf('remote snapshot fell back to a normal layer: containerd downloads it').slice(before);
    // a gzip layer carries no toc.digest annotation: refused before any request, with that reason
    assert.deepEqual(fell.map((l) => [l['digest'], l['reason']]), [[images.gzipBaseLayer, 'unverifiable']]);
    assert.match(String(fell[0]!['error']), /no TOC digest/);
    assert.equal((await cd.ctr(['run', '--rm', ...sn, images.mixed, 'mixed-1', 'cat', '/etc/motd'])).stdout, MOTD);
    // (after the mixed image: its gzip base layer would otherwise be there already)
    await cd.ctr(['images', 'pull', '--plain-http', ...sn, images.gzip]);
    assert.equal((await cd.ctr(['run', '--rm', ...sn, images.gzip, 'plain-1', 'cat', '/etc/motd'])).stdout, MOTD);
  });

  test('verification: a layer whose TOC does not match its toc.digest is never served lazily; it falls back, counted', async () => {
    const before = logOf('remote snapshot fell back to a normal layer: containerd downloads it').length;
    const pulled = await rpull(images.badtoc);
    assert.equal(pulled.exitCode, 0, pulled.stderr);
    const fell = logOf('remote snapshot fell back to a normal layer: containerd downloads it').slice(before);
    assert.deepEqual(fell.map((l) => [l['digest'], l['reason']]), [[images.badtocLayer, 'verification']]);
    assert.equal((await cd.ctr(['run', '--rm', ...sn, images.badtoc, 'bad-1', 'cat', '/etc/motd'])).stdout, MOTD);
    assert.match((await cd.ctr(['content', 'ls', '-q'])).stdout, new RegExp(images.badtocLayer), 'containerd downloaded the layer itself');
  });

  test('metrics: fallbacks by reason, remote snapshots, per-layer bytes from the fuse manager, RPC latency; /debug as JSON', async () => {
    const port = svc.logLines().find((l) => l['msg'] === 'metrics')?.['port'];
    assert.equal(typeof port, 'number');
    const text = await (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text();
    assert.match(text, /^ctr_remote_fallbacks_total\{reason="verification"\} 1$/m);
    assert.match(text, /^ctr_remote_fallbacks_total\{reason="unverifiable"\} 1$/m);
    assert.match(text, /^ctr_remote_remote_snapshots_total [2-9]$/m);
    const fetched = images.esgzLayers.map((d) => Number(new RegExp(`^ctr_remote_layer_fetched_bytes\\{digest="${d}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN));
    const total = fetched.reduce((a, b) => a + b, 0);
    assert.ok(total > 0 && total < images.esgzLayerBytes / 3, `per-layer fetched bytes ${JSON.stringify(fetched)} of ${images.esgzLayerBytes}`);
    assert.match(text, /^ctr_remote_rpc_duration_seconds_count\{method="Prepare",code="ALREADY_EXISTS"\} [1-9]\d*$/m);
    assert.match(text, /^ctr_remote_fuse_manager_resident_bytes \d{7,}$/m);
    assert.match(text, /^ctr_remote_chunk_cache_bytes [1-9]\d*$/m);
    assert.match(text, /^ctr_remote_fuse_operation_duration_seconds_count\{operation="LOOKUP"\} [1-9]\d*$/m);
    assert.match(text, /^ctr_remote_fuse_operation_duration_seconds_bucket\{operation="READ",le="\+Inf"\} [1-9]\d*$/m);
    assert.match(text, /^ctr_remote_on_demand_fetch_duration_seconds_count [1-9]\d*$/m);
    const debug = (await (await fetch(`http://127.0.0.1:${String(port)}/debug`)).json()) as { manager: { layers: { layerDigest: string }[] } };
    assert.ok(debug.manager.layers.some((l) => l.layerDigest === images.esgzLayers[1]));
  });

  test('quiet: once nothing has happened for IDLE_TRIM_MS, the fuse manager drops the chunks it holds in memory and collects garbage', async () => {
    // the containers above read chunks through the memory LRU; the manager takes V8's collector at start (host/garbage-collector.ts)
    const managerLog = join(work, 'svc-root', 'snapshotter', 'fuse-manager.log');
    const trims = async () => (await readFile(managerLog, 'utf8')).split('\n').filter((l) => l.includes('"quiet: memory trimmed"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const deadline = Date.now() + IDLE_TRIM_MS * 4;
    while (!(await trims()).some((t) => Number(t['droppedBytes']) > 0) && Date.now() < deadline) await sleep(250);
    const trim = (await trims()).find((t) => Number(t['droppedBytes']) > 0);
    assert.ok(trim, `a trim that dropped chunks: ${JSON.stringify(await trims())}`);
    assert.equal(trim['gc'], true, 'the garbage was collected too');
    // the service itself (RPCs only, with a fuse manager) collects its garbage once its RPCs have been quiet
    const client = snapshotsClient(svc.address);
    assert.equal(await codeOf(client.call('Stat', { key: 'no-such-snapshot' })), 'NOT_FOUND');
    client.close();
    const rpcs = Date.now();
    while (!logOf('quiet: memory trimmed').some((t) => Date.parse(String(t['time'])) > rpcs) && Date.now() < rpcs + IDLE_TRIM_MS * 4) await sleep(250);
    const own = logOf('quiet: memory trimmed').filter((t) => Date.parse(String(t['time'])) > rpcs);
    assert.ok(own.length === 1 && own[0]!['gc'] === true && own[0]!['droppedBytes'] === 0, `one collection after the RPCs, nothing to drop: ${JSON.stringify(own)}`);
    assert.ok(Date.parse(String(own[0]!['time'])) - rpcs >= IDLE_TRIM_MS, 'not before IDLE_TRIM_MS of quiet');
  });

  test('GC: removing the images lets containerd remove their snapshots, and the service unmounts the lazy layers', async () => {
    for (const ref of [images.esgz, images.gzip, images.mixed, images.badtoc]) await cd.ctr(['images', 'rm', '--sync', ref]);
    assert.deepEqual(await mountsUnder(join(work, 'svc-root')), []);
    assert.equal((await cd.ctr(['snapshots', ...sn, 'ls'])).stdout.trim().split('\n').length, 1, 'only the header is left');
  });
});
