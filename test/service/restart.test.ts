// Mounts survive the service: a container started with `ctr run -d` on lazily pulled layers keeps reading
// files it never read before across a SIGTERM restart and a SIGKILL of the gRPC side (the fuse manager holds
// the FUSE sessions); the metadata persists; as after a reboot (no manager) with the registry unreachable,
// the service starts at once and serves what is local; a killed fuse manager is replaced on the next
// request and its dead mounts detached; `snapshotter stop --unmount` leaves no mount behind. Real containerd, runc, registry (behind the fault proxy), reference rpull.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { MANAGER_SEMI_SPACE_MIB } from '../../src/host/young-generation.js';
import { cliProcess } from '../cli/cli-harness.js';
import { fuseManagerPid, startContainerd, startService, type ContainerdFixture, type ServiceProcess } from '../fixtures/containerd.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { MOTD, pushServiceImages, type ServiceImages } from './service-images.js';

const skip = process.getuid?.() !== 0 ? 'needs root: containerd, FUSE and overlayfs mounts, runc containers' : false;

describe('lazy mounts survive the service', { skip, concurrency: false }, () => {
  let work = '';
  let registry: RegistryFixture;
  let proxy: FaultProxy;
  let images: ServiceImages;
  let svc: ServiceProcess;
  let cd: ContainerdFixture;
  let svcRoot = '';
  let address = '';
  let config = '';
  const sn = ['--snapshotter', 'stargz'];
  const exec = (id: string, cmd: string[]) => cd.ctr(['tasks', 'exec', '--exec-id', id, 'keeper', ...cmd], { reject: false, timeoutMs: 30_000 });
  const ready = () => cd.ready('stargz');
  const managerPid = () => fuseManagerPid(svcRoot);

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'svc-restart-'));
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
    images = await pushServiceImages(work, proxy.host);
    svcRoot = join(work, 'svc-root');
    address = join(work, 'stargz.sock');
    config = join(work, 'config.toml');
    // no background fetch: every file read after a restart is fetched then, through the fuse manager
    await writeFile(config, 'no_background_fetch = true\n');
    svc = await startService(svcRoot, address, ['--config', config]);
    cd = await startContainerd(join(work, 'containerd'), { snapshotters: { stargz: address } });
    const pulled = await execa('ctr-remote', ['--address', cd.address, 'i', 'rpull', '--plain-http', ...sn, images.esgz], { reject: false });
    assert.equal(pulled.exitCode, 0, pulled.stderr);
    await cd.ctr(['run', '-d', ...sn, images.esgz, 'keeper', 'sh', '-c', 'cat /etc/motd > /tmp/first; exec sleep 100000']);
  });
  after(async () => {
    await cd?.ctr(['tasks', 'kill', '-s', 'SIGKILL', 'keeper'], { reject: false });
    await sleep(300);
    await cd?.ctr(['tasks', 'rm', '-f', 'keeper'], { reject: false });
    await cd?.ctr(['containers', 'rm', 'keeper'], { reject: false });
    await cd?.stop();
    await svc?.stop('SIGINT');
    await cliProcess(['snapshotter', 'stop', '--root', svcRoot, '--unmount']);
    await proxy?.stop();
    await registry?.stop();
    for (const m of (await mountsUnder(work)).reverse()) await execa('umount', ['-l', m], { reject: false });
    await rm(work, { recursive: true, force: true });
  });

  test('SIGTERM: the service exits 0, the mounts stay, the container reads a file it never read; a new service takes over', async () => {
    for (let i = 0; (await exec(`e1-${i}`, ['cat', '/tmp/first'])).stdout !== MOTD; i++) {
      assert.ok(i < 100, 'the container read /etc/motd at start');
      await sleep(100);
    }
    assert.equal(await svc.stop('SIGTERM'), 0);
    assert.ok((await mountsUnder(svcRoot)).length >= 2, 'the lazy layers are still mounted');
    proxy.stats.reset();
    // the middle of the 8 MiB random payload: never read, not near the TOC, so it must be fetched now
    assert.equal((await exec('e2', ['sh', '-c', 'dd if=/srv/payload.bin bs=4096 skip=1000 count=4 2>/dev/null | wc -c'])).stdout.trim(), '16384');
    assert.ok(proxy.stats.requests.some((r) => images.esgzLayers.some((d) => r.path.endsWith(d))), 'the read was fetched while no service ran');
    svc = await startService(svcRoot, address, ['--config', config]);
    await ready();
    // the metadata persisted: the remote snapshots are there, and new containers start on them
    assert.equal((await cd.ctr(['run', '--rm', ...sn, images.esgz, 'after-term', 'cat', '/etc/motd'])).stdout, MOTD);
  });

  test('SIGKILL of the gRPC side: running containers keep reading; the next start serves again', async () => {
    assert.equal(await svc.stop('SIGKILL'), 137);
    assert.equal((await exec('e3', ['sh', '-c', 'head -c 100000 /srv/payload.bin | wc -c'])).stdout.trim(), '100000');
    svc = await startService(svcRoot, address, ['--config', config]);
    await ready();
    assert.equal((await cd.ctr(['run', '--rm', ...sn, images.esgz, 'after-kill', 'cat', '/srv/later.txt'])).stdout, 'read after a restart\n');
  });

  test('as after a reboot, with the registry unreachable: the service starts at once and serves what is local', async () => {
    assert.equal(await svc.stop('SIGTERM'), 0);
    process.kill(await managerPid(), 'SIGKILL'); // no process holds the layers any more; their mounts are dead
    const rule = proxy.addRule({ status: 503, statusBody: 'registry down' });
    try {
      const started = Date.now();
      svc = await startService(svcRoot, address, ['--config', config]);
      assert.ok(Date.now() - started < 15_000, `started in ${Date.now() - started} ms`);
      await ready();
      // the layers are mounted again from their kept TOCs; what was read before is in the chunk cache
      const run = await cd.ctr(['run', '--rm', ...sn, images.esgz, 'offline', 'cat', '/etc/motd'], { reject: false });
      assert.deepEqual([run.exitCode, run.stdout], [0, MOTD], run.stderr);
      const restored = svc.logLines().find((l) => l['msg'] === 'remote snapshots restored');
      assert.ok(restored && restored['restored'] === restored['total'], JSON.stringify(svc.logLines().slice(-5)));
    } finally {
      proxy.removeRule(rule);
    }
  });

  test('a killed fuse manager is replaced on the next request; its dead mounts are detached and served again', async () => {
    const pid = await managerPid();
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    await sleep(300);
    const run = await cd.ctr(['run', '--rm', ...sn, images.esgz, 'after-manager', 'cat', '/srv/later.txt'], { reject: false });
    assert.deepEqual([run.exitCode, run.stdout], [0, 'read after a restart\n'], run.stderr);
    const replacement = await managerPid();
    assert.notEqual(replacement, pid);
    assert.match(await readFile(join(svcRoot, 'snapshotter', 'fuse-manager.log'), 'utf8'), /detached a dead mount of a previous manager/);
    // started as every manager is: big buffers mapped on their own (fuse-manager-client.ts MANAGER_MALLOC_ENV),
    // a young generation of 1 MiB semi-spaces (host/young-generation.ts)
    const environ = (await readFile(`/proc/${replacement}/environ`, 'utf8')).split('\0');
    assert.ok(environ.includes(`MALLOC_MMAP_THRESHOLD_=${1 << 20}`), 'the manager runs with glibc\'s mmap threshold at 1 MiB');
    const cmdline = (await readFile(`/proc/${replacement}/cmdline`, 'utf8')).split('\0');
    assert.ok(cmdline.includes(`--max-semi-space-size=${MANAGER_SEMI_SPACE_MIB}`), `the manager's node runs with the semi-space cap: ${cmdline.join(' ')}`);
  });

  test('snapshotter stop --unmount ends the service and the fuse manager and leaves no mount', async () => {
    await cd.ctr(['tasks', 'kill', '-s', 'SIGKILL', 'keeper'], { reject: false });
    await sleep(300);
    await cd.ctr(['tasks', 'rm', '-f', 'keeper'], { reject: false });
    await cd.ctr(['containers', 'rm', 'keeper']);
    const r = await cliProcess(['snapshotter', 'stop', '--root', svcRoot, '--unmount']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^stopped the service \(pid \d+\); unmounted its lazy layers\n$/);
    assert.equal(await svc.exited, 0);
    assert.deepEqual(await mountsUnder(svcRoot), [], (await execa('grep', [svcRoot, '/proc/self/mountinfo'], { reject: false })).stdout);
  });
});
