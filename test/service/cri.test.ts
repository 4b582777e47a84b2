// The CRI keychain: containerd's CRI plugin on with this snapshotter (snapshot annotations on), a registry
// that needs credentials, and a minimal CRI client (grpc-js; the few runtime.v1 messages written by hand
// below) calling PullImage with AuthConfig on the service's socket, as kubelet would with
// --image-service-endpoint. The layers become remote snapshots (their lazy reads had the credentials), the
// credentials are kept 0600, and after a restart of the service and of its fuse manager a container still
// reads parts of a private layer it never read before.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { execa } from 'execa';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { cliProcess } from '../cli/cli-harness.js';
import { fuseManagerPid, startContainerd, startService, type ContainerdFixture, type ServiceProcess } from '../fixtures/containerd.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { MOTD, pushServiceImages, type ServiceImages } from './service-images.js';

const skip = process.getuid?.() !== 0 ? 'needs root: containerd with CRI, FUSE and overlayfs mounts, runc containers' : false;

/** The runtime.v1 messages the test sends (field numbers as in k8s.io/cri-api's api.proto). */
const CRI_PROTO = `syntax = "proto3";
package runtime.v1;
service ImageService {
  rpc PullImage(PullImageRequest) returns (PullImageResponse) {}
  rpc ImageStatus(ImageStatusRequest) returns (ImageStatusResponse) {}
}
message ImageSpec { string image = 1; }
message AuthConfig { string username = 1; string password = 2; }
message PullImageRequest { ImageSpec image = 1; AuthConfig auth = 2; }
message PullImageResponse { string image_ref = 1; }
message ImageStatusRequest { ImageSpec image = 1; bool verbose = 2; }
message Image { string id = 1; repeated string repo_tags = 2; repeated string repo_digests = 3; uint64 size = 4; }
message ImageStatusResponse { Image image = 1; }
`;

describe('CRI keychain', { skip, concurrency: false }, () => {
  let work = '';
  let registry: RegistryFixture;
  let images: ServiceImages;
  let svc: ServiceProcess;
  let cd: ContainerdFixture;
  let root = '';
  let address = '';
  let config = '';
  let cri: grpc.Client & Record<string, Function>;
  const ns = ['--namespace', 'k8s.io'];
  const call = (method: string, req: unknown) =>
    new Promise<Record<string, unknown>>((resolve, reject) =>
      cri[method]!.call(cri, req, { deadline: Date.now() + 120_000 }, (e: Error | null, r: Record<string, unknown>) =>
        e ? reject(new Error(`${method}: ${e.message}; containerd said: ${cd.logs().slice(-1500)}`)) : resolve(r),
      ),
    );

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'svc-cri-'));
    registry = await startRegistry({ auth: 'htpasswd' });
    images = await pushServiceImages(work, registry.host, { username: registry.username, password: registry.password });
    root = join(work, 'svc-root');
    address = join(work, 'stargz.sock');
    config = join(work, 'config.toml');
    const cdDir = join(work, 'containerd');
    await writeFile(config, `no_background_fetch = true\n[cri_keychain]\n  enable_keychain = true\n  image_service_path = "${join(cdDir, 'containerd.sock')}"\n`);
    svc = await startService(root, address, ['--config', config]);
    cd = await startContainerd(cdDir, { snapshotters: { stargz: address }, cri: { snapshotter: 'stargz' } });
    await writeFile(join(work, 'cri.proto'), CRI_PROTO);
    const def = protoLoader.loadSync(join(work, 'cri.proto'), { keepCase: true, longs: Number, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { runtime: { v1: { ImageService: new (a: string, c: grpc.ChannelCredentials) => grpc.Client } } };
    cri = new pkg.runtime.v1.ImageService(`unix://${address}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
  });
  after(async () => {
    cri?.close();
    await cd?.ctr([...ns, 'tasks', 'kill', '-s', 'SIGKILL', 'keeper'], { reject: false });
    await sleep(300);
    await cd?.ctr([...ns, 'tasks', 'rm', '-f', 'keeper'], { reject: false });
    await cd?.ctr([...ns, 'containers', 'rm', 'keeper'], { reject: false });
    await cd?.stop();
    await svc?.stop('SIGINT');
    await cliProcess(['snapshotter', 'stop', '--root', root, '--unmount']);
    await registry?.stop();
    for (const m of (await mountsUnder(work)).reverse()) await execa('umount', ['-l', m], { reject: false });
    await rm(work, { recursive: true, force: true });
  });

  test('PullImage with credentials through the service: the layers are lazy, the credentials were used and kept 0600', async () => {
    const res = await call('PullImage', { image: { image: images.esgz }, auth: { username: registry.username, password: registry.password } });
    assert.match(String(res['image_ref']), /^sha256:[0-9a-f]{64}$/);
    const status = await call('ImageStatus', { image: { image: images.esgz } });
    assert.ok((status['image'] as { repo_tags: string[] }).repo_tags.includes(images.esgz), JSON.stringify(status));
    const remote = svc.logLines().filter((l) => l['msg'] === 'remote snapshot').map((l) => l['digest']);
    assert.deepEqual(remote.sort(), [...images.esgzLayers].sort(), JSON.stringify(svc.logLines().filter((l) => l['level'] !== 'debug')));
    const content = (await cd.ctr([...ns, 'content', 'ls', '-q'])).stdout;
    for (const d of images.esgzLayers) assert.doesNotMatch(content, new RegExp(d), 'no layer blob reached containerd');
    const file = join(root, 'snapshotter', 'cri-credentials.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.ok((await readFile(file, 'utf8')).includes(`${registry.host}/svc/app`));
    assert.ok(!svc.logLines().some((l) => JSON.stringify(l).includes(registry.password)), 'the password is never logged');
  });

  test('after a restart of the service and of its fuse manager, a container reads private layer bytes it never read', async () => {
    await cd.ctr([...ns, 'run', '-d', '--snapshotter', 'stargz', images.esgz, 'keeper', 'sh', '-c', 'cat /etc/motd > /tmp/first; exec sleep 100000']);
    assert.equal(await svc.stop('SIGTERM'), 0);
    process.kill(await fuseManagerPid(root), 'SIGKILL');
    svc = await startService(root, address, ['--config', config]);
    // the container's mounts died with the manager; a new container gets the layers mounted again
    for (let i = 0; ; i++) {
      const r = await cd.ctr([...ns, 'run', '--rm', '--snapshotter', 'stargz', images.esgz, `reader-${i}`, 'sh', '-c', 'dd if=/srv/payload.bin bs=4096 skip=1234 count=2 2>/dev/null | wc -c; cat /etc/motd'], { reject: false });
      if (r.exitCode === 0) {
        assert.equal(r.stdout, `8192\n${MOTD}`);
        break;
      }
      assert.ok(i < 50 && /connection refused|unavailable/i.test(r.stderr), r.stderr); // containerd reconnecting
      await sleep(100);
    }
  });
});
