// The deployment examples are what the service and containerd really accept: containerd 1.6.20 loads the
// proxy_plugins/CRI stanza, the service's example config has no key it would report, the unit's ExecStart
// runs `snapshotter serve`; and the service tells systemd it is ready only once its socket answers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parseServiceConfig } from '../../src/service/service-config.js';
import { MAIN } from '../cli/cli-harness.js';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
let tmp = '';
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'svc-examples-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('containerd loads the example stanza: the proxy snapshotter and the CRI settings', { skip: existsSync('/usr/bin/containerd') ? false : 'needs containerd (apt install containerd)' }, async () => {
  const r = await execa('containerd', ['--config', join(examples, 'containerd', 'config.toml'), 'config', 'dump']);
  assert.match(r.stdout, /\[proxy_plugins\.stargz\]\s+address = "\/run\/containerd-stargz-grpc\/containerd-stargz-grpc\.sock"\s+type = "snapshot"/);
  assert.match(r.stdout, /disable_snapshot_annotations = false/);
  assert.match(r.stdout, /\n\s+snapshotter = "stargz"/);
});

test('the example service config has only keys the service acts on', async () => {
  const file = join(examples, 'containerd', 'stargz-config.toml');
  const c = parseServiceConfig(await readFile(file, 'utf8'), file);
  assert.deepEqual(c.notes, []);
  assert.equal(c.cacheMaxBytes, 10 * 1024 ** 3);
});

test('the unit runs `snapshotter serve` as Type=notify, kills only the service on stop, starts before containerd', async () => {
  const unit = await readFile(join(examples, 'containerd', 'ctr-remote-snapshotter.service'), 'utf8');
  for (const line of ['Type=notify', 'NotifyAccess=all', 'KillMode=process', 'Before=containerd.service', 'Restart=always']) assert.ok(unit.split('\n').includes(line), line);
  assert.match(unit, /^ExecStart=\S+\/bin\/ctr-remote snapshotter serve\b/m);
});

test('READY=1 reaches $NOTIFY_SOCKET once the service socket answers', { skip: process.getuid?.() !== 0 ? 'needs root: the service mounts and chowns under its root' : false }, async () => {
  const notify = join(tmp, 'notify.sock');
  // a datagram receiver (Node has none for unix sockets): prints each message
  const receiver = spawn('python3', ['-c', `import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(${JSON.stringify(notify)})\nprint("bound",flush=True)\nwhile True:\n  print(s.recv(4096).decode().replace("\\n"," "),flush=True)`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let got = '';
  receiver.stdout.on('data', (d) => (got += String(d)));
  const address = join(tmp, 'svc.sock');
  let serve: ReturnType<typeof spawn> | undefined;
  try {
    while (!got.includes('bound')) await new Promise((r) => setTimeout(r, 20));
    serve = spawn(process.execPath, ['--import', 'tsx', MAIN, 'snapshotter', 'serve', '--address', address, '--root', join(tmp, 'root'), '--config', join(tmp, 'none.toml')], {
      env: { ...process.env, NOTIFY_SOCKET: notify },
      stdio: 'ignore',
    });
    // a named config that does not exist is an error: start it again without
    const code = await new Promise<number>((r) => serve!.once('exit', (c) => r(c ?? -1)));
    assert.equal(code, 1);
    assert.doesNotMatch(got, /READY=1/, 'a service that failed to start never says it is ready');
    serve = spawn(process.execPath, ['--import', 'tsx', MAIN, 'snapshotter', 'serve', '--address', address, '--root', join(tmp, 'root')], {
      env: { ...process.env, NOTIFY_SOCKET: notify },
      stdio: 'ignore',
    });
    const deadline = Date.now() + 30_000;
    while (!got.includes('READY=1')) {
      assert.ok(Date.now() < deadline, `no READY=1 (got ${JSON.stringify(got)})`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise<void>((resolve, reject) => connect(address).once('connect', function (this: import('node:net').Socket) {
      this.destroy();
      resolve();
    }).once('error', reject));
  } finally {
    serve?.kill('SIGINT');
    receiver.kill();
  }
});
