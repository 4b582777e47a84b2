// The subset of the OCI runtime spec (config.json) that ctr-remote writes for runc 1.1.
// https://github.com/opencontainers/runtime-spec/blob/v1.0.2/config.md
// https://github.com/opencontainers/runtime-spec/blob/v1.0.2/config-linux.md

export interface SpecUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
}

export interface SpecCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
}

export interface SpecRlimit {
  type: string;
  hard: number;
  soft: number;
}

export interface SpecProcess {
  terminal: boolean;
  user: SpecUser;
  args: string[];
  env: string[];
  cwd: string;
  capabilities: SpecCapabilities;
  rlimits: SpecRlimit[];
  noNewPrivileges: boolean;
}

export interface SpecMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface SpecNamespace {
  type: 'pid' | 'network' | 'ipc' | 'uts' | 'mount' | 'user' | 'cgroup';
  path?: string;
}

export interface SpecDevice {
  type: 'c' | 'b' | 'p';
  path: string;
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

export interface SpecDeviceRule {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

/** cgroup limits (config-linux.md#control-groups); only what the flags set. */
export interface SpecResources {
  devices: SpecDeviceRule[];
  /** `--memory-limit`: memory.max (v2) / memory.limit_in_bytes (v1), in bytes. */
  memory?: { limit: number };
  /** `--cpus`: CFS quota per period, both in microseconds. */
  cpu?: { quota: number; period: number };
}

export interface SpecLinux {
  namespaces: SpecNamespace[];
  devices: SpecDevice[];
  resources: SpecResources;
  cgroupsPath: string;
  maskedPaths: string[];
  readonlyPaths: string[];
}

/** An OCI runtime spec as runc reads it from `<bundle>/config.json`. */
export interface RuntimeSpec {
  ociVersion: string;
  process: SpecProcess;
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: SpecMount[];
  linux: SpecLinux;
  annotations?: Record<string, string>;
}
