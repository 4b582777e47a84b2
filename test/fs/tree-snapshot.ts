// Test helper: a comparable snapshot of a directory tree as the kernel shows it (lstat, readlink, xattrs,
// content hashes, hardlink groups). Node has no xattr API, so the walk runs in python3's os module.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What one path looks like. */
export interface PathRecord {
  type: 'dir' | 'reg' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  mtime: number;
  link?: string;
  rdev?: [number, number];
  xattrs: Record<string, string>;
  sha256?: string;
  /** All paths sharing this inode (non-directories with nlink > 1), sorted. */
  hardlinks?: string[];
  nlink?: number;
}

const WALK = String.raw`
import hashlib, json, os, stat, sys
root = sys.argv[1]
out = {}
inodes = {}
for dirpath, dirnames, filenames in os.walk(root):
    for name in [''] + dirnames + filenames if dirpath == root else dirnames + filenames:
        p = os.path.join(dirpath, name) if name else dirpath
        rel = os.path.relpath(p, root)
        st = os.lstat(p)
        m = st.st_mode
        t = 'dir' if stat.S_ISDIR(m) else 'reg' if stat.S_ISREG(m) else 'symlink' if stat.S_ISLNK(m) else 'char' if stat.S_ISCHR(m) else 'block' if stat.S_ISBLK(m) else 'fifo' if stat.S_ISFIFO(m) else 'socket'
        r = {'type': t, 'mode': stat.S_IMODE(m), 'uid': st.st_uid, 'gid': st.st_gid, 'mtime': int(st.st_mtime), 'xattrs': {}}
        try:
            for x in os.listxattr(p, follow_symlinks=False):
                if x.startswith('security.'): continue
                r['xattrs'][x] = os.getxattr(p, x, follow_symlinks=False).hex()
        except OSError:
            pass
        if t == 'reg':
            r['size'] = st.st_size
            with open(p, 'rb') as f: r['sha256'] = hashlib.sha256(f.read()).hexdigest()
        if t == 'symlink': r['link'] = os.readlink(p); r['size'] = st.st_size
        if t in ('char', 'block'): r['rdev'] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
        if t != 'dir':
            r['nlink'] = st.st_nlink
            inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
        out[rel] = r
for paths in inodes.values():
    if len(paths) > 1:
        for p in paths: out[p]['hardlinks'] = sorted(paths)
print(json.dumps(out))
`;

/** Snapshot every path under `root` ("." is the root itself). */
export async function snapshotTree(root: string): Promise<Map<string, PathRecord>> {
  const { stdout } = await run('python3', ['-c', WALK, root], { maxBuffer: 1 << 28 });
  return new Map(Object.entries(JSON.parse(stdout) as Record<string, PathRecord>));
}

/** Rewrite a tree unpacked by tar the way a layer mount shows it: `.wh.X` → 0/0 char device X,
 * `.wh..wh..opq` → trusted.overlay.opaque=y on its directory. */
export function asLayerMountShowsIt(tree: Map<string, PathRecord>): Map<string, PathRecord> {
  const out = new Map<string, PathRecord>();
  for (const [p, r] of tree) {
    const slash = p.lastIndexOf('/');
    const dir = slash < 0 ? '.' : p.slice(0, slash);
    const base = p.slice(slash + 1);
    if (base === '.wh..wh..opq') continue;
    if (base.startsWith('.wh.')) {
      const name = (dir === '.' ? '' : `${dir}/`) + base.slice(4);
      if (!tree.has(name)) out.set(name, { type: 'char', mode: 0, uid: 0, gid: 0, mtime: r.mtime, rdev: [0, 0], xattrs: {}, nlink: 1 });
      continue;
    }
    out.set(p, structuredClone(r));
  }
  for (const p of tree.keys()) {
    if (!p.endsWith('/.wh..wh..opq') && p !== '.wh..wh..opq') continue;
    const dir = out.get(p.slice(0, Math.max(0, p.lastIndexOf('/'))) || '.');
    if (dir) dir.xattrs['trusted.overlay.opaque'] = Buffer.from('y').toString('hex');
  }
  return out;
}

/** Differences between two snapshots, one line per differing path/field (empty when equal). */
export function diffTrees(want: Map<string, PathRecord>, got: Map<string, PathRecord>, ignore: (keyof PathRecord)[] = []): string[] {
  const out: string[] = [];
  for (const [p, w] of want) {
    const g = got.get(p);
    if (!g) {
      out.push(`${p}: missing`);
      continue;
    }
    for (const k of new Set([...Object.keys(w), ...Object.keys(g)]) as Set<keyof PathRecord>) {
      if (ignore.includes(k)) continue;
      if (k === 'size' && w.type === 'dir') continue;
      const a = JSON.stringify(w[k]);
      const b = JSON.stringify(g[k]);
      if (a !== b) out.push(`${p}: ${k} want ${a} got ${b}`);
    }
  }
  for (const p of got.keys()) if (!want.has(p)) out.push(`${p}: unexpected`);
  return out;
}
