// Three nodes on one machine, each a containerd with its own snapshotter service, sharing a registry behind a
// mirror that their hosts.toml names (`[resolver] config_path`): every node starts the image lazily with the
// layer reads served by the mirror; with the mirror down, reads fall through to the registry and no
// container fails; one node's restart and GC leave the others' running containers reading.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { cliProcess } from '../cli/cli-harness.js';
import { fuseManagerLog, startContainerd, startService, type ContainerdFixture, type ServiceProcess } from '../fixtures/containerd.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { MOTD, pushServiceImages, type ServiceImages } from './service-images.js';

const skip = process.getuid?.() !== 0 ? 'needs root: containerd, FUSE and overlayfs mounts, runc containers' : false;

interface Node {
  name: string;
  root: string;
  address: string;
  svc: ServiceProcess;
  cd: ContainerdFixture;
}

describe('three nodes behind a mirror', { skip, concurrency: false }, () => {
  let work = '';
  let origin: RegistryFixture;
  let mirror: RegistryFixture;
  let originProxy: FaultProxy;
  let mirrorProxy: FaultProxy;
  let images: ServiceImages;
  let config = '';
  const nodes: Node[] = [];
  const sn = ['--snapshotter', 'stargz'];
  const layerBytes = (p: FaultProxy) => p.stats.requests.filter((r) => images.esgzLayers.some((d) => r.path.includes(d)) && r.method === 'GET').reduce((n, r) => n + r.bytes, 0);

  const startNode = async (name: string): Promise<Node> => {
    const root = join(work, name, 'svc');
    const address = join(work, name, 'stargz.sock');
    const svc = await startService(root, address, ['--config', config]);
    const cd = await startContainerd(join(work, name, 'containerd'), { snapshotters: { stargz: address } });
    return { name, root, address, svc, cd };
  };
  const exec = (n: Node, id: string, cmd: string[]) => n.cd.ctr(['tasks', 'exec', '--exec-id', id, `keeper-${n.name}`, ...cmd], { reject: false, timeoutMs: 30_000 });
  const readPayload = async (n: Node, id: string, block: number) =>
    (await exec(n, id, ['sh', '-c', `dd if=/srv/payload.bin bs=4096 skip=${block} count=2 2>/dev/null | wc -c`])).stdout.trim();

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'svc-nodes-'));
    origin = await startRegistry();
    mirror = await startRegistry();
    originProxy = await startFaultProxy(origin.url);
    mirrorProxy = await startFaultProxy(mirror.url);
    images = await pushServiceImages(work, originProxy.host);
    // the mirror holds the same blobs (a pull-through cache would, once warm)
    const copied = await execa('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--preserve-digests', `docker://${images.esgz}`, `docker://${mirrorProxy.host}/svc/app:esgz`], { reject: false });
    assert.equal(copied.exitCode, 0, copied.stderr);
    const hosts = join(work, 'certs.d');
    await mkdir(join(hosts, originProxy.host), { recursive: true });
    await writeFile(join(hosts, originProxy.host, 'hosts.toml'), `server = "http://${originProxy.host}"\n\n[host."http://${mirrorProxy.host}"]\n  capabilities = ["pull", "resolve"]\n`);
    config = join(work, 'config.toml');
    await writeFile(config, `no_background_fetch = true\n\n[resolver]\n  config_path = "${hosts}"\n`);
    for (const name of ['n1', 'n2', 'n3']) nodes.push(await startNode(name));
  });
  after(async () => {
    for (const n of nodes) {
      await n.cd.ctr(['tasks', 'kill', '-s', 'SIGKILL', `keeper-${n.name}`], { reject: false });
    }
    await sleep(300);
    for (const n of nodes) {
      await n.cd.ctr(['tasks', 'rm', '-f', `keeper-${n.name}`], { reject: false });
      await n.cd.ctr(['containers', 'rm', `keeper-${n.name}`], { reject: false });
      await n.cd.stop();
      await n.svc.stop('SIGINT');
      await cliProcess(['snapshotter', 'stop', '--root', n.root, '--unmount']);
    }
    await originProxy?.stop();
    await mirrorProxy?.stop();
    await origin?.stop();
    await mirror?.stop();
    for (const m of (await mountsUnder(work)).reverse()) await execa('umount', ['-l', m], { reject: false });
    await rm(work, { recursive: true, force: true });
  });

  test('every node starts the image lazily; the layer reads come from the mirror, none from the registry', async () => {
    originProxy.stats.reset();
    mirrorProxy.stats.reset();
    for (const n of nodes) {
      const pulled = await execa('ctr-remote', ['--address', n.cd.address, 'i', 'rpull', '--plain-http', ...sn, images.esgz], { reject: false });
      assert.equal(pulled.exitCode, 0, pulled.stderr);
      await n.cd.ctr(['run', '-d', ...sn, images.esgz, `keeper-${n.name}`, 'sh', '-c', 'exec sleep 100000']);
      for (let i = 0; (await exec(n, `motd-${i}`, ['cat', '/etc/motd'])).stdout !== MOTD; i++) {
        assert.ok(i < 50, `${n.name} reads /etc/motd`);
        await sleep(100);
      }
      assert.ok(n.svc.logLines().some((l) => l['msg'] === 'remote snapshot'), `${n.name} mounted layers lazily`);
    }
    assert.ok(layerBytes(mirrorProxy) > 0, 'the mirror served layer bytes');
    assert.equal(layerBytes(originProxy), 0, 'the registry served no layer bytes');
  });

  test('with the mirror down, reads fall through to the registry; no container fails', async () => {
    const down = mirrorProxy.addRule({ status: 503, statusBody: 'mirror down' });
    originProxy.stats.reset();
    try {
      for (const [i, n] of nodes.entries()) assert.equal(await readPayload(n, `down-${i}`, 500 + i * 100), '8192', n.name);
      assert.ok(layerBytes(originProxy) > 0, 'the registry served the reads');
      const warned = nodes[0]!.svc.logLines().concat(await fuseManagerLog(nodes[0]!.root)).some((l) => /mirror .* failed/.test(String(l['msg'])));
      assert.ok(warned, 'the mirror failure was logged');
    } finally {
      mirrorProxy.removeRule(down);
    }
  });

  test('one node\'s restart and GC leave the other nodes reading', async () => {
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    assert.equal(await n1.svc.stop('SIGTERM'), 0);
    n1.svc = await startService(n1.root, n1.address, ['--config', config]);
    await n1.cd.ready('stargz');
    await n1.cd.ctr(['tasks', 'kill', '-s', 'SIGKILL', `keeper-${n1.name}`], { reject: false });
    await sleep(300);
    await n1.cd.ctr(['tasks', 'rm', '-f', `keeper-${n1.name}`], { reject: false });
    for (let i = 0; ; i++) {
      const r = await n1.cd.ctr(['containers', 'rm', `keeper-${n1.name}`], { reject: false });
      if (r.exitCode === 0) break;
      assert.ok(i < 50, r.stderr);
      await sleep(100);
    }
    await n1.cd.ctr(['images', 'rm', '--sync', images.esgz]);
    assert.deepEqual(await mountsUnder(n1.root), [], 'node 1 unmounted its layers');
    assert.equal(await readPayload(n2, 'after-gc-2', 1500), '8192');
    assert.equal(await readPayload(n3, 'after-gc-3', 1600), '8192');
  });
});
