// Assemble a container root filesystem with overlayfs: the image layers as lowerdirs (topmost first),
// a per-container upper and work dir. https://docs.kernel.org/filesystems/overlayfs.html
//
// The mount(2) data page limits the option string to 4095 bytes: with absolute snapshot paths
// (`<root>/snapshots/sha256-<64 hex>/fs`, ~94 bytes with a short root) mounting failed from 44 layers
// (measured on 6.18). So each lowerdir is named by a short symlink `l/<n>` in a link dir and mount runs
// with that dir as cwd; then the only limit left is overlayfs's own stack depth of 500 lowerdirs.
//
// Every mount made here carries `nosuid,nodev` (IMAGE_MOUNT_FLAGS): layers and a container's upper dir come
// from untrusted images and containers, and a setuid-root file or a device node in them must grant nothing
// to a host user who reaches the mount. Inside the container nothing is lost: its process runs with
// no_new_privs (setuid bits are ignored there anyway) and its devices come from the runtime spec.
import { mkdir, rm, symlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { CtrError, invalidArgument, limitExceeded } from '../errors.js';
import { runCommand } from '../host/command.js';
import type { MountSpec } from '../host/mount-spec.js';

/** Mount flags of every mount of image or container content. */
export const IMAGE_MOUNT_FLAGS = ['nosuid', 'nodev'] as const;

/** overlayfs refuses more lower layers than this (OVL_MAX_STACK). */
export const MAX_LOWERDIRS = 500;

/** Where and how to assemble one overlay. */
export interface OverlayMount {
  /** Layer directories, topmost first. */
  lowerdirs: string[];
  /** Writable layer; omitted for a read-only mount. */
  upperdir?: string;
  /** overlayfs work dir on the same filesystem as upperdir; required with upperdir. */
  workdir?: string;
  /** Mount point (created if missing). */
  target: string;
  /** Directory whose `l/` holds the short lowerdir symlinks (recreated); the cwd of mount. */
  linkDir: string;
  signal?: AbortSignal;
}

/** Mount a writable overlay (lowerdirs + upperdir + workdir) on `target`. */
export async function mountOverlay(m: OverlayMount): Promise<void> {
  if (!m.upperdir || !m.workdir) throw invalidArgument(`overlay on ${m.target}: upperdir and workdir are required`);
  await mkdir(m.upperdir, { recursive: true });
  await mkdir(m.workdir, { recursive: true });
  const rel = (p: string): string => escapeOption(relative(m.linkDir, p));
  await mountLayers(m, [`upperdir=${rel(m.upperdir)}`, `workdir=${rel(m.workdir)}`]);
}

/** Mount the layers read-only on `target` (overlay of the lowerdirs; a read-only bind for one layer). */
export async function mountOverlayReadOnly(m: OverlayMount): Promise<void> {
  if (m.lowerdirs.length === 1) {
    await mkdir(m.target, { recursive: true });
    await run('mount', ['-o', ['bind', 'ro', ...IMAGE_MOUNT_FLAGS].join(','), m.lowerdirs[0] ?? '', m.target], m.target, m.signal);
    return;
  }
  await mountLayers(m, ['ro']);
}

/**
 * Make the mounts a snapshotter describes (bind, overlay) at `target`, with the flags of every mount of
 * image content (nosuid, nodev); `linkDir` holds the short lowerdir links of an overlay (see mountOverlay).
 */
export async function mountSpecs(specs: readonly MountSpec[], target: string, linkDir: string, signal?: AbortSignal): Promise<void> {
  for (const spec of specs) {
    if (spec.type === 'bind') {
      await mkdir(target, { recursive: true });
      const mode = spec.options.includes('ro') ? 'ro' : 'rw';
      await run('mount', ['-o', ['bind', mode, ...IMAGE_MOUNT_FLAGS].join(','), spec.source, target], target, signal);
      continue;
    }
    if (spec.type !== 'overlay') throw invalidArgument(`mount on ${target}: unsupported mount type ${JSON.stringify(spec.type)}`);
    const opt = (name: string) => spec.options.find((o) => o.startsWith(`${name}=`))?.slice(name.length + 1);
    const lowerdirs = (opt('lowerdir') ?? '').split(':').filter((d) => d !== '');
    const upperdir = opt('upperdir');
    const workdir = opt('workdir');
    const m: OverlayMount = { lowerdirs, target, linkDir, ...(upperdir ? { upperdir } : {}), ...(workdir ? { workdir } : {}), ...(signal ? { signal } : {}) };
    await (upperdir ? mountOverlay(m) : mountOverlayReadOnly(m));
  }
}

async function mountLayers(m: OverlayMount, extra: string[]): Promise<void> {
  if (m.lowerdirs.length === 0) throw invalidArgument(`overlay on ${m.target}: no layers`);
  if (m.lowerdirs.length > MAX_LOWERDIRS) {
    throw limitExceeded(`overlay on ${m.target}: ${m.lowerdirs.length} layers, above overlayfs's limit of ${MAX_LOWERDIRS}`);
  }
  await rm(join(m.linkDir, 'l'), { recursive: true, force: true });
  await mkdir(join(m.linkDir, 'l'), { recursive: true });
  await Promise.all(m.lowerdirs.map((dir, i) => symlink(dir, join(m.linkDir, 'l', String(i)))));
  await mkdir(m.target, { recursive: true });
  const lower = `lowerdir=${m.lowerdirs.map((_, i) => `l/${i}`).join(':')}`;
  const options = [lower, ...extra, ...IMAGE_MOUNT_FLAGS].join(',');
  await run('mount', ['-t', 'overlay', 'overlay', '-o', options, m.target], m.target, m.signal, m.linkDir);
}

async function run(cmd: string, args: string[], target: string, signal?: AbortSignal, cwd?: string): Promise<void> {
  const r = await runCommand(cmd, args, `mount ${target}`, { signal, cwd });
  if (r.exitCode !== 0) throw new CtrError('Internal', `mount ${target}: ${r.error || `exit ${r.exitCode}`}`);
}

/** overlayfs splits options on ',' and lowerdirs on ':'; a backslash escapes both. */
function escapeOption(path: string): string {
  return path.replace(/([\\,:])/g, '\\$1');
}
