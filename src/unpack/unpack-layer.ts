// Unpacking one layer tar into a directory, safely: nothing is ever created or followed outside the
// destination, whiteouts are applied (flattened 'apply' mode) or converted to overlayfs' spelling
// ('overlayfs' mode, each layer its own lowerdir). Ownership and devices only when privileged.

import { closeSync, constants, fchmodSync, fchownSync, futimesSync, openSync, writeSync } from 'node:fs';
import { relative } from 'node:path';
import { chmod, link, lchown, lstat, lutimes, mkdir, open, readdir, rm, symlink } from 'node:fs/promises';
import { isCtrError, withContext } from '../errors.js';
import type { TarHeader } from '../tar/header.js';
import { readTar, type TarEntry } from '../tar/reader.js';
import { entryComponents } from '../oci/entry-name.js';
import { RootResolver } from './root-resolver.js';
import { isUnpackError, unpackError, UNPACK_OP } from './unpack-error.js';
import { makeNode } from './special-files.js';
import { isOverlayXattr, OVERLAY_OPAQUE_XATTR, whiteoutKind } from '../oci/whiteout.js';
import { XattrWriter } from './xattr-writer.js';

/** Options of unpackLayer. */
export interface UnpackOptions {
  /**
   * 'apply': the destination holds the lower layers already (one flattened tree); whiteouts delete.
   * 'overlayfs': the destination is this layer's own lowerdir; whiteouts become 0/0 char devices and
   * opaque dirs get trusted.overlay.opaque=y (needs root).
   */
  whiteouts: 'apply' | 'overlayfs';
  signal?: AbortSignal;
  /** Set owners (lchown) and create devices; default: true when running as root. Without it devices are skipped with a warning. */
  privileged?: boolean;
  /** Receives every non-fatal problem (skipped device, refused xattr); they are also returned. */
  onWarning?: (message: string) => void;
}

/** What an unpack did. */
export interface UnpackResult {
  entries: number;
  /** Payload bytes written. */
  bytes: number;
  warnings: string[];
}

/**
 * Unpack a layer tar stream into `destDir` (which must exist). Refuses, with InvalidArgument, entries
 * that would escape the destination: ".." above the root, parents reached through symlinks that climb out
 * (absolute symlink targets are resolved inside the root, as the container sees them), hardlinks to outside.
 */
export async function unpackLayer(tarStream: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, destDir: string, opts: UnpackOptions): Promise<UnpackResult> {
  const u = new Unpacker(destDir, opts);
  try {
    await u.init();
    for await (const entry of readTar(tarStream, { signal: opts.signal })) await u.entry(entry);
    await u.finishDirs();
  } catch (e) {
    throw isCtrError(e) ? e : withContext({ op: 'unpack into', subject: destDir }, e);
  } finally {
    await u.close();
  }
  return u.result;
}

class Unpacker {
  readonly result: UnpackResult = { entries: 0, bytes: 0, warnings: [] };
  private readonly resolver: RootResolver;
  private readonly xattrs = new XattrWriter();
  private readonly privileged: boolean;
  /** Real paths (root-relative) this layer wrote, with all their ancestors: whiteouts never remove them. */
  private readonly mine = new Set<string>(['']);
  private readonly dirs = new Map<string, TarHeader>();
  /** Directories this unpack created, so anything in them not in `mine` cannot exist yet (saves an lstat per file). */
  private readonly fresh = new Set<string>();
  private readonly ids = { uid: process.geteuid?.() ?? -1, gid: process.getegid?.() ?? -1 };

  constructor(
    destDir: string,
    private readonly opts: UnpackOptions,
  ) {
    this.resolver = new RootResolver(destDir, (real) => this.fresh.add(real.join('/')));
    this.privileged = opts.privileged ?? process.getuid?.() === 0;
  }

  /** An empty, non-setgid destination counts as created by us: nothing in it can collide with an entry. */
  async init(): Promise<void> {
    const setgid = ((await lstat(this.resolver.root)).mode & 0o2000) !== 0;
    if (!setgid && (await readdir(this.resolver.root)).length === 0) this.fresh.add('');
  }

