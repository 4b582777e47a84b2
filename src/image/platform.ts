// Platforms (`os/arch[/variant]`): parsing `--platform`, the host default, and choosing which manifest of
// an image a command uses. One rule for every command (pull, push, convert, optimize, rpull, run, mount):
//   - an index: the manifest for the platform asked for (default: this host's), as containerd's matcher;
//   - a single-platform image (its platform is its config's os/architecture/variant): taken as it is
//     when no platform was asked for, checked when one was (`pull --platform linux/s390x` of an amd64
//     image is an error naming what the image has);
//   - `run` also refuses a single-platform image this host cannot run unless --platform asked for it
//     (see runnablePlatforms).
// https://github.com/opencontainers/image-spec/blob/main/image-index.md#platform-variants
import { invalidArgument, limitExceeded, notFound } from '../errors.js';
import { isManifestType } from '../oci/media-types.js';
import type { Descriptor, ImageConfig, Platform } from '../oci/types.js';
import type { ImageSource } from '../content/endpoint.js';
import { readManifest, type FetchedManifest } from '../content/read-manifest.js';
import { MAX_CONFIG_SIZE } from '../oci/manifest-json.js';
import { readVerified } from '../content/verified-stream.js';

const ARCH_FROM_NODE: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle' };

// Go's GOOS and GOARCH values (the names OCI platforms use).
const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'wasip1', 'windows', 'zos']);
const KNOWN_ARCH = new Set(['386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le', 'mips64p32', 'mips64p32le', 'ppc', 'ppc64', 'ppc64le', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm']);
const COMPONENT = /^[a-z0-9_-]+$/;

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

/**
 * The platforms whose images this host runs natively: its own, and linux/386 on linux/amd64. Other
 * pairs (arm on arm64) depend on how the kernel was built, so they are not assumed.
 */
export function runnablePlatforms(host: Platform = hostPlatform()): Platform[] {
  return host.os === 'linux' && host.architecture === 'amd64' ? [host, { os: 'linux', architecture: '386' }] : [host];
}

/**
 * Parse `os/arch[/variant]`, or one word that is an OS (this host's architecture) or an architecture
 * (linux). Names are normalised (x86_64 → amd64, aarch64 → arm64/v8, armhf → arm/v7); an unknown OS or
 * architecture is InvalidArgument, so a typo is not taken for a platform no image has.
 */
export function parsePlatform(text: string): Platform {
  const bad = (why: string) => invalidArgument(`${why} (want os/arch[/variant], e.g. linux/arm64)`);
  const parts = text.toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => !COMPONENT.test(p))) throw bad(`Malformed platform ${JSON.stringify(text)}`);
  let os: string;
  let arch: string;
  let variant = parts[2];
  if (parts.length === 1) {
    const word = parts[0] as string;
    if (KNOWN_OS.has(word)) [os, arch, variant] = [word, hostPlatform().architecture, hostPlatform().variant];
    else [os, arch] = ['linux', word];
  } else [os, arch] = [parts[0] as string, parts[1] as string];
  const p = normalisePlatform({ os, architecture: arch, ...(variant ? { variant } : {}) });
  if (!KNOWN_OS.has(p.os)) throw bad(`Unknown operating system ${JSON.stringify(p.os)}`);
  if (!KNOWN_ARCH.has(p.architecture)) throw bad(`Unknown architecture ${JSON.stringify(p.architecture)}`);
  return p;
}

/** `os/arch[/variant]` of a platform. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x).join('/');
}

/** Canonical names, as containerd's normaliser: x86_64 → amd64, aarch64 → arm64/v8, armhf → arm/v7, armel → arm/v6. */
function normalisePlatform(p: Platform): Platform {
  let { architecture: arch, variant } = p;
  if (arch === 'x86_64' || arch === 'x86-64') arch = 'amd64';
  else if (arch === 'i386') arch = '386';
  else if (arch === 'aarch64') arch = 'arm64';
  else if (arch === 'armhf') [arch, variant] = ['arm', 'v7'];
  else if (arch === 'armel') [arch, variant] = ['arm', 'v6'];
  if (arch === 'amd64' && variant === 'v1') variant = undefined;
  if (variant && /^\d$/.test(variant)) variant = `v${variant}`;
  if (!variant && arch === 'arm64') variant = 'v8';
  if (!variant && arch === 'arm') variant = 'v7';
  return { os: p.os, architecture: arch, ...(variant ? { variant } : {}) };
}

