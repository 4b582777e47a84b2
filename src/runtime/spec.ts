// Build the OCI runtime spec (runc's config.json) of a container from its image config and the
// command-line overrides. Pure: user ids are resolved beforehand (user.ts), files are paths.
// https://github.com/opencontainers/runtime-spec/blob/v1.0.2/config.md
import { invalidArgument } from '../errors.js';
import type { ImageConfig } from '../oci/types.js';
import {
  DEFAULT_CAPABILITIES,
  DEFAULT_ENV,
  DEFAULT_RLIMITS,
  MASKED_PATHS,
  OCI_VERSION,
  READONLY_PATHS,
  defaultMounts,
} from './default-spec.js';
import { capabilitySet } from './capabilities.js';
import { mergeEnv } from './env.js';
import type { RuntimeSpec, SpecDevice, SpecDeviceRule, SpecMount, SpecNamespace, SpecResources, SpecUser } from './spec-types.js';

/** The CFS period `--cpus` quotas are expressed in (µs), as `ctr run`. */
export const CPU_PERIOD_US = 100_000;

/** `run`'s privilege and resource flags; none is set by default (an unprivileged container without limits). */
export interface ContainerPrivileges {
  /**
   * `--privileged`: every capability of the host, the host's devices, no masked or read-only /proc paths,
   * a writable /sys. An explicit choice of the user; never implied by an image.
   */
  privileged?: boolean;
  /** `--read-only`: the root filesystem is mounted read-only. */
  readonlyRootfs?: boolean;
  /** `--cap-add` / `--cap-drop`: parsed names (capabilities.ts parseCapability); see capabilitySet. */
  capAdd?: string[];
  capDrop?: string[];
  /** `--memory-limit`: bytes; 0 or absent: no limit. */
  memoryLimit?: number;
  /** `--cpus`: CPUs' worth of CFS quota (1.5 = 150 ms per 100 ms); 0 or absent: no limit. */
  cpus?: number;
}

/** Facts of the host the privilege flags need, read beforehand (capabilities.ts, host-devices.ts). */
export interface HostFacts {
  /** Every capability we can give (our bounding set): what `--privileged` and `ALL` give. */
  capabilities: readonly string[];
  /** The host's device nodes, given to a privileged container. */
  devices: readonly SpecDevice[];
}

/** Everything that shapes one container's spec. */
export interface SpecInput extends ContainerPrivileges {
  /** Container id; names the cgroup (`/ctr-remote/<id>`) and, by default, the hostname. */
  id: string;
  /** Absolute path of the assembled root filesystem. */
  rootfs: string;
  /** The `config` section of the image config (may be absent in minimal images). */
  image: ImageConfig['config'] | undefined;
  /** The whole command line (CMD ARGS after the id, as `ctr run`): replaces Entrypoint and Cmd. Default: none. */
  args?: string[];
  /** Replaces the image Entrypoint (optimize's --entrypoint). Ignored when `args` is given. */
  entrypoint?: string[];
  /** Replaces the image Cmd (optimize's --args). Ignored when `args` is given. */
  cmd?: string[];
  /** Env overrides applied over the image Env in order (env-file lines, then --env). Default: none. */
  env?: string[];
  /** Working directory; default: the image WorkingDir, else `/`. */
  cwd?: string;
  /** The resolved process user (see resolveUser). */
  user: SpecUser;
  /** Extra mounts (--mount), mounted after the defaults. Default: none. */
  mounts?: SpecMount[];
  /** Per-container host files bind-mounted over /etc/hosts, /etc/resolv.conf and /etc/hostname (see etc-files.ts). */
  etc: { hosts: string; resolvConf: string; hostname: string };
  /** Share the host's network namespace (default false: a private one with only loopback, which runc brings up). */
  netHost?: boolean;
  /** Join this network namespace (a bind-mounted netns file, set up by CNI: cni.ts) instead of a new one. */
  netns?: string;
  /** Needed with `privileged` or `ALL` in capAdd. Default: the default capabilities only, no devices. */
  host?: HostFacts;
  /** Give the process a terminal (`-t`). Default false. */
  terminal?: boolean;
  /** Hostname inside the container. Default: the id (first 63 characters). */
  hostname?: string;
}