  async entry(e: TarEntry): Promise<void> {
    this.opts.signal?.throwIfAborted();
    const h = e.header;
    try {
      const comps = entryComponents(h.name);
      const base = comps.at(-1);
      const wh = base === undefined ? { kind: 'none' as const } : whiteoutKind(base);
      if (wh.kind === 'ignore') return;
      if (wh.kind === 'opaque') return await this.opaque(comps.slice(0, -1), h.name);
      if (wh.kind === 'whiteout') return await this.whiteout(comps.slice(0, -1), wh.target, h.name);
      await this.create(e, comps);
      this.result.entries++;
    } catch (err) {
      if (isUnpackError(err)) throw err;
      throw withContext({ op: UNPACK_OP, subject: JSON.stringify(h.name) }, err);
    }
  }

  private async create(e: TarEntry, comps: string[]): Promise<void> {
    const h = e.header;
    if (comps.length === 0) {
      if (h.type !== 'dir') throw unpackError('InvalidArgument', `entry "${h.name}" is a ${h.type} at the root of the destination`);
      return void this.dirs.set('', h);
    }
    const parent = await this.resolver.dir(comps.slice(0, -1), h.name, true);
    const real = [...parent, comps.at(-1) as string];
    const path = this.resolver.abs(real);
    const inFreshDir = this.fresh.has(parent.join('/')) && !this.mine.has(real.join('/'));
    this.remember(real);
    if (h.type === 'dir') return this.makeDir(path, real, h, inFreshDir);
    if (h.type === 'hardlink') return this.makeLink(path, h);
    if ((h.type === 'char' || h.type === 'block') && !this.privileged) return this.warn(`unpack: skipped ${h.type} device "${h.name}" (creating devices needs root)`);
    if (!inFreshDir) await this.clear(path);
    if (h.type === 'file' && h.size <= SMALL_FILE && !h.xattrs) return this.writeSmall(e, path, inFreshDir);
    if (h.type === 'file') await this.writeFile(h, e.body(), path, inFreshDir);
    else if (h.type === 'symlink') await symlink(h.linkname ?? '', path);
    else await makeNode(path, h.type === 'char' ? 'c' : h.type === 'block' ? 'b' : 'p', h.devmajor, h.devminor);
    if (h.type !== 'file') await this.setMeta(path, h);
    await this.setXattrs(path, h);
  }

  /**
   * A small new file: written with synchronous syscalls, which for thousands of small files costs far
   * less than four thread-pool round trips each; the event loop is held for one small file at a time.
   */
  private async writeSmall(e: TarEntry, path: string, inFreshDir: boolean): Promise<void> {
    const parts: Buffer[] = [];
    for await (const piece of e.body()) parts.push(piece);
    const h = e.header;
    const mode = h.mode & 0o7777;
    const fd = openSync(path, NEW_FILE_FLAGS, mode & 0o777);
    try {
      for (const p of parts) for (let off = 0; off < p.length; ) off += writeSync(fd, p, off);
      this.result.bytes += h.size;
      const owner = this.ownerChange(h, inFreshDir);
      if (owner) fchownSync(fd, h.uid, h.gid);
      if (needsChmod(mode, owner)) fchmodSync(fd, mode);
      futimesSync(fd, atimeOf(h), mtimeOf(h));
    } finally {
      closeSync(fd);
    }
  }

  /** Create a new file of any size, streaming its payload; chown/chmod only when creation left them wrong. */
  private async writeFile(h: TarHeader, body: AsyncIterable<Buffer>, path: string, inFreshDir: boolean): Promise<void> {
    const mode = h.mode & 0o7777;
    const fh = await open(path, NEW_FILE_FLAGS, mode & 0o777);
    try {
      for await (const piece of body) {
        this.opts.signal?.throwIfAborted();
        for (let off = 0; off < piece.length; ) off += (await fh.write(piece, off)).bytesWritten;
      }
      this.result.bytes += h.size;
      const owner = this.ownerChange(h, inFreshDir);
      if (owner) await fh.chown(h.uid, h.gid);
      if (needsChmod(mode, owner)) await fh.chmod(mode);
      await fh.utimes(atimeOf(h), mtimeOf(h));
    } finally {
      await fh.close();
    }
  }

