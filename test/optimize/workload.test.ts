// `image optimize` workload edge cases (root; real FUSE, overlayfs, runc): a layer without any
// parent-directory entries (the reference 0.12 fails with `file: "usr": not found`), --period and
// --wait-on-line ending a workload that would run on, --wait-on-signal, --cni with the DNS and hosts
// flags, SIGINT cleaning up everything, and non-root.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { openEStargz } from '../../src/estargz/reader.js';
import { FileRangeReader } from '../../src/content/file-range-reader.js';
import type { Index, Manifest } from '../../src/oci/types.js';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { DEFAULT_PLUGIN_DIRS } from '../../src/runtime/cni.js';
import { openLayout } from '../../src/store/oci-layout.js';
import { cli, MAIN, nobodyCannotRunCli } from '../cli/cli-harness.js';
import { buildImage, buildIndex } from '../fixtures/image-builder.js';
import { gzipLayer, writeImage } from './image-parts.js';

const skip = process.getuid?.() !== 0 ? 'needs root: FUSE and overlayfs mounts, runc containers' : false;

describe('image optimize workloads', { skip }, () => {
  let tmp = '';
  let root = '';
  let bare = '';

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ctr-optimize-wl-'));
    root = join(tmp, 'root');
    const busybox = await buildImage(join(tmp, 'busybox'), 'bb', { layers: [{ busybox: true }] });
    bare = join(tmp, 'bare');
    const onlyFiles = await gzipLayer([
      { name: 'usr/share/deep/file.txt', content: 'deep file\n' },
      { name: 'srv/other.txt', content: 'other\n' },
    ]);
    await writeImage(bare, 'bare', [busybox.layers[0]!, onlyFiles], { Cmd: ['/bin/cat', '/usr/share/deep/file.txt'] });
  });
  after(async () => {
    for (const m of (await mountsUnder(tmp)).reverse()) await execa('umount', ['-l', m], { reject: false });
    await rm(tmp, { recursive: true, force: true });
  });

  const ctr = (args: string[]) => cli(['--root', root, ...args]);
  const leftovers = async () => ({
    mounts: await mountsUnder(root),
    containers: await readdir(join(root, 'containers')).catch(() => []),
    staging: await readdir(join(root, 'optimize')).catch(() => []),
  });
  const clean = { mounts: [], containers: [], staging: [] };

  test('a layer without parent-directory entries optimizes', async () => {
    const rec = join(tmp, 'bare-record.json');
    const r = await ctr(['image', 'optimize', '--oci', '--record-out', rec, `oci:${bare}:bare`, `oci:${join(tmp, 'bare-out')}:opt`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^deep file\nsha256:[0-9a-f]{64}\n$/);
    const lines = (await readFile(rec, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { path: string; layerIndex: number });
    assert.deepEqual(lines.filter((l) => l.layerIndex === 1).map((l) => l.path), ['usr/share/deep/file.txt']);
    const layout = await openLayout(join(tmp, 'bare-out'));
    const manifest = JSON.parse((await layout.readBytes((await layout.get('opt')).digest, 1 << 20)).toString()) as Manifest;
    const layer = manifest.layers[1]!;
    const reader = await FileRangeReader.open(layout.blobPath(layer.digest));
    try {
      const toc = await openEStargz(reader, { tocDigest: layer.annotations!['containerd.io/snapshot/stargz/toc.digest']! });
      const names = toc.toc.entries.map((e) => e.name);
      assert.ok(names.indexOf('usr/share/deep/file.txt') < names.indexOf('.prefetch.landmark'), names.join(' '));
      assert.ok(names.indexOf('srv/other.txt') > names.indexOf('.prefetch.landmark'));
    } finally {
      await reader.close();
    }
    assert.deepEqual(await leftovers(), clean);
  });

  test('--reuse keeps an untouched layer that already is eStargz; a touched one is converted again', async () => {
    const out = join(tmp, 'reused');
    const r = await ctr(['image', 'optimize', '--oci', '--json', '--reuse', '--entrypoint', '["/bin/true"]', `oci:${join(tmp, 'bare-out')}:opt`, `oci:${out}:o`]);
    assert.equal(r.code, 0, r.stderr);
    const layers = (JSON.parse(r.stdout) as { layers: { from: string; to: string; reused: boolean }[] }).layers;
    assert.deepEqual(layers.map((l) => l.reused), [false, true]);
    assert.equal(layers[1]!.to, layers[1]!.from);
  });

  test('an index: the host platform is optimized, the other is converted without priorities, and a warning says so', async () => {
    const src = join(tmp, 'multi');
    const files = { entries: [{ path: 'srv/x.txt', type: 'file' as const, content: 'x\n' }] };
    const amd = await buildImage(src, 'amd', { layers: [{ busybox: true }, files], platform: { os: 'linux', architecture: 'amd64' } });
    const arm = await buildImage(src, 'arm', { layers: [{ busybox: true }, files], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    await buildIndex(src, 'multi', [amd, arm]);
    const out = join(tmp, 'multi-out');
    const r = await ctr(['image', 'optimize', '--oci', '--all-platforms', '--args', '["/bin/cat","/srv/x.txt"]', `oci:${src}:multi`, `oci:${out}:o`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: optimizing linux\/amd64 only; the other 1 platform\(s\) are converted without priorities/);
    const layout = await openLayout(out);
    const index = JSON.parse((await layout.readBytes((await layout.get('o')).digest, 1 << 20)).toString()) as Index;
    const firstNames = async (platform: string) => {
      const d = index.manifests.find((m) => m.platform?.architecture === platform)!;
      const m = JSON.parse((await layout.readBytes(d.digest, 1 << 20)).toString()) as Manifest;
      const l = m.layers[1]!;
      const reader = await FileRangeReader.open(layout.blobPath(l.digest));
      try {
        return (await openEStargz(reader, { tocDigest: l.annotations!['containerd.io/snapshot/stargz/toc.digest']! })).toc.entries.map((e) => e.name).slice(0, 3);
      } finally {
        await reader.close();
      }
    };
    assert.deepEqual(await firstNames('amd64'), ['srv/', 'srv/x.txt', '.prefetch.landmark']);
    assert.equal((await firstNames('arm64'))[0], '.no.prefetch.landmark');
  });

  test('--env, --env-file, --cwd, --user and --mount reach the workload', async () => {
    const host = join(tmp, 'host-dir');
    await mkdir(host, { recursive: true });
    await writeFile(join(host, 'in.txt'), 'from host\n');
    const envFile = join(tmp, 'vars.env');
    await writeFile(envFile, 'FROM_FILE=f\n');
    const script = 'echo "$FROM_FLAG $FROM_FILE"; pwd; id -u; cat /host/in.txt';
    const r = await ctr([
      'image', 'optimize', '--oci', '--env', 'FROM_FLAG=x', '--env-file', envFile, '--cwd', '/srv', '--user', '1234:1234',
      '--mount', `type=bind,source=${host},destination=/host,options=ro:rbind`, '--args', JSON.stringify(['/bin/sh', '-c', script]),
      `oci:${bare}:bare`, `oci:${join(tmp, 'flags')}:o`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^x f\n\/srv\n1234\nfrom host\nsha256:/);
  });

  test('--period ends a workload that does not exit; --wait-on-line ends it at the line', async () => {
    const slow = await ctr(['image', 'optimize', '--oci', '--json', '--period', '1', '--args', '["/bin/sh","-c","cat /srv/other.txt; sleep 30"]', `oci:${bare}:bare`, `oci:${join(tmp, 'slow')}:o`]);
    assert.equal(slow.code, 0, slow.stderr);
    const slowJson = JSON.parse(slow.stdout) as { workload: { ended: string }; accessedFiles: number };
    assert.equal(slowJson.workload.ended, 'period');
    const started = Date.now();
    const line = await ctr(['image', 'optimize', '--oci', '--json', '--period', '60', '--wait-on-line', 'READY', '--entrypoint', '["/bin/sh","-c"]', '--args', '["echo getting READY now; sleep 30"]', `oci:${bare}:bare`, `oci:${join(tmp, 'line')}:o`]);
    assert.equal(line.code, 0, line.stderr);
    assert.equal((JSON.parse(line.stdout) as { workload: { ended: string } }).workload.ended, 'line');
    assert.match(line.stderr, /getting READY now\n/, 'the workload output is still shown');
    // a run that waited for the workload's `sleep 30` takes over 30 s however fast the machine; setup time is not bounded
    assert.ok(Date.now() - started < 30_000, 'ended at the line, not after the sleep');
    assert.deepEqual(await leftovers(), clean);
  });

  test('--cni: the workload has an address on eth0; --dns-nameservers and --add-hosts reach its files; nothing is left', async (t) => {
    const plugins = DEFAULT_PLUGIN_DIRS.find((d) => existsSync(join(d, 'bridge')));
    if (!plugins) return t.skip(`no CNI plugins in ${DEFAULT_PLUGIN_DIRS.join(' or ')}: install containernetworking-plugins`);
    const veths = async () => (await execa('ip', ['-o', 'link', 'show', 'type', 'veth'])).stdout.split('\n').filter(Boolean).length;
    const before = await veths();
    const script = 'ip -4 addr show eth0 | grep -o "inet [0-9./]*"; cat /etc/resolv.conf /etc/hosts';
    const r = await ctr(['image', 'optimize', '--oci', '--cni', '--dns-nameservers', '192.0.2.53', '--dns-search-domains', 'corp.example', '--add-hosts', 'reg.local:192.0.2.10',
      '--args', JSON.stringify(['/bin/sh', '-c', script]), `oci:${bare}:bare`, `oci:${join(tmp, 'cni')}:o`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^inet 10\.213\.\d+\.\d+\/16$/m);
    assert.match(r.stdout, /^nameserver 192\.0\.2\.53$/m);
    assert.match(r.stdout, /^search corp\.example$/m);
    assert.match(r.stdout, /^192\.0\.2\.10\treg\.local$/m);
    assert.equal(await veths(), before, 'no veth left');
    assert.deepEqual(await leftovers(), clean);
  });

  test('--cni without its plugins: one line naming the plugin, before any conversion; --cni with --net-host is a usage error', async () => {
    const r = await ctr(['image', 'optimize', '--oci', '--cni', '--cni-plugin-dir', join(tmp, 'none'), `oci:${bare}:bare`, `oci:${join(tmp, 'no-cni')}:o`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ctr-remote: optimize \S+: --cni: CNI plugin "loopback" not found in .*none \(install Debian's containernetworking-plugins, or give --cni-plugin-dir\)\n$/);
    assert.doesNotMatch(r.stderr, /converting/);
    const both = await ctr(['image', 'optimize', '--oci', '--cni', '--net-host', `oci:${bare}:bare`, `oci:${join(tmp, 'no-cni')}:o`]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--cni and --net-host exclude each other/);
    await assert.rejects(stat(join(tmp, 'no-cni')), 'no DST');
  });

  test('--wait-on-signal: the period does not end the workload; SIGINT ends the recording and the conversion follows (exit 0)', async () => {
    const dst = join(tmp, 'on-signal');
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--root', root, 'image', 'optimize', '--oci', '--json', '--wait-on-signal', '--period', '1',
      '--args', '["/bin/sh","-c","cat /srv/other.txt; echo started; sleep 50"]', `oci:${bare}:bare`, `oci:${dst}:o`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += String(c)));
    const code = new Promise<number>((res) => child.on('close', (c) => res(c ?? -1)));
    await new Promise<void>((res) => child.stderr.on('data', (c) => ((stderr += String(c)), stderr.includes('started') && res())));
    assert.match(stderr, /press Ctrl\+C \(SIGINT\) to end the recording/);
    await new Promise((res) => setTimeout(res, 2500)); // past --period 1
    child.kill('SIGINT');
    assert.equal(await code, 0, stderr);
    const out = JSON.parse(stdout) as { workload: { ended: string }; accessedFiles: number };
    assert.equal(out.workload.ended, 'signal');
    assert.ok(out.accessedFiles > 0, 'what the workload read before the signal was recorded');
    await stat(join(dst, 'index.json'));
    assert.deepEqual(await leftovers(), clean);
  });

  test('--wait-on-signal with -t or --wait-on-line is a usage error', async () => {
    for (const extra of [['-t', '-i'], ['--wait-on-line', 'x']]) {
      const r = await ctr(['image', 'optimize', '--oci', '--wait-on-signal', ...extra, `oci:${bare}:bare`, `oci:${join(tmp, 'never')}:o`]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--wait-on-signal (cannot be used with -t|and --wait-on-line exclude each other)/);
    }
  });

  test('SIGINT during the workload: exit non-zero, nothing left mounted, no DST', async () => {
    const dst = join(tmp, 'interrupted');
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--root', root, 'image', 'optimize', '--oci', '--period', '60', '--args', '["/bin/sh","-c","echo started; sleep 50"]', `oci:${bare}:bare`, `oci:${dst}:o`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += String(c)));
    const code = new Promise<number>((res) => child.on('close', (c) => res(c ?? -1)));
    await new Promise<void>((res) => child.stdout.on('data', (c) => ((stdout += String(c)), stdout.includes('started') && res())));
    child.kill('SIGINT');
    assert.notEqual(await code, 0, stderr);
    assert.match(stderr, /interrupted|aborted/i);
    assert.deepEqual(await leftovers(), clean);
    await assert.rejects(stat(dst), 'no DST');
  });
});

test('image optimize without root: one clear sentence, exit 1', { skip: nobodyCannotRunCli }, async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'ctr-optimize-nonroot-'));
  try {
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--root', join(tmp, 'root'), 'image', 'optimize', '--oci', 'oci:/nonexistent:src', 'oci:/nonexistent:dst'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: tmp },
      ...asNobody,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += String(c)));
    child.stderr.on('data', (c) => (stderr += String(c)));
    const code = await new Promise<number>((res) => child.on('close', (c) => res(c ?? -1)));
    assert.equal(code, 1, stderr);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, /image optimize needs root: it mounts FUSE and overlayfs and runs the workload with runc/);
    assert.equal(stdout, '');
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
