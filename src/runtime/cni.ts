// A container's network from CNI plugins (`--cni`): a network namespace bind-mounted on a file in the
// container's directory, configured by running the plugin binaries as the CNI spec says
// (https://github.com/containernetworking/cni/blob/spec-v1.0.0/SPEC.md: CNI_COMMAND ADD/DEL, CNI_CONTAINERID,
// CNI_NETNS, CNI_IFNAME, CNI_PATH in the environment, the plugin's config on stdin, its result on stdout).
// What was set up is written to a record in the container directory *before* anything is set up, so the
// teardown, and the cleanup of a crashed run, always know what to DEL and which namespace to remove.
import { writeFileAtomic } from '../host/atomic-file.js';
import { randomBytes } from 'node:crypto';
import { access, constants, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runChild } from '../host/child-run.js';
import { CtrError, invalidArgument, notFound } from '../errors.js';
import { runCommand } from '../host/command.js';
import { mountsUnder } from '../host/mountinfo.js';
import { unmount } from '../host/unmount.js';
import { type CniAttachment, type CniNetworkList, configFileNames, containerAttachments, parseNetworkConfig, pluginConfig } from './cni-config.js';

/** Where plugins are looked for without --cni-plugin-dir: Debian's containernetworking-plugins, then the upstream default. */
export const DEFAULT_PLUGIN_DIRS: readonly string[] = ['/usr/lib/cni', '/opt/cni/bin'];

/** The `--cni*` flags. */
export interface CniOptions {
  /** `--cni-plugin-conf-dir`: use the first network configuration there (by name). Default: the built-in network (cni-config.ts). */
  confDir?: string;
  /** `--cni-plugin-dir`: where the plugin binaries are. Default: DEFAULT_PLUGIN_DIRS. */
  pluginDir?: string;
}

/** A network checked and ready to attach: its interfaces and each plugin's binary. */
export interface CniPlan {
  attachments: CniAttachment[];
  /** CNI_PATH: the plugin directories. */
  pluginDirs: string[];
  /** Plugin type → binary path. */
  plugins: Record<string, string>;
}

/** What is attached, as recorded in the container directory (`cni.json`). */
interface CniRecord extends CniPlan {
  containerId: string;
  netns: string;
  /** Each attachment's ADD result, once it succeeded (the prevResult of its DEL). */
  results: (unknown | null)[];
}

/** Load the network and find every plugin it needs; throws NotFound naming a missing plugin before anything is set up. */
export async function planCni(o: CniOptions = {}, signal?: AbortSignal): Promise<CniPlan> {
  const network = o.confDir !== undefined ? await readConfDir(o.confDir, signal) : undefined;
  const attachments = containerAttachments(network);
  const pluginDirs = o.pluginDir !== undefined ? [o.pluginDir] : [...DEFAULT_PLUGIN_DIRS];
  const plugins: Record<string, string> = {};
  for (const type of new Set(attachments.flatMap((a) => a.network.plugins.map((p) => p.type)))) {
    const found = await findPlugin(type, pluginDirs);
    if (!found) {
      throw notFound(
        `--cni: CNI plugin "${type}" not found in ${pluginDirs.join(', ')} (install Debian's containernetworking-plugins, or give --cni-plugin-dir)`,
      );
    }
    plugins[type] = found;
  }
  return { attachments, pluginDirs, plugins };
}

/** Where one attachment lives: the netns file and the record file, both inside the container directory. */
export interface CniPlace {
  /** The file the network namespace is bind-mounted on (the spec's network namespace path). */
  netns: string;
  /** The record file (see CniRecord). */
  record: string;
  /** The container id; CNI_CONTAINERID gets a random suffix so that two roots never share one. */
  id: string;
  signal?: AbortSignal;
}

/** Create the namespace and ADD every attachment; on failure everything done is undone (DEL, namespace removed). */
export async function attachCni(plan: CniPlan, place: CniPlace): Promise<void> {
  const record: CniRecord = { ...plan, containerId: `${place.id}-${randomBytes(4).toString('hex')}`, netns: place.netns, results: plan.attachments.map(() => null) };
  await writeRecord(place.record, record);
  try {
    await createNetns(place.netns, place.signal);
    for (const [i, a] of record.attachments.entries()) {
      record.results[i] = await addNetwork(record, a, place.signal);
      await writeRecord(place.record, record);
    }
  } catch (e) {
    await detachCni(place.record).catch(() => {});
    throw e;
  }
}

/**
 * DEL every attachment (last first, each plugin list in reverse) and remove the namespace and the record.
 * Nothing recorded: nothing to do. A failed DEL keeps the record and the namespace (the next cleanup tries
 * again with both) and throws.
 */
