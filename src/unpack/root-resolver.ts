// Resolving parent directories inside the unpack root without ever leaving it: every component is
// checked with lstat; symlinks met on the way are followed only inside the root (an absolute target is
// taken relative to the root, as a container sees it; a relative target that climbs out is refused).

import { lstat, mkdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { unpackError } from './unpack-error.js';

/** Most symlinks followed while resolving one path (Linux's MAXSYMLINKS). */
const MAX_LINKS = 40;

/** Resolves paths under one root directory; caches directories already verified. */
export class RootResolver {
  private readonly verified = new Map<string, string[]>();
  /** `onCreate` hears of every directory the resolver creates (root-relative components). */
  constructor(
    readonly root: string,
    private readonly onCreate?: (real: readonly string[]) => void,
  ) {}

  /** The absolute path of root-relative, already-resolved components. */
  abs(components: readonly string[]): string {
    return join(this.root, ...components);
  }

  /**
   * Resolve `components` to real directories under the root (creating missing ones with mode 0755 when
   * `create`), following in-root symlinks; `entry` names the tar entry in errors.
   */
  async dir(components: readonly string[], entry: string, create: boolean): Promise<string[]> {
    const key = components.join('/');
    const hit = this.verified.get(key);
    if (hit) return hit;
    const real = await this.walk(components, entry, create);
    this.verified.set(key, real);
    return real;
  }

  /** True when `components` were resolved before and nothing was removed since. */
  has(components: readonly string[]): boolean {
    return this.verified.has(components.join('/'));
  }

  /** Forget verified directories (after anything under the root was removed or replaced). */
  invalidate(): void {
    this.verified.clear();
  }

  private async walk(components: readonly string[], entry: string, create: boolean): Promise<string[]> {
    const real: string[] = [];
    const queue = [...components];
    let links = 0;
    while (queue.length > 0) {
      const c = queue.shift() as string;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (real.length === 0) throw unpackError('InvalidArgument', `"${entry}" goes through a symlink that leads outside the destination`);
        real.pop();
        continue;
      }
      const p = join(this.root, ...real, c);
      const st = await lstat(p).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
      if (!st) {
        if (!create) throw unpackError('NotFound', `"${entry}": ${[...real, c].join('/')} does not exist in the destination`);
        await mkdir(p, { mode: 0o755 });
        real.push(c);
        this.onCreate?.(real);
      } else if (st.isDirectory()) real.push(c);
      else if (st.isSymbolicLink()) {
        if (++links > MAX_LINKS) throw unpackError('InvalidArgument', `"${entry}": too many levels of symbolic links`);
        const target = await readlink(p);
        if (target.startsWith('/')) real.length = 0;
        queue.unshift(...target.split('/'));
      } else throw unpackError('InvalidArgument', `"${entry}": ${[...real, c].join('/')} is not a directory`);
    }
    return real;
  }
}
