// Platforms (`os/arch[/variant]`): parsing `--platform`, the host default, and picking a manifest
// from an index the way containerd's platform matcher does.
// https://github.com/opencontainers/image-spec/blob/main/image-index.md#platform-variants
import { invalidArgument, notFound } from '../errors.js';
import type { Descriptor, Platform } from '../oci/types.js';

const ARCH_FROM_NODE: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle' };

/** The platform of this host, normalised to OCI names (x64 → amd64, arm64 → arm64/v8, arm → arm/v7). */
export function hostPlatform(): Platform {
  const architecture = ARCH_FROM_NODE[process.arch] ?? process.arch;
  const p: Platform = { os: process.platform === 'win32' ? 'windows' : process.platform, architecture };
  if (architecture === 'arm64') p.variant = 'v8';
  if (architecture === 'arm') {
    const v = (process.config.variables as Record<string, unknown>)['arm_version'];
    p.variant = `v${typeof v === 'string' || typeof v === 'number' ? v : 7}`;
  }
  return p;
}

/** Parse `os/arch[/variant]` (or just `arch`, meaning linux); throws InvalidArgument. */
export function parsePlatform(text: string): Platform {
  const parts = text.toLowerCase().split('/');
  if (parts.some((p) => p === '') || parts.length > 3) throw invalidArgument(`invalid platform ${JSON.stringify(text)} (want os/arch[/variant])`);
  const [a, b, c] = parts as [string, string?, string?];
  const p: Platform = b === undefined ? { os: 'linux', architecture: a } : { os: a, architecture: b };
  p.architecture = normaliseArch(p.architecture);
  if (c !== undefined) p.variant = c;
  else if (p.architecture === 'arm64') p.variant = 'v8';
  return p;
}

/** `os/arch[/variant]` of a platform. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x).join('/');
}

function normaliseArch(arch: string): string {
  if (arch === 'x86_64' || arch === 'x86-64') return 'amd64';
  if (arch === 'aarch64') return 'arm64';
  if (arch === 'i386') return '386';
  return arch;
}

/** Default variant when an image omits it (arm64 is v8, arm is v7). */
function variantOf(p: Platform): string | undefined {
  if (p.variant) return p.variant;
  if (p.architecture === 'arm64') return 'v8';
  if (p.architecture === 'arm') return 'v7';
  return undefined;
}

/** True when an image built for `have` runs on `want`. */
export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  if (have.os !== want.os || normaliseArch(have.architecture) !== want.architecture) return false;
  return variantOf(want) === undefined || variantOf(have) === variantOf(want);
}

/** The first manifest of an index that matches `want`; throws NotFound listing the platforms it has. */
export function selectPlatform(manifests: Descriptor[], want: Platform, label: string): Descriptor {
  const hit = manifests.find((d) => platformMatches(want, d.platform));
  if (hit) return hit;
  const offered = manifests.map((d) => (d.platform ? formatPlatform(d.platform) : '?')).join(', ');
  throw notFound(`${label} has no manifest for ${formatPlatform(want)} (it has: ${offered || 'none'})`);
}
