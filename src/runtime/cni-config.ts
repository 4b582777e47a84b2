// CNI network configurations (https://github.com/containernetworking/cni/blob/spec-v1.0.0/SPEC.md, section
// 1): the built-in network `--cni` uses, a configuration file from `--cni-plugin-conf-dir`, and the
// attachments a container gets (loopback on `lo`, the network on `eth0`). Pure: files come in as text.
import { invalidArgument } from '../errors.js';

/** One plugin's configuration in a network list (`type` names the plugin binary). */
export interface CniPluginConf {
  type: string;
  [key: string]: unknown;
}

/** A network configuration list (`.conflist`); a single `.conf` is read as a list of one. */
export interface CniNetworkList {
  cniVersion: string;
  name: string;
  plugins: CniPluginConf[];
}

/** One interface of the container configured by one network list. */
export interface CniAttachment {
  /** CNI_IFNAME. */
  ifname: string;
  network: CniNetworkList;
}

/** Name, bridge and subnet of the built-in network (a private range unlikely to meet a host's own). */
export const BUILTIN_NETWORK = { name: 'ctr-remote', bridge: 'ctr-remote0', subnet: '10.213.0.0/16' } as const;

/** The CNI version our built-in configs speak (Debian 12's plugins support 0.1.0 … 1.0.0). */
const CNI_VERSION = '1.0.0';

/**
 * The built-in network: a bridge on the host with a gateway address, host-local addresses from
 * BUILTIN_NETWORK.subnet (leases under /var/lib/cni/networks/ctr-remote, shared by every root so two
 * containers never get one address), a default route, and masquerading so the workload reaches the outside.
 */
export function builtinNetwork(): CniNetworkList {
  return {
    cniVersion: CNI_VERSION,
    name: BUILTIN_NETWORK.name,
    plugins: [
      {
        type: 'bridge',
        bridge: BUILTIN_NETWORK.bridge,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: BUILTIN_NETWORK.subnet }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
    ],
  };
}

/** The loopback interface of a new network namespace, brought up by the loopback plugin. */
export function loopbackNetwork(): CniNetworkList {
  return { cniVersion: CNI_VERSION, name: 'cni-loopback', plugins: [{ type: 'loopback' }] };
}

/** What a container gets: `lo` up, and `network` (default: the built-in one) on eth0. */
export function containerAttachments(network: CniNetworkList = builtinNetwork()): CniAttachment[] {
  return [
    { ifname: 'lo', network: loopbackNetwork() },
    { ifname: 'eth0', network },
  ];
}

/** File names libcni reads in a configuration directory, in the order it tries them (the first is used). */
export function configFileNames(names: readonly string[]): string[] {
  return names.filter((n) => /\.(conflist|conf|json)$/.test(n) && !n.startsWith('.')).sort();
}

/** Parse a `.conflist` or a single-plugin `.conf`/`.json` file into a network list; `file` names it in errors. */
export function parseNetworkConfig(text: string, file: string): CniNetworkList {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw invalidArgument(`CNI config ${file}: not JSON (${(e as Error).message})`);
  }
  if (!isObject(v)) throw invalidArgument(`CNI config ${file}: not a JSON object`);
  const name = v.name;
  if (typeof name !== 'string' || name === '') throw invalidArgument(`CNI config ${file}: no "name"`);
  const cniVersion = typeof v.cniVersion === 'string' ? v.cniVersion : '0.4.0';
  const raw: unknown[] = Array.isArray(v.plugins) ? v.plugins : file.endsWith('.conflist') ? [] : [withoutListKeys(v)];
  if (raw.length === 0) throw invalidArgument(`CNI config ${file}: no plugins`);
  const plugins = raw.map((p, i) => {
    if (!isObject(p) || typeof p.type !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(p.type)) {
      throw invalidArgument(`CNI config ${file}: plugin ${i} has no valid "type"`);
    }
    return p as CniPluginConf;
  });
  return { cniVersion, name, plugins };
}

/** The configuration one plugin of a list gets on stdin (SPEC section 4: name and cniVersion of the list, prevResult). */
export function pluginConfig(list: CniNetworkList, plugin: CniPluginConf, prevResult: unknown): Record<string, unknown> {
  return { ...plugin, cniVersion: list.cniVersion, name: list.name, ...(prevResult !== undefined ? { prevResult } : {}) };
}

function withoutListKeys(v: Record<string, unknown>): Record<string, unknown> {
  const { name: _name, cniVersion: _version, ...plugin } = v;
  return plugin;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