  /** Whether a new file needs lchown: privileged, and not already ours in a dir we created (0755, not setgid). */
  private ownerChange(h: TarHeader, inFreshDir: boolean): boolean {
    return this.privileged && !(inFreshDir && h.uid === this.ids.uid && h.gid === this.ids.gid);
  }

  private async makeDir(path: string, real: string[], h: TarHeader, inFreshDir: boolean): Promise<void> {
    const st = inFreshDir ? undefined : await lstatOrUndefined(path);
    if (!st?.isDirectory()) {
      if (st) await this.clear(path);
      await mkdir(path, { mode: 0o700 });
      this.fresh.add(real.join('/'));
    }
    this.dirs.set(real.join('/'), h);
    await this.setXattrs(path, h);
  }

  private async makeLink(path: string, h: TarHeader): Promise<void> {
    const target = h.linkname ?? '';
    let comps: string[];
    try {
      comps = entryComponents(target);
    } catch {
      throw unpackError('InvalidArgument', `hardlink "${h.name}" points outside the destination ("${target}")`);
    }
    if (comps.length === 0) throw unpackError('InvalidArgument', `hardlink "${h.name}" points at the destination root`);
    const tparent = await this.resolver.dir(comps.slice(0, -1), h.name, false).catch((e: unknown) => {
      throw isCtrError(e, 'NotFound') ? unpackError('InvalidArgument', `hardlink "${h.name}" target "${target}" is not in the destination`, e) : e;
    });
    const tpath = this.resolver.abs([...tparent, comps.at(-1) as string]);
    const st = await lstatOrUndefined(tpath);
    if (!st) throw unpackError('InvalidArgument', `hardlink "${h.name}" target "${target}" is not in the destination`);
    if (st.isDirectory()) throw unpackError('InvalidArgument', `hardlink "${h.name}" target "${target}" is a directory`);
    if (tpath === path) return;
    await this.clear(path);
    await link(tpath, path);
  }

  /** ".wh.NAME": remove NAME of the lower layers (apply) or mark it with a 0/0 char device (overlayfs). */
  private async whiteout(parentComps: string[], target: string, name: string): Promise<void> {
    const parent = await this.parentForWhiteout(parentComps, name);
    if (!parent) return;
    const real = [...parent, target];
    if (this.mine.has(real.join('/'))) return; // whiteouts hide lower layers only
    const path = this.resolver.abs(real);
    await this.clear(path);
    if (this.opts.whiteouts === 'overlayfs') {
      await makeNode(path, 'c', 0, 0);
      this.fresh.delete(parent.join('/')); // the dir now holds something `mine` does not list
    }
  }