/** True when an image built for `have` is what `want` asks for (a want without variant takes any). */
export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  const w = normalisePlatform(want);
  const h = normalisePlatform(have);
  if (h.os !== w.os || h.architecture !== w.architecture) return false;
  return w.variant === undefined || h.variant === w.variant;
}

/** The first manifest of an index that matches `want`; throws NotFound listing the platforms it has. */
export function selectPlatform(manifests: Descriptor[], want: Platform, label: string): Descriptor {
  const hit = manifests.find((d) => platformMatches(want, d.platform));
  if (hit) return hit;
  throw noMatch(label, want, manifests.map((d) => d.platform));
}

/** The platform an image config declares (os, architecture, variant); undefined when it names none. */
export function configPlatform(config: Partial<ImageConfig>): Platform | undefined {
  if (typeof config.os !== 'string' || typeof config.architecture !== 'string' || !config.os || !config.architecture) return undefined;
  return { os: config.os, architecture: config.architecture, ...(typeof config.variant === 'string' && config.variant ? { variant: config.variant } : {}) };
}

/** Check a single-platform image (platform `have`) against an explicitly asked `want`; NotFound naming both. */
export function checkPlatform(label: string, want: Platform, have: Platform | undefined): void {
  if (!platformMatches(want, have)) throw noMatch(label, want, [have]);
}

/** Check that this host runs an image for `have` (`run` without --platform); InvalidArgument naming both. */
export function checkRunnable(label: string, have: Platform | undefined): void {
  const runs = runnablePlatforms();
  if (!have || runs.some((p) => platformMatches(p, have))) return; // a config without a platform is not refused
  const what = formatPlatform(have);
  throw invalidArgument(`${label} is a ${what} image; this host runs ${runs.map(formatPlatform).join(' and ')} (add --platform ${what} to run it anyway, e.g. with qemu binfmt)`);
}

/**
 * The manifest of `root` that a command uses for `want` (undefined: nothing asked, this host's from an
 * index); see the module comment. Reads the chosen manifest from an index, or the config of a
 * single-platform image when `want` is given.
 */
export async function selectImageManifest(src: ImageSource, root: FetchedManifest, want: Platform | undefined, signal?: AbortSignal): Promise<FetchedManifest> {
  if (root.parsed.kind === 'index') {
    const candidates = root.parsed.index.manifests.filter((d) => isManifestType(d.mediaType));
    return readManifest(src, selectPlatform(candidates, want ?? hostPlatform(), src.label), signal);
  }
  if (want) checkPlatform(src.label, want, await readConfigPlatform(src, root.parsed.manifest.config, signal));
  return root;
}

async function readConfigPlatform(src: ImageSource, desc: Descriptor, signal?: AbortSignal): Promise<Platform | undefined> {
  if (desc.size > MAX_CONFIG_SIZE) throw limitExceeded(`image config ${desc.digest} is ${desc.size} bytes, over the ${MAX_CONFIG_SIZE}-byte limit`);
  const bytes = await readVerified(desc, await src.fetch(desc, signal));
  let config: unknown;
  try {
    config = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw invalidArgument(`image config ${desc.digest} is not valid JSON`, e);
  }
  return typeof config === 'object' && config !== null ? configPlatform(config as Partial<ImageConfig>) : undefined;
}

function noMatch(label: string, want: Platform, have: (Platform | undefined)[]): Error {
  const offered = have.map((p) => (p ? formatPlatform(p) : 'unknown')).join(', ');
  return notFound(`${label} has no manifest for ${formatPlatform(want)} (it has: ${offered || 'none'})`);
}
