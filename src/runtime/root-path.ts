// Read files of a container root filesystem as the container would see them: symlinks (absolute or
// with `..`) are resolved inside the root, never on the host (cf. containerd's fs.RootPath).
import { lstat, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { limitExceeded } from '../errors.js';

/** Symlinks followed before giving up (Linux's MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

/** Resolve `path` inside `root` following symlinks within the root; returns the host path (which may not exist). */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  let pending = splitPath(path);
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const [name, ...rest] = pending as [string, ...string[]];
    pending = rest;
    if (name === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, name);
    const st = await lstat(host).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
      throw e;
    });
    if (!st?.isSymbolicLink()) {
      done.push(name);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw limitExceeded(`${path}: more than ${MAX_SYMLINKS} symlinks inside ${root}`);
    const target = await readlink(host);
    if (target.startsWith('/')) done.length = 0;
    pending = [...splitPath(target), ...pending];
  }
  return join(root, ...done);
}

/** Read a file of the root as text, or undefined when it does not exist there. Refuses files above `maxBytes` (default 16 MiB). */
export async function readFileInRoot(
  root: string,
  path: string,
  opts: { signal?: AbortSignal; maxBytes?: number } = {},
): Promise<string | undefined> {
  const host = await resolveInRoot(root, path);
  const maxBytes = opts.maxBytes ?? 16 << 20;
  try {
    const st = await lstat(host);
    if (!st.isFile()) return undefined;
    if (st.size > maxBytes) throw limitExceeded(`${path} in ${root} is ${st.size} bytes, above the ${maxBytes}-byte limit`);
    return await readFile(host, { encoding: 'utf8', signal: opts.signal });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
}

function splitPath(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}
