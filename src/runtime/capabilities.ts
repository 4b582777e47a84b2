// Linux capabilities of a container process: the names the kernel knows (capability(7), by number), how
// `--cap-add` / `--cap-drop` values are read (CAP_X, X, any case, or ALL), and the resulting set.
import { readFile } from 'node:fs/promises';
import { invalidArgument } from '../errors.js';

/** Capability names by number (linux/capability.h up to 6.x: 0 … 40). */
export const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** `ALL` in --cap-add / --cap-drop: every capability we can give (hostCapabilities). */
export const ALL = 'ALL';

/** Read one --cap-add / --cap-drop value: `CAP_NET_ADMIN`, `NET_ADMIN` or `net_admin` → `CAP_NET_ADMIN`; `all` → `ALL`. */
export function parseCapability(text: string): string {
  const upper = text.trim().toUpperCase();
  if (upper === ALL) return ALL;
  const name = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!CAPABILITY_NAMES.includes(name)) throw invalidArgument(`unknown capability ${JSON.stringify(text)} (e.g. CAP_NET_ADMIN or NET_ADMIN; see capabilities(7))`);
  return name;
}

/** What decides a process's capabilities. */
export interface CapabilityInput {
  /** The set before the flags (the defaults, or every host capability when privileged). */
  base: readonly string[];
  /** Every capability we can give (what ALL means; see hostCapabilities). */
  host: readonly string[];
  /** --cap-add values (parsed). */
  add?: readonly string[];
  /** --cap-drop values (parsed). */
  drop?: readonly string[];
}

/**
 * (base ∪ add) \ drop, in the kernel's order. `--cap-add ALL` adds every host capability; `--cap-drop ALL`
 * drops everything but what --cap-add names explicitly (so `--cap-drop ALL --cap-add NET_RAW` keeps NET_RAW).
 * A capability both added and dropped by name is dropped, as `ctr run` applies the drops last.
 */
export function capabilitySet(i: CapabilityInput): string[] {
  const add = i.add ?? [];
  const drop = i.drop ?? [];
  const set = new Set(add.includes(ALL) ? i.host : [...i.base, ...add]);
  if (drop.includes(ALL)) {
    set.clear();
    for (const c of add) if (c !== ALL) set.add(c);
  }
  for (const c of drop) set.delete(c);
  return CAPABILITY_NAMES.filter((c) => set.has(c));
}

/**
 * The capabilities a container of ours can be given: this process's bounding set (/proc/self/status CapBnd;
 * containerd's WithAllCurrentCapabilities), which is every capability the kernel knows unless we run
 * confined ourselves. Falls back to the whole table when unreadable.
 */
export async function hostCapabilities(procSelf = '/proc/self'): Promise<string[]> {
  const status = await readFile(`${procSelf}/status`, 'utf8').catch(() => '');
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (hex === undefined) return [...CAPABILITY_NAMES];
  return capabilitiesOfMask(BigInt(`0x${hex}`));
}

/** The names of the capabilities set in a mask as /proc prints them (bit N = capability N). */
export function capabilitiesOfMask(mask: bigint): string[] {
  return CAPABILITY_NAMES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}
