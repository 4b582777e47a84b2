import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isCtrError } from '../../src/errors.js';
import { checkEnvFlag, mergeEnv, parseEnvFile } from '../../src/runtime/env.js';
import { parseMountFlag } from '../../src/runtime/mount-flag.js';
import { buildSpec, type SpecInput } from '../../src/runtime/spec.js';
import { parseGroup, parsePasswd, resolveUser } from '../../src/runtime/user.js';
import { privateHosts, withoutLoopbackNameservers } from '../../src/runtime/etc-files.js';

const passwd = 'root:x:0:0:root:/root:/bin/sh\n# comment\nbroken line\napp:x:1000:1001:app:/home/app:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n';
const group = 'root:x:0:\napp:x:1001:\nextra:x:2000:app,other\nwheel:x:10:other\nself:x:3000:\n';
const files = { passwd, group };

describe('user resolution (containerd rules)', () => {
  test('parses passwd and group, skipping comments and malformed lines', () => {
    assert.deepEqual(parsePasswd(passwd).map((p) => p.name), ['root', 'app', 'nobody']);
    assert.deepEqual(parseGroup(group).find((g) => g.name === 'extra')?.members, ['app', 'other']);
  });
  test('empty user is root with root\'s supplementary groups', () => {
    assert.deepEqual(resolveUser('', files), { uid: 0, gid: 0, additionalGids: [0] });
  });
  test('a name takes uid and gid from passwd, supplementary gids from group membership', () => {
    assert.deepEqual(resolveUser('app', files), { uid: 1000, gid: 1001, additionalGids: [1001, 2000] });
  });
  test('a known numeric uid takes its passwd gid; an unknown one gets gid 0', () => {
    assert.deepEqual(resolveUser('1000', files), { uid: 1000, gid: 1001, additionalGids: [1001, 2000] });
    assert.deepEqual(resolveUser('4242', files), { uid: 4242, gid: 0, additionalGids: [0] });
    assert.deepEqual(resolveUser('4242', {}), { uid: 4242, gid: 0, additionalGids: [0] });
  });
  test('user:group with names or ids', () => {
    assert.deepEqual(resolveUser('app:wheel', files), { uid: 1000, gid: 10, additionalGids: [10, 2000] });
    assert.deepEqual(resolveUser('5:6', files), { uid: 5, gid: 6, additionalGids: [6] });
    assert.deepEqual(resolveUser('nobody:0', files), { uid: 65534, gid: 0, additionalGids: [0] });
  });
  test('unknown names are NotFound errors that name them', () => {
    assert.throws(() => resolveUser('ghost', files), (e) => isCtrError(e, 'NotFound') && /user "ghost"/.test(e.message));
    assert.throws(() => resolveUser('app:ghosts', files), (e) => isCtrError(e, 'NotFound') && /group "ghosts"/.test(e.message));
    assert.throws(() => resolveUser('app', {}), (e) => isCtrError(e, 'NotFound') && /no \/etc\/passwd/.test(e.message));
  });
  test('malformed user strings are InvalidArgument', () => {
    for (const u of ['a:b:c', ':1', '1:']) assert.throws(() => resolveUser(u, files), (e) => isCtrError(e, 'InvalidArgument'));
  });
  test('ids above MaxInt32 are treated as names (and so not found)', () => {
    assert.throws(() => resolveUser('4294967295', files), (e) => isCtrError(e, 'NotFound'));
  });
});

describe('env', () => {
  test('K=V replaces in place, new keys append, bare K unsets', () => {
    assert.deepEqual(mergeEnv(['PATH=/bin', 'A=1', 'B=2'], ['A=9', 'C=3', 'B', 'B=4']), ['PATH=/bin', 'A=9', 'C=3', 'B=4']);
    assert.deepEqual(mergeEnv(['A=1'], ['A=x=y']), ['A=x=y']);
  });
  test('env files skip blanks and comments and reject empty names', () => {
    assert.deepEqual(parseEnvFile('A=1\n\n# c\nB=two words\r\n'), ['A=1', 'B=two words']);
    assert.throws(() => parseEnvFile('=x', 'f.env'), (e) => isCtrError(e, 'InvalidArgument') && /f\.env:1/.test(e.message));
    assert.throws(() => checkEnvFlag('=1'), (e) => isCtrError(e, 'InvalidArgument'));
  });
});

