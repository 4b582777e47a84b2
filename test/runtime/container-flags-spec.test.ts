// The spec and files each container flag of `run` and `image optimize` produces (pure: no runc, no root):
// --privileged, --read-only, --cap-add/--cap-drop, --memory-limit, --cpus, the CNI network namespace,
// --dns-nameservers/--dns-search-domains/--dns-options, --add-hosts, and the CNI configuration files.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isCtrError } from '../../src/errors.js';
import { CAPABILITY_NAMES, capabilitiesOfMask, capabilitySet, parseCapability } from '../../src/runtime/capabilities.js';
import { builtinNetwork, configFileNames, containerAttachments, parseNetworkConfig, pluginConfig } from '../../src/runtime/cni-config.js';
import { DEFAULT_CAPABILITIES } from '../../src/runtime/default-spec.js';
import { containerResolvConf, withExtraHosts } from '../../src/runtime/etc-files.js';
import { deviceMajor, deviceMinor } from '../../src/runtime/host-devices.js';
import { parseExtraHosts, parseNameservers, parseResolverWords } from '../../src/runtime/resolver-flags.js';
import { buildSpec, type SpecInput } from '../../src/runtime/spec.js';

const base: SpecInput = {
  id: 'c1',
  rootfs: '/r/rootfs',
  image: { Cmd: ['x'] },
  user: { uid: 0, gid: 0 },
  etc: { hosts: '/b/hosts', resolvConf: '/b/resolv.conf', hostname: '/b/hostname' },
};
const host = {
  capabilities: CAPABILITY_NAMES.slice(0, 41),
  devices: [{ type: 'c' as const, path: '/dev/kmsg', major: 1, minor: 11, fileMode: 0o644, uid: 0, gid: 0 }],
};

describe('capability flags', () => {
  test('CAP_X, X and lower case name the same capability; ALL is kept; unknown names are refused', () => {
    assert.equal(parseCapability('CAP_NET_ADMIN'), 'CAP_NET_ADMIN');
    assert.equal(parseCapability('net_admin'), 'CAP_NET_ADMIN');
    assert.equal(parseCapability('all'), 'ALL');
    assert.throws(() => parseCapability('NET_ADMINS'), (e) => isCtrError(e, 'InvalidArgument') && /unknown capability "NET_ADMINS"/.test(e.message));
  });
  test('(defaults ∪ add) \\ drop; drop ALL keeps only the named adds; add ALL is every host capability', () => {
    const set = (add: string[], drop: string[]) => capabilitySet({ base: DEFAULT_CAPABILITIES, host: host.capabilities, add, drop });
    const added = set(['CAP_SYS_ADMIN'], ['CAP_NET_RAW']);
    assert.ok(added.includes('CAP_SYS_ADMIN') && !added.includes('CAP_NET_RAW') && added.includes('CAP_CHOWN'));
    assert.deepEqual(set(['CAP_NET_RAW'], ['ALL']), ['CAP_NET_RAW']);
    assert.equal(set(['ALL'], ['CAP_SYS_ADMIN']).length, 40);
    assert.deepEqual(set(['CAP_KILL'], ['CAP_KILL']).includes('CAP_KILL'), false, 'a drop wins over an add, as ctr applies drops last');
  });
  test('a /proc capability mask names its capabilities (bit N = capability N)', () => {
    assert.deepEqual(capabilitiesOfMask(0x1n | (1n << 21n)), ['CAP_CHOWN', 'CAP_SYS_ADMIN']);
    assert.equal(capabilitiesOfMask(0x1fffeffffffn).includes('CAP_SYS_RESOURCE'), false);
  });
  test('the spec gets the set in bounding, effective and permitted', () => {
    const caps = buildSpec({ ...base, capAdd: ['CAP_NET_ADMIN'], capDrop: ['CAP_CHOWN'] }).process.capabilities;
    for (const set of [caps.bounding, caps.effective, caps.permitted]) {
      assert.ok(set.includes('CAP_NET_ADMIN') && !set.includes('CAP_CHOWN'), set.join(' '));
    }
  });
});