/** Build the runtime spec for `input`; throws InvalidArgument when there is nothing to run or a path is relative. */
export function buildSpec(input: SpecInput): RuntimeSpec {
  const image = input.image ?? {};
  const args = processArgs(input, image);
  const cwd = input.cwd ?? (image.WorkingDir || '/');
  if (!cwd.startsWith('/')) throw invalidArgument(`working directory ${JSON.stringify(cwd)} must be an absolute path`);
  const baseEnv = image.Env && image.Env.length > 0 ? image.Env : DEFAULT_ENV;
  const env = mergeEnv(baseEnv, [...(input.terminal ? ['TERM=xterm'] : []), ...(input.env ?? [])]);
  const privileged = input.privileged === true;
  const hostCaps = input.host?.capabilities ?? DEFAULT_CAPABILITIES;
  const caps = capabilitySet({ base: privileged ? hostCaps : DEFAULT_CAPABILITIES, host: hostCaps, add: input.capAdd, drop: input.capDrop });
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: input.terminal ?? false,
      user: input.user,
      args,
      env,
      cwd,
      capabilities: { bounding: caps, effective: [...caps], permitted: [...caps] },
      rlimits: DEFAULT_RLIMITS.map((r) => ({ ...r })),
      noNewPrivileges: true,
    },
    root: { path: input.rootfs, readonly: input.readonlyRootfs === true },
    hostname: input.hostname ?? input.id.slice(0, 63),
    mounts: [...kernelMounts(privileged), ...etcMounts(input.etc), ...(input.mounts ?? [])],
    linux: {
      namespaces: namespaces(input.netHost ?? false, input.netns),
      devices: privileged ? (input.host?.devices ?? []).map((d) => ({ ...d })) : [],
      resources: resources(input, privileged),
      cgroupsPath: `/ctr-remote/${input.id}`,
      maskedPaths: privileged ? [] : [...MASKED_PATHS],
      readonlyPaths: privileged ? [] : [...READONLY_PATHS],
    },
  };
}

/** The default kernel filesystems; a privileged container's /sys is writable (containerd's WithWriteableSysfs). */
function kernelMounts(privileged: boolean): SpecMount[] {
  const mounts = defaultMounts();
  if (!privileged) return mounts;
  return mounts.map((m) => (m.type === 'sysfs' ? { ...m, options: (m.options ?? []).filter((o) => o !== 'ro') } : m));
}

/** Device access rules and the --memory-limit / --cpus limits. */
function resources(input: SpecInput, privileged: boolean): SpecResources {
  const devices: SpecDeviceRule[] = [{ allow: privileged, access: 'rwm' }];
  const out: SpecResources = { devices };
  const memory = input.memoryLimit ?? 0;
  if (!Number.isSafeInteger(memory) || memory < 0) throw invalidArgument(`memory limit ${memory} must be a whole number of bytes`);
  if (memory > 0) out.memory = { limit: memory };
  const cpus = input.cpus ?? 0;
  if (!Number.isFinite(cpus) || cpus < 0) throw invalidArgument(`--cpus ${cpus} must be a positive number`);
  if (cpus > 0) {
    const quota = Math.round(cpus * CPU_PERIOD_US);
    // the kernel refuses a CFS quota under 1 ms
    if (quota < 1000) throw invalidArgument(`--cpus ${cpus} is below the smallest CPU quota (0.01)`);
    out.cpu = { quota, period: CPU_PERIOD_US };
  }
  return out;
}

function processArgs(input: SpecInput, image: NonNullable<ImageConfig['config']>): string[] {
  const args =
    input.args && input.args.length > 0
      ? input.args
      : [...(nonEmpty(input.entrypoint) ?? image.Entrypoint ?? []), ...(nonEmpty(input.cmd) ?? image.Cmd ?? [])];
  if (args.length === 0) throw invalidArgument('no command to run: the image has neither Entrypoint nor Cmd and none was given');
  return [...args];
}

function nonEmpty(a: string[] | undefined): string[] | undefined {
  return a && a.length > 0 ? a : undefined;
}

function etcMounts(etc: SpecInput['etc']): SpecMount[] {
  const bind = (destination: string, source: string): SpecMount => ({
    destination,
    type: 'bind',
    source,
    options: ['rbind', 'rprivate'],
  });
  return [bind('/etc/hosts', etc.hosts), bind('/etc/resolv.conf', etc.resolvConf), bind('/etc/hostname', etc.hostname)];
}

function namespaces(netHost: boolean, netns: string | undefined): SpecNamespace[] {
  const out: SpecNamespace[] = (['pid', 'ipc', 'uts', 'mount'] as const).map((type) => ({ type }));
  if (netns !== undefined) {
    if (!netns.startsWith('/')) throw invalidArgument(`network namespace path ${JSON.stringify(netns)} must be absolute`);
    out.push({ type: 'network', path: netns });
  } else if (!netHost) out.push({ type: 'network' });
  return out;
}
