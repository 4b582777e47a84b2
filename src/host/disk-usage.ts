// How many bytes a file or directory tree holds: the sizes of its regular files and symlinks, each inode
// counted once (hardlinks), directories not counted. What `image prune` reports as freed.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes held by `path` (0 when it does not exist). */
export async function diskUsage(path: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const stack = [path];
  for (let p = stack.pop(); p !== undefined; p = stack.pop()) {
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue;
    if (st.isDirectory()) {
      for (const name of await readdir(p).catch(() => [] as string[])) stack.push(join(p, name));
      continue;
    }
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) continue;
    seen.add(key);
    total += st.size;
  }
  return total;
}