  /** ".wh..wh..opq": hide all lower content of the directory. */
  private async opaque(dirComps: string[], name: string): Promise<void> {
    const dir = await this.parentForWhiteout(dirComps, name);
    if (!dir) return;
    if (this.opts.whiteouts === 'apply') return this.removeLower(dir);
    this.remember(dir);
    const refused = await this.xattrs.set(this.resolver.abs(dir), OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
    if (refused) throw unpackError('Unsupported', `cannot mark "${dir.join('/')}" opaque (${OVERLAY_OPAQUE_XATTR}): ${refused}`);
  }

  private async parentForWhiteout(comps: string[], name: string): Promise<string[] | undefined> {
    if (this.opts.whiteouts === 'overlayfs') {
      if (!this.privileged) throw unpackError('Unsupported', `whiteout "${name}" in overlayfs mode needs root (mknod 0/0, trusted.* xattrs)`);
      return this.resolver.dir(comps, name, true);
    }
    return this.resolver.dir(comps, name, false).catch((e: unknown) => (isCtrError(e, 'NotFound') ? undefined : Promise.reject(e)));
  }

  private async removeLower(dir: string[]): Promise<void> {
    for (const child of await readdir(this.resolver.abs(dir))) {
      const real = [...dir, child];
      const path = this.resolver.abs(real);
      if (!this.mine.has(real.join('/'))) await this.clear(path);
      else if ((await lstat(path)).isDirectory()) await this.removeLower(real);
    }
  }

  /** Remove whatever is at `path` (never following a symlink), so a new entry can take its place. */
  private async clear(path: string): Promise<void> {
    const st = await lstatOrUndefined(path);
    if (!st) return;
    await rm(path, { recursive: st.isDirectory(), force: true });
    if (st.isDirectory() || st.isSymbolicLink()) this.resolver.invalidate();
    if (st.isDirectory()) this.forgetTree(path);
  }

  /** A removed directory is neither fresh nor owed its metadata any more (nor is anything under it). */
  private forgetTree(path: string): void {
    const key = relative(this.resolver.root, path);
    const under = (k: string) => k === key || k.startsWith(`${key}/`);
    for (const k of this.fresh) if (under(k)) this.fresh.delete(k);
    for (const k of this.dirs.keys()) if (under(k)) this.dirs.delete(k);
  }

  private remember(real: string[]): void {
    for (let i = 1; i <= real.length; i++) this.mine.add(real.slice(0, i).join('/'));
  }

  private async setMeta(path: string, h: TarHeader): Promise<void> {
    if (this.privileged) await lchown(path, h.uid, h.gid);
    if (h.type !== 'symlink') await chmod(path, h.mode & 0o7777);
    await lutimes(path, atimeOf(h), mtimeOf(h));
  }

  private async setXattrs(path: string, h: TarHeader): Promise<void> {
    for (const [name, value] of h.xattrs ?? []) {
      if (isOverlayXattr(name)) {
        this.warn(`unpack: ignored xattr ${name} on "${h.name}" (overlayfs metadata is never taken from a layer)`);
        continue;
      }
      const refused = await this.xattrs.set(path, name, value);
      if (refused) this.warn(`unpack: xattr ${name} on "${h.name}" not set: ${refused}`);
    }
  }

  /** Apply directory metadata last, deepest first, so writing children does not disturb mtimes or modes. */
  async finishDirs(): Promise<void> {
    const order = [...this.dirs.keys()].sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? 1 : -1));
    for (const key of order) {
      const h = this.dirs.get(key) as TarHeader;
      await this.setMeta(this.resolver.abs(key === '' ? [] : key.split('/')), h).catch((e: unknown) => {
        throw withContext({ op: UNPACK_OP, subject: JSON.stringify(h.name) }, e);
      });
    }
  }

  async close(): Promise<void> {
    await this.xattrs.close();
  }

  private warn(message: string): void {
    this.result.warnings.push(message);
    this.opts.onWarning?.(message);
  }
}

/** Files up to this size in fresh dirs are written with synchronous syscalls. */
const SMALL_FILE = 1 << 20;
const NEW_FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** chmod after create when special bits are set, the umask took bits away, or a chown cleared setuid/setgid. */
const needsChmod = (mode: number, chowned: boolean): boolean => (mode & ~0o777) !== 0 || (mode & UMASK) !== 0 || chowned;

/** The process umask, read once (new files are created with mode & ~umask). */
const UMASK = (() => {
  const m = process.umask(0);
  process.umask(m);
  return m;
})();

const lstatOrUndefined = (p: string) => lstat(p).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));

const mtimeOf = (h: TarHeader): number => h.mtime + (h.mtimeNsec ?? 0) / 1e9;

/** PAX atime when the archive has one, else the mtime. */
function atimeOf(h: TarHeader): number {
  const a = h.paxExtra?.get('atime')?.toString('latin1');
  const n = a === undefined ? NaN : Number(a);
  return Number.isFinite(n) ? n : mtimeOf(h);
}
