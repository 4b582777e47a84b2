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
import { mergeEnv } from './env.js';
import type { RuntimeSpec, SpecMount, SpecNamespace, SpecUser } from './spec-types.js';

/** Everything that shapes one container's spec. */
export interface SpecInput {
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
  const caps = [...DEFAULT_CAPABILITIES];
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
    root: { path: input.rootfs, readonly: false },
    hostname: input.hostname ?? input.id.slice(0, 63),
    mounts: [...defaultMounts(), ...etcMounts(input.etc), ...(input.mounts ?? [])],
    linux: {
      namespaces: namespaces(input.netHost ?? false),
      devices: [],
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      cgroupsPath: `/ctr-remote/${input.id}`,
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
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

function namespaces(netHost: boolean): SpecNamespace[] {
  const types: SpecNamespace['type'][] = ['pid', 'ipc', 'uts', 'mount'];
  if (!netHost) types.push('network');
  return types.map((type) => ({ type }));
}
