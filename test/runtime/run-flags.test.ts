// The privilege, resource and network flags in real containers (root; real runc, overlayfs, CNI plugins):
// --read-only makes a write fail, --cap-drop/--cap-add change CapEff, --privileged gives every capability and
// the host's devices, --memory-limit and --cpus reach the container's cgroup, the DNS and hosts flags reach
// /etc/resolv.conf and /etc/hosts, --label is kept with the container, and --cni gives the container an
// address on eth0 and takes everything down again (also after its owner was SIGKILLed).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { access, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { isCtrError } from '../../src/errors.js';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { CAPABILITY_NAMES, hostCapabilities } from '../../src/runtime/capabilities.js';
import { cleanupStaleContainers, removeContainer } from '../../src/runtime/cleanup.js';
import { BUILTIN_NETWORK } from '../../src/runtime/cni-config.js';
import { DEFAULT_PLUGIN_DIRS } from '../../src/runtime/cni.js';
import { containerPaths } from '../../src/runtime/container-paths.js';
import { runInContainer, type ContainerOptions } from '../../src/runtime/container.js';
import { RootLayout } from '../../src/store/root-layout.js';
import { cli } from '../cli/cli-harness.js';
import { makeBusyboxRootfs } from './busybox-rootfs.js';
import { startCli } from './run-fixture.js';

const skip = process.getuid?.() !== 0 ? 'needs root: overlayfs mounts and runc containers' : false;
const DRIVER = new URL('./run-driver.ts', import.meta.url).pathname;
const cniPlugins = DEFAULT_PLUGIN_DIRS.find((d) => existsSync(join(d, 'bridge')) && existsSync(join(d, 'host-local')) && existsSync(join(d, 'loopback')));
const skipCni = skip || (cniPlugins ? false : `no CNI plugins (bridge, host-local, loopback) in ${DEFAULT_PLUGIN_DIRS.join(' or ')}: install containernetworking-plugins`);

/** The bit mask of a capability set as /proc/self/status prints CapEff. */
const capMask = (names: readonly string[]) => names.reduce((m, n) => m | (1n << BigInt(CAPABILITY_NAMES.indexOf(n))), 0n);

