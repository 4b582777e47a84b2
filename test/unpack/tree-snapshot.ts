// Describe a directory tree (types, modes, owners, mtimes, contents, link targets, devices, xattrs) so two
// unpacks can be compared with deepEqual.

import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** One line per path, sorted; mtimes in microseconds (utimes goes through a double). */
export async function snapshot(root: string, opts: { mtimes?: boolean; dirMtimes?: boolean; xattrs?: boolean } = {}): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(rel: string): Promise<void> {
    const p = join(root, rel);
    const st = await lstat(p, { bigint: true });
    const kind = st.isDirectory() ? 'd' : st.isFile() ? 'f' : st.isSymbolicLink() ? 'l' : st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : st.isFIFO() ? 'p' : '?';
    let desc = `${kind} ${(st.mode & 0o7777n).toString(8)} ${st.uid}:${st.gid}`;
    if (opts.mtimes !== false && kind !== 'l' && !(kind === 'd' && (rel === '' || opts.dirMtimes === false))) desc += ` t=${st.mtimeNs / 1000n}`;
    if (kind === 'f') desc += ` n=${st.nlink} ${(await readFile(p)).toString('base64').slice(0, 40)}`;
    if (kind === 'l') desc += ` -> ${await readlink(p)}`;
    if (kind === 'c' || kind === 'b') desc += ` ${st.rdev}`;
    if (opts.xattrs && kind !== 'l') desc += ` x=${listXattrs(p)}`;
    out[rel || '.'] = desc;
    if (kind === 'd') for (const c of (await readdir(p)).sort()) await walk(rel ? `${rel}/${c}` : c);
  }
  await walk('');
  return out;
}

/** name=hex pairs of every xattr of `path` (via python3, Node has no xattr API). */
export function listXattrs(path: string): string {
  return execFileSync('/usr/bin/python3', ['-c', 'import os,sys; p=sys.argv[1]; print(",".join(sorted(n+"="+os.getxattr(p,n,follow_symlinks=False).hex() for n in os.listxattr(p,follow_symlinks=False))))', path], { encoding: 'utf8' }).trim();
}