export async function detachCni(recordPath: string): Promise<void> {
  const record = await readRecord(recordPath);
  if (!record) return;
  const failures: unknown[] = [];
  // A namespace that is not mounted (a crash before it was made) is passed as none: plugins then only free what they hold (addresses, rules).
  const mounted = (await mountsUnder(record.netns)).length > 0;
  const target = mounted ? record : { ...record, netns: '' };
  for (let i = record.attachments.length - 1; i >= 0; i--) {
    const a = record.attachments[i]!;
    await delNetwork(target, a, record.results[i] ?? undefined).catch((e: unknown) => failures.push(e));
  }
  // After a failed DEL the namespace is kept with the record: plugins need it to undo everything (the bridge
  // plugin removes its masquerading rules only when it gets the namespace).
  if (failures.length > 0) throw failures[0];
  if (mounted) await unmount(record.netns);
  await rm(record.netns, { force: true });
  await rm(recordPath, { force: true });
}

/** A new network namespace, kept alive by a bind mount on `file` (unshare(1) makes it and exits). */
async function createNetns(file: string, signal: AbortSignal | undefined): Promise<void> {
  await writeFile(file, '', { mode: 0o600 });
  const r = await runCommand('unshare', [`--net=${file}`, 'true'], 'create network namespace', { signal });
  if (r.exitCode !== 0) throw new CtrError('Unavailable', `create network namespace ${file}: ${r.error || `unshare exited ${r.exitCode}`}`);
}

async function addNetwork(record: CniRecord, a: CniAttachment, signal: AbortSignal | undefined): Promise<unknown> {
  let prev: unknown;
  for (const plugin of a.network.plugins) prev = await execPlugin(record, 'ADD', a, pluginConfig(a.network, plugin, prev), signal);
  return prev ?? null;
}

async function delNetwork(record: CniRecord, a: CniAttachment, result: unknown): Promise<void> {
  for (const plugin of [...a.network.plugins].reverse()) await execPlugin(record, 'DEL', a, pluginConfig(a.network, plugin, result), undefined);
}

/** Run one plugin once; its JSON result (ADD) or nothing (DEL); a CNI error result becomes an Unavailable naming the plugin. */
async function execPlugin(record: CniRecord, command: 'ADD' | 'DEL', a: CniAttachment, config: Record<string, unknown>, signal: AbortSignal | undefined): Promise<unknown> {
  const type = String(config.type);
  const binary = record.plugins[type];
  if (!binary) throw notFound(`CNI plugin "${type}" is not in the plan`);
  const r = await runChild(binary, [], {
    stdio: ['pipe', 'pipe', 'pipe'],
    input: JSON.stringify(config),
    env: {
      // a fixed PATH (plugins run iptables, ip, ...): not the one of whoever ran the command, which a later
      // cleanup by another root command would not share
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: record.containerId,
      CNI_NETNS: record.netns,
      CNI_IFNAME: a.ifname,
      CNI_PATH: record.pluginDirs.join(':'),
    },
    signal,
  });
  if (r.canceled) throw new CtrError('Aborted', `CNI ${command} ${a.network.name}: aborted`);
  if (r.spawnError) throw new CtrError('Unavailable', `CNI plugin ${type} ${command}: cannot start ${binary}: ${r.spawnError.message}`);
  if (r.exitCode !== 0) throw new CtrError('Unavailable', `CNI plugin ${type} ${command} (network ${a.network.name}, ${a.ifname}): ${pluginError(r.stdout, r.stderr, r.exitCode)}`);
  if (command === 'DEL' || r.stdout.trim() === '') return undefined;
  try {
    return JSON.parse(r.stdout) as unknown;
  } catch {
    throw new CtrError('Unavailable', `CNI plugin ${type} ${command}: its result is not JSON`);
  }
}

/** The message of a CNI error result (`{"code","msg","details"}` on stdout), else the plugin's stderr. */
function pluginError(stdout: string, stderr: string, exitCode: number | undefined): string {
  try {
    const e = JSON.parse(stdout) as { msg?: string; details?: string };
    if (typeof e.msg === 'string') return e.details ? `${e.msg} (${e.details})` : e.msg;
  } catch {
    // not a CNI error result
  }
  return stderr.split('\n')[0]?.trim() || `exit status ${exitCode ?? 'unknown'}`;
}

async function findPlugin(type: string, dirs: readonly string[]): Promise<string | undefined> {
  for (const dir of dirs) {
    const path = join(dir, type);
    if (await access(path, constants.X_OK).then(() => true, () => false)) return path;
  }
  return undefined;
}

/** The first configuration file of `dir` (by name, as libcni), parsed. */
async function readConfDir(dir: string, signal: AbortSignal | undefined): Promise<CniNetworkList> {
  const names = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ENOENT' ? notFound(`--cni-plugin-conf-dir ${dir} does not exist`) : e;
  });
  const first = configFileNames(names)[0];
  if (!first) throw invalidArgument(`--cni-plugin-conf-dir ${dir}: no .conflist, .conf or .json network configuration in it`);
  return parseNetworkConfig(await readFile(join(dir, first), { encoding: 'utf8', signal }), join(dir, first));
}

async function writeRecord(path: string, record: CniRecord): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(record), { mode: 0o600 }); // a crash leaves the previous record whole
}

async function readRecord(path: string): Promise<CniRecord | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as CniRecord;
  } catch {
    return undefined;
  }
}