describe('container flags in real containers', { skip }, () => {
  let tmp = '';
  let root = '';
  let base = '';
  let n = 0;
  const image = { Env: ['PATH=/bin'], Cmd: ['true'], WorkingDir: '/' };

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ctr-run-flags-'));
    root = join(tmp, 'root');
    base = join(tmp, 'base');
    await makeBusyboxRootfs(base);
  });
  after(async () => {
    await cleanupStaleContainers(new RootLayout(root)).catch(() => {});
    await execa('sh', ['-c', `grep -q " ${tmp}" /proc/self/mountinfo && umount -R ${tmp}/root/containers/* || true`], { reject: false });
    await rm(tmp, { recursive: true, force: true });
  });

  const run = (o: Partial<ContainerOptions> & { args: string[] }) =>
    runInContainer({ root: new RootLayout(root), id: `f${++n}`, ref: 'test', lowerdirs: [base], image, remove: true, stdout: 'pipe', stderr: 'pipe', ...o });
  const capEff = async (o: Partial<ContainerOptions> = {}) => {
    const r = await run({ ...o, args: ['sh', '-c', 'grep CapEff /proc/self/status'] });
    return BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(r.stdout ?? '')?.[1] ?? 'x'}`);
  };

  test('--read-only: a write to the root filesystem fails; without it the same write works', async () => {
    const ro = await run({ readonlyRootfs: true, args: ['sh', '-c', 'echo x > /srv-file'] });
    assert.notEqual(ro.exitCode, 0);
    assert.match(ro.stderr ?? '', /Read-only file system/);
    assert.equal((await run({ args: ['sh', '-c', 'echo x > /srv-file'] })).exitCode, 0);
  });

  test('--cap-drop removes a capability from CapEff, --cap-add adds one', async () => {
    const plain = await capEff();
    const netRaw = capMask(['CAP_NET_RAW']);
    const sysAdmin = capMask(['CAP_SYS_ADMIN']);
    assert.equal(plain & netRaw, netRaw, 'the default set has CAP_NET_RAW');
    assert.equal(await capEff({ capDrop: ['CAP_NET_RAW'] }), plain & ~netRaw);
    assert.equal(await capEff({ capAdd: ['CAP_SYS_ADMIN'] }), plain | sysAdmin);
  });

  test("--privileged: every capability we hold (our bounding set) and the host's devices", async () => {
    assert.equal(await capEff({ privileged: true }), capMask(await hostCapabilities()));
    const hostDev = ['fuse', 'loop0', 'kmsg'].find((d) => existsSync(`/dev/${d}`));
    if (hostDev) {
      const devs = (o: Partial<ContainerOptions>) => run({ ...o, args: ['ls', '/dev'] }).then((r) => (r.stdout ?? '').split('\n'));
      assert.ok((await devs({ privileged: true })).includes(hostDev), `/dev/${hostDev} inside a privileged container`);
      assert.ok(!(await devs({})).includes(hostDev), `no /dev/${hostDev} without --privileged`);
    }
  });

  test('--memory-limit and --cpus reach the container cgroup', async (t) => {
    const v1 = existsSync('/sys/fs/cgroup/memory') && existsSync('/sys/fs/cgroup/cpu');
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
    if (!v1 && !v2) return t.skip('no memory and cpu cgroup controllers mounted at /sys/fs/cgroup');
    const id = `mem${++n}`;
    const seen: Record<string, string> = {};
    const read = (v1Path: string, v2Path: string) => readFileSync(v1 ? join('/sys/fs/cgroup', v1Path) : join('/sys/fs/cgroup', v2Path), 'utf8').trim();
    const r = await run({
      id, memoryLimit: 64 << 20, cpus: 0.5, args: ['sh', '-c', 'echo up; sleep 2'],
      onStdoutLine: (line) => {
        if (line !== 'up') return;
        seen.memory = read(`memory/ctr-remote/${id}/memory.limit_in_bytes`, `ctr-remote/${id}/memory.max`);
        seen.cpu = v1 ? read(`cpu/ctr-remote/${id}/cpu.cfs_quota_us`, '') : read('', `ctr-remote/${id}/cpu.max`);
      },
    });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(seen.memory, String(64 << 20));
    assert.equal(seen.cpu, v1 ? '50000' : '50000 100000');
  });

  test('--dns-* and --add-hosts reach /etc/resolv.conf and /etc/hosts', async () => {
    const r = await run({
      dns: { nameservers: ['192.0.2.53'], search: ['corp.example'], options: ['ndots:2'] },
      extraHosts: [{ host: 'registry.local', ip: '192.0.2.10' }],
      args: ['sh', '-c', 'cat /etc/resolv.conf; echo ---; cat /etc/hosts'],
    });
    const [resolv, hosts] = (r.stdout ?? '').split('---\n');
    assert.match(resolv!, /^nameserver 192\.0\.2\.53$/m);
    assert.doesNotMatch(resolv!, /^nameserver (?!192\.0\.2\.53)/m, 'only the given nameserver');
    assert.match(resolv!, /^search corp\.example$/m);
    assert.match(resolv!, /^options ndots:2$/m);
    assert.match(hosts!, /^192\.0\.2\.10\tregistry\.local$/m);
    assert.match(hosts!, /^127\.0\.0\.1\tlocalhost$/m);
  });

  test('--label is kept in the container record', async () => {
    const id = `lab${++n}`;
    await run({ id, remove: false, labels: { team: 'a', 'x.y/z': '' }, args: ['true'] });
    const owner = JSON.parse(await readFile(containerPaths(new RootLayout(root), id).owner, 'utf8')) as { labels?: Record<string, string> };
    assert.deepEqual(owner.labels, { team: 'a', 'x.y/z': '' });
    await removeContainer(new RootLayout(root), id);
  });

  test('run --rootfs DIR: the directory is the root as it is (writes land in it); --read-only keeps it untouched', async () => {
    const dir = join(tmp, 'plain-rootfs');
    await makeBusyboxRootfs(dir);
    const ctr = (args: string[]) => startCli(['--root', root, 'run', '--rm', ...args]).done;
    const ok = await ctr(['--rootfs', dir, 'rootfs1', 'sh', '-c', 'echo hi > /written; id -u']);
    assert.deepEqual([ok.code, ok.stdout], [0, '0\n'], ok.stderr);
    assert.equal(await readFile(join(dir, 'written'), 'utf8'), 'hi\n');
    const ro = await ctr(['--rootfs', '--read-only', dir, 'rootfs2', 'sh', '-c', 'echo x > /other']);
    assert.notEqual(ro.code, 0);
    assert.equal(existsSync(join(dir, 'other')), false);
    const noCmd = await ctr(['--rootfs', dir, 'rootfs3']);
    assert.equal(noCmd.code, 1);
    assert.match(noCmd.stderr, /--rootfs .*: give the command to run after the container ID/);
    const missing = await ctr(['--rootfs', join(tmp, 'nowhere'), 'rootfs4', 'true']);
    assert.match(missing.stderr, /rootfs directory .*nowhere does not exist/);
    // a symlink to / is the host's root, refused as / itself is
    await symlink('/', join(tmp, 'link-to-root'));
    const hostRoot = await ctr(['--rootfs', join(tmp, 'link-to-root'), 'rootfs5', 'true']);
    assert.equal(hostRoot.code, 1, hostRoot.stderr);
    assert.match(hostRoot.stderr, /rootfs \/ is the host's own root/);
    assert.deepEqual(await readdir(join(root, 'containers')), []);
  });

  describe('--cni', { skip: skipCni }, () => {
    const veths = async () => (await execa('ip', ['-o', 'link', 'show', 'type', 'veth'])).stdout.split('\n').filter(Boolean).length;
    const leases = async () => (await readdir(`/var/lib/cni/networks/${BUILTIN_NETWORK.name}`).catch(() => [] as string[])).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
    const masqueradeRules = async (id: string) => (await execa('iptables', ['-t', 'nat', '-S'], { reject: false })).stdout.split('\n').filter((l) => l.includes(`id: \\"${id}-`)).length;
    const netnsMounts = async () => (await mountsUnder(root)).filter((m) => m.endsWith('/netns'));

    test('the container gets an address on eth0 in the built-in network; nothing is left afterwards', async () => {
      const [vethsBefore, leasesBefore] = [await veths(), await leases()];
      const r = await run({ cni: {}, args: ['sh', '-c', 'cat /sys/class/net/eth0/operstate; ip -4 addr show eth0; ip route; ip link show lo'] });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout ?? '', /^up$/m);
      assert.match(r.stdout ?? '', /inet 10\.213\.\d+\.\d+\/16/);
      assert.match(r.stdout ?? '', /^default via 10\.213\.0\.1/m);
      assert.match(r.stdout ?? '', /lo: <LOOPBACK,UP/);
      assert.equal(await veths(), vethsBefore, 'no veth left');
      assert.deepEqual(await leases(), leasesBefore, 'the address lease was released');
      assert.deepEqual(await netnsMounts(), []);
      assert.deepEqual(await readdir(join(root, 'containers')), []);
    });

    test('missing plugins: one error naming the plugin and where it was looked for; nothing made', async () => {
      await assert.rejects(
        run({ cni: { pluginDir: join(tmp, 'no-plugins') }, args: ['true'] }),
        (e) => isCtrError(e, 'NotFound') && /CNI plugin "loopback" not found in .*no-plugins.*containernetworking-plugins/.test(e.message),
      );
      assert.deepEqual(await readdir(join(root, 'containers')), []);
    });

    test('a network configuration from --cni-plugin-conf-dir is used instead of the built-in one', async () => {
      const conf = join(tmp, 'net.d');
      await mkdir(conf, { recursive: true });
      await writeFile(join(conf, '10-test.conflist'), JSON.stringify({
        cniVersion: '1.0.0', name: 'ctr-remote-test', plugins: [{ type: 'bridge', bridge: 'ctr-rtest0', isGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.214.9.0/24' }]] } }],
      }));
      try {
        const r = await run({ cni: { confDir: conf }, args: ['ip', '-4', 'addr', 'show', 'eth0'] });
        assert.match(r.stdout ?? '', /inet 10\.214\.9\.\d+\/24/, r.stderr);
      } finally {
        await execa('ip', ['link', 'del', 'ctr-rtest0'], { reject: false });
        await rm('/var/lib/cni/networks/ctr-remote-test', { recursive: true, force: true });
      }
    });

    test('a failing DEL (wrapped bridge plugin): the rest is still taken down, the record is kept, the next cleanup DELs', async () => {
      const [vethsBefore, leasesBefore] = [await veths(), await leases()];
      const plugins = join(tmp, 'wrapped-plugins');
      const flag = join(tmp, 'fail-del');
      await mkdir(plugins, { recursive: true });
      for (const p of ['loopback', 'host-local']) await execa('ln', ['-sf', join(cniPlugins!, p), join(plugins, p)]);
      await writeFile(join(plugins, 'bridge'), [
        '#!/bin/sh',
        `if [ "$CNI_COMMAND" = DEL ] && [ -e ${flag} ]; then echo '{"cniVersion":"1.0.0","code":11,"msg":"injected DEL failure"}'; exit 1; fi`,
        `exec ${join(cniPlugins!, 'bridge')}`,
        '',
      ].join('\n'), { mode: 0o755 });
      await writeFile(flag, '');
      const opts = { root, id: 'cni-faildel', ref: 't', lowerdirs: [base], image, remove: true, cni: { pluginDir: plugins }, args: ['true'] };
      const r = await execa('node', ['--import', 'tsx', DRIVER, JSON.stringify(opts)], { reject: false });
      assert.equal(r.exitCode, 125, r.stderr);
      assert.match(r.stderr, /clean up container cni-faildel: CNI plugin bridge DEL \(network ctr-remote, eth0\): injected DEL failure/);
      const paths = containerPaths(new RootLayout(root), 'cni-faildel');
      assert.deepEqual(await mountsUnder(paths.dir), [paths.netns], 'the rootfs is unmounted despite the failed DEL; the namespace is kept for the retry');
      await access(paths.cni);
      assert.equal((await leases()).length, leasesBefore.length + 1, 'the address is still held');
      assert.ok((await masqueradeRules('cni-faildel')) > 0, 'its masquerading rules are still there');
      await rm(flag);
      assert.deepEqual(await cleanupStaleContainers(new RootLayout(root)), ['cni-faildel']);
      assert.deepEqual(await leases(), leasesBefore, 'released by the retried DEL');
      assert.equal(await veths(), vethsBefore);
      assert.equal(await masqueradeRules('cni-faildel'), 0, 'the bridge plugin removed its rules: it had the namespace');
      await assert.rejects(access(paths.dir));
    });

    test('a run whose owner was SIGKILLed: the next cleanup DELs the network and removes the namespace', async () => {
      const [vethsBefore, leasesBefore] = [await veths(), await leases()];
      const opts = { root, id: 'cni-crash', ref: 't', lowerdirs: [base], image, remove: true, cni: {}, args: ['sh', '-c', 'echo ready; exec sleep 1000'] };
      const proc = spawn('node', ['--import', 'tsx', DRIVER, JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let seen = '';
      proc.stdout.on('data', (d: Buffer) => (seen += d.toString()));
      proc.stderr.on('data', (d: Buffer) => (seen += d.toString()));
      const exit = new Promise((resolve) => proc.on('exit', resolve));
      for (const deadline = Date.now() + 20_000; !seen.includes('ready'); await sleep(50)) if (Date.now() > deadline) throw new Error(`no ready: ${seen}`);
      assert.equal(await veths(), vethsBefore + 1, 'the container has its veth');
      proc.kill('SIGKILL');
      await exit;
      const paths = containerPaths(new RootLayout(root), 'cni-crash');
      await access(paths.cni);
      assert.equal((await leases()).length, leasesBefore.length + 1, 'the crashed run holds an address');
      assert.deepEqual(await cleanupStaleContainers(new RootLayout(root)), ['cni-crash']);
      assert.equal(await veths(), vethsBefore, 'no veth left');
      assert.deepEqual(await leases(), leasesBefore, 'the cleanup DELed the network: its address is released');
      assert.deepEqual(await netnsMounts(), []);
      await assert.rejects(access(paths.dir), 'the --rm container is gone');
    });
  });
});

test('bad values of the run flags are usage errors naming the flag (exit 2, nothing run)', async () => {
  for (const [args, why] of [
    [['--cap-add', 'NET_ADMINS'], /unknown capability "NET_ADMINS"/],
    [['--cap-drop', ''], /unknown capability/],
    [['--cpus', 'two'], /--cpus <cpus>.*Expected a number of CPUs/],
    [['--memory-limit', '1g'], /--memory-limit <bytes>.*Expected an integer/],
    [['--label', '=v'], /label "=v" has no key/],
    [['--add-hosts', 'nocolon'], /expected host:IP/],
    [['--dns-nameservers', '8.8.8'], /nameserver "8.8.8" is not an IP address/],
    [['--cni', '--net-host'], /--cni and --net-host exclude each other/],
  ] as const) {
    const r = await cli(['--root', '/nonexistent-root', 'run', ...args, 'img', 'id', 'true']);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, why, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
