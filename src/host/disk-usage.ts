// How many bytes a file or directory tree holds: the sizes of its regular files and symlinks, each inode
// counted once (hardlinks), directories not counted. What `image prune` reports as freed, and (with the
// number of inodes) a snapshot's usage.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes held by `path` (0 when it does not exist). */
export async function diskUsage(path: string): Promise<number> {
  return (await treeUsage(path)).bytes;
}

/** Bytes and inodes (directories included, each hardlinked inode once) of the tree at `path`. */
export async function treeUsage(path: string): Promise<{ bytes: number; inodes: number }> {
  const seen = new Set<string>();
  let bytes = 0;
  const stack = [path];
  for (let p = stack.pop(); p !== undefined; p = stack.pop()) {
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue;
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (st.isDirectory()) {
      for (const name of await readdir(p).catch(() => [] as string[])) stack.push(join(p, name));
      continue;
    }
    bytes += st.size;
  }
  return { bytes, inodes: seen.size };
}