describe('privileged, read-only and limits in the spec', () => {
  test('by default: unprivileged, writable root, no limits, no devices', () => {
    const s = buildSpec(base);
    assert.equal(s.root.readonly, false);
    assert.deepEqual(s.linux.resources, { devices: [{ allow: false, access: 'rwm' }] });
    assert.deepEqual(s.linux.devices, []);
    assert.ok(s.linux.maskedPaths.length > 0 && s.linux.readonlyPaths.length > 0);
    assert.ok(s.mounts.find((m) => m.destination === '/sys')?.options?.includes('ro'));
  });
  test('--privileged: every host capability, the host devices, all devices allowed, nothing masked, /sys writable', () => {
    const s = buildSpec({ ...base, privileged: true, host });
    assert.deepEqual(s.process.capabilities.bounding, [...host.capabilities]);
    assert.deepEqual(s.linux.devices, host.devices);
    assert.deepEqual(s.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
    assert.deepEqual([s.linux.maskedPaths, s.linux.readonlyPaths], [[], []]);
    assert.ok(!s.mounts.find((m) => m.destination === '/sys')?.options?.includes('ro'));
    assert.equal(s.process.noNewPrivileges, true, 'no_new_privs stays (ctr run keeps it too)');
    assert.ok(!buildSpec({ ...base, privileged: true, host, capDrop: ['CAP_SYS_ADMIN'] }).process.capabilities.effective.includes('CAP_SYS_ADMIN'));
  });
  test('--read-only, --memory-limit, --cpus', () => {
    const s = buildSpec({ ...base, readonlyRootfs: true, memoryLimit: 64 << 20, cpus: 1.5 });
    assert.equal(s.root.readonly, true);
    assert.deepEqual(s.linux.resources.memory, { limit: 64 << 20 });
    assert.deepEqual(s.linux.resources.cpu, { quota: 150_000, period: 100_000 });
    assert.throws(() => buildSpec({ ...base, cpus: 0.001 }), (e) => isCtrError(e, 'InvalidArgument') && /smallest CPU quota/.test(e.message));
  });
  test('a CNI namespace path becomes the network namespace; a relative one is refused', () => {
    const s = buildSpec({ ...base, netns: '/root/containers/c1/netns' });
    assert.deepEqual(s.linux.namespaces.find((n) => n.type === 'network'), { type: 'network', path: '/root/containers/c1/netns' });
    assert.throws(() => buildSpec({ ...base, netns: 'netns' }), (e) => isCtrError(e, 'InvalidArgument'));
  });
});

describe('resolver and hosts flags', () => {
  const hostResolv = '# host\nnameserver 127.0.0.53\nsearch corp.example\noptions edns0\n';
  test('values: IPs, words, host:IP (IPv6 too); typos are errors naming the item', () => {
    assert.deepEqual(parseNameservers('1.1.1.1, 2001:db8::1'), ['1.1.1.1', '2001:db8::1']);
    assert.throws(() => parseNameservers('1.1.1'), (e) => isCtrError(e, 'InvalidArgument') && /"1.1.1"/.test(e.message));
    assert.deepEqual(parseResolverWords('a.example,b.example', 'search domain'), ['a.example', 'b.example']);
    assert.throws(() => parseResolverWords('ndots:2 x', 'DNS option'), (e) => isCtrError(e, 'InvalidArgument'));
    assert.deepEqual(parseExtraHosts('reg.local:10.0.0.5,v6:fd00::1'), [{ host: 'reg.local', ip: '10.0.0.5' }, { host: 'v6', ip: 'fd00::1' }]);
    for (const bad of ['10.0.0.5', 'reg:', ':10.0.0.5', 'bad host:10.0.0.5']) assert.throws(() => parseExtraHosts(bad), (e) => isCtrError(e, 'InvalidArgument'), bad);
  });
  test('without flags: the host file as it is (host network) or without loopback nameservers, 8.8.8.8 standing in', () => {
    assert.equal(containerResolvConf(hostResolv, true, {}), hostResolv);
    assert.equal(containerResolvConf(hostResolv, false, {}), '# host\nsearch corp.example\noptions edns0\nnameserver 8.8.8.8\n');
    assert.equal(containerResolvConf('nameserver 10.0.0.1\n', false, {}), 'nameserver 10.0.0.1\n');
  });
  test('each flag replaces its kind of line, the others stay', () => {
    const r = containerResolvConf(hostResolv, false, { nameservers: ['1.1.1.1', '9.9.9.9'], options: ['ndots:2', 'timeout:1'] });
    assert.equal(r, '# host\nsearch corp.example\nnameserver 1.1.1.1\nnameserver 9.9.9.9\noptions ndots:2 timeout:1\n');
    assert.equal(containerResolvConf(hostResolv, true, { search: ['a.example'] }), '# host\nnameserver 127.0.0.53\noptions edns0\nsearch a.example\n');
  });
  test('--add-hosts lines are appended as IP<TAB>host', () => {
    assert.equal(withExtraHosts('127.0.0.1\tlocalhost', [{ host: 'reg.local', ip: '10.0.0.5' }]), '127.0.0.1\tlocalhost\n10.0.0.5\treg.local\n');
    assert.equal(withExtraHosts('x\n', []), 'x\n');
  });
});

describe('CNI configuration', () => {
  test('the built-in network: loopback on lo, a masquerading bridge with host-local addresses on eth0', () => {
    const [lo, eth0] = containerAttachments();
    assert.deepEqual([lo?.ifname, lo?.network.plugins.map((p) => p.type)], ['lo', ['loopback']]);
    assert.equal(eth0?.ifname, 'eth0');
    const bridge = eth0!.network.plugins[0]!;
    assert.deepEqual([bridge.type, bridge.isGateway, bridge.ipMasq, (bridge.ipam as { type: string }).type], ['bridge', true, true, 'host-local']);
  });
  test('a plugin gets the list name and version, and the previous result when chained', () => {
    const list = builtinNetwork();
    const conf = pluginConfig(list, list.plugins[0]!, { ips: [] });
    assert.deepEqual([conf.name, conf.cniVersion, conf.type, conf.prevResult], ['ctr-remote', '1.0.0', 'bridge', { ips: [] }]);
    assert.equal('prevResult' in pluginConfig(list, list.plugins[0]!, undefined), false);
  });
  test('configuration files: .conflist, .conf and .json in name order; a single .conf is a list of one', () => {
    assert.deepEqual(configFileNames(['99-b.conf', 'README', '10-a.conflist', '.hidden.conf', '50-c.json']), ['10-a.conflist', '50-c.json', '99-b.conf']);
    const one = parseNetworkConfig('{"cniVersion":"0.4.0","name":"n","type":"bridge","bridge":"b0"}', 'x.conf');
    assert.deepEqual(one, { cniVersion: '0.4.0', name: 'n', plugins: [{ type: 'bridge', bridge: 'b0' }] });
    const list = parseNetworkConfig('{"cniVersion":"1.0.0","name":"l","plugins":[{"type":"ptp"},{"type":"portmap"}]}', 'x.conflist');
    assert.deepEqual(list.plugins.map((p) => p.type), ['ptp', 'portmap']);
  });
  test('bad configuration files are errors naming the file', () => {
    for (const [text, why] of [['{', /not JSON/], ['{"name":"n","plugins":[]}', /no plugins/], ['{"type":"bridge"}', /no "name"/], ['{"name":"n","plugins":[{"type":"../x"}]}', /valid "type"/]] as const) {
      assert.throws(() => parseNetworkConfig(text, '/etc/cni/x.conflist'), (e) => isCtrError(e, 'InvalidArgument') && e.message.includes('/etc/cni/x.conflist') && why.test(e.message), text);
    }
  });
});

test('device numbers from a dev_t (glibc encoding)', () => {
  const rdev = (major: bigint, minor: bigint) => ((major & 0xfffn) << 8n) | ((major & ~0xfffn) << 32n) | (minor & 0xffn) | ((minor & ~0xffn) << 12n);
  for (const [ma, mi] of [[1n, 3n], [259n, 70000n], [4096n, 5n]] as const) {
    assert.deepEqual([deviceMajor(rdev(ma, mi)), deviceMinor(rdev(ma, mi))], [Number(ma), Number(mi)]);
  }
});