describe('--mount', () => {
  test('parses the ctr syntax', () => {
    assert.deepEqual(parseMountFlag('type=bind,source=/a,destination=/b,options=ro:rbind'), {
      destination: '/b',
      type: 'bind',
      source: '/a',
      options: ['ro', 'rbind'],
    });
  });
  test('bind without bind/rbind option gets rbind; quoted fields keep commas', () => {
    assert.deepEqual(parseMountFlag('type=bind,src=/x,dst=/y').options, ['rbind']);
    assert.equal(parseMountFlag('type=bind,"source=/a,b",dst=/y').source, '/a,b');
  });
  test('rejects unknown keys, missing "=", relative destinations', () => {
    for (const bad of ['type=bind,foo=1,dst=/a', 'type=bind,dst', 'type=bind,source=/a,destination=rel']) {
      assert.throws(() => parseMountFlag(bad), (e) => isCtrError(e, 'InvalidArgument'));
    }
  });
});

describe('spec', () => {
  const base: SpecInput = {
    id: 'c1',
    rootfs: '/r/rootfs',
    image: { Env: ['PATH=/bin', 'A=1'], Entrypoint: ['/bin/ep'], Cmd: ['x'], WorkingDir: '/w' },
    user: { uid: 1, gid: 2, additionalGids: [2] },
    etc: { hosts: '/b/hosts', resolvConf: '/b/resolv.conf', hostname: '/b/hostname' },
  };
  test('image config gives args, env, cwd; namespaces include network', () => {
    const s = buildSpec(base);
    assert.deepEqual(s.process.args, ['/bin/ep', 'x']);
    assert.deepEqual(s.process.env, ['PATH=/bin', 'A=1']);
    assert.equal(s.process.cwd, '/w');
    assert.deepEqual(s.process.user, { uid: 1, gid: 2, additionalGids: [2] });
    assert.deepEqual(s.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
    assert.equal(s.root.path, '/r/rootfs');
    assert.equal(s.hostname, 'c1');
    assert.ok(s.process.capabilities.bounding.includes('CAP_CHOWN') && !s.process.capabilities.bounding.includes('CAP_SYS_ADMIN'));
    assert.ok(s.linux.maskedPaths.includes('/proc/kcore'));
    const dests = s.mounts.map((m) => m.destination);
    for (const d of ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/etc/hosts', '/etc/resolv.conf']) assert.ok(dests.includes(d), d);
    assert.equal(s.mounts.find((m) => m.destination === '/etc/hosts')?.source, '/b/hosts');
  });
  test('command-line args replace Entrypoint and Cmd (ctr run); entrypoint/cmd replace one part each', () => {
    assert.deepEqual(buildSpec({ ...base, args: ['sh', '-c', 'true'] }).process.args, ['sh', '-c', 'true']);
    assert.deepEqual(buildSpec({ ...base, cmd: ['y'] }).process.args, ['/bin/ep', 'y']);
    assert.deepEqual(buildSpec({ ...base, entrypoint: ['/e'] }).process.args, ['/e', 'x']);
  });
  test('env overrides, cwd override, terminal sets TERM, net-host drops the network namespace, user mounts last', () => {
    const s = buildSpec({
      ...base,
      env: ['A=2', 'B=3'],
      cwd: '/tmp',
      terminal: true,
      netHost: true,
      mounts: [{ destination: '/data', type: 'bind', source: '/host', options: ['rbind'] }],
    });
    assert.deepEqual(s.process.env, ['PATH=/bin', 'A=2', 'TERM=xterm', 'B=3']);
    assert.equal(s.process.cwd, '/tmp');
    assert.equal(s.process.terminal, true);
    assert.ok(!s.linux.namespaces.some((n) => n.type === 'network'));
    assert.equal(s.mounts.at(-1)?.destination, '/data');
  });
  test('no Env in the image gives the default PATH; nothing to run is an error; relative cwd is refused', () => {
    assert.deepEqual(buildSpec({ ...base, image: { Cmd: ['x'] } }).process.env, [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ]);
    assert.throws(() => buildSpec({ ...base, image: {} }), (e) => isCtrError(e, 'InvalidArgument') && /no command/.test(e.message));
    assert.throws(() => buildSpec({ ...base, cwd: 'rel' }), (e) => isCtrError(e, 'InvalidArgument'));
  });
});

describe('etc files', () => {
  test('hosts names the container; loopback nameservers are dropped for a private netns', () => {
    assert.match(privateHosts('box'), /127\.0\.1\.1\tbox/);
    const r = withoutLoopbackNameservers('nameserver 127.0.0.53\nnameserver 10.0.0.1\nnameserver ::1\nsearch x\n');
    assert.equal(r, 'nameserver 10.0.0.1\nsearch x\n');
  });
});
