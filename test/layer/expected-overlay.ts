// Test helper: the image as it should look: each layer tar unpacked by GNU tar into its own directory,
// whiteouts rewritten the way overlayfs spells them, merged read-only by overlayfs (root only).
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Unpack each layer tar with GNU tar, spell whiteouts the overlayfs way, and merge them read-only. */
export async function mountExpected(work: string, tars: Buffer[]): Promise<string> {
  const dirs: string[] = [];
  for (const [i, tar] of tars.entries()) {
    const dir = join(work, `expected-${i}`);
    await mkdir(dir);
    await writeFile(`${dir}.tar`, tar);
    await run('tar', ['--numeric-owner', '--same-owner', '-p', '--xattrs', '--xattrs-include=*', '-C', dir, '-xf', `${dir}.tar`]);
    await run('python3', ['-c', WHITEOUTS, dir]);
    dirs.push(dir);
  }
  const target = join(work, 'expected');
  await mkdir(target);
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${dirs.reverse().join(':')}`, target]);
  return target;
}

const WHITEOUTS = String.raw`
import os, sys
for d, dirs, files in os.walk(sys.argv[1]):
    dst = os.lstat(d)
    for f in files:
        p = os.path.join(d, f)
        if f == '.wh..wh..opq':
            os.remove(p); os.setxattr(d, 'trusted.overlay.opaque', b'y')
        elif f.startswith('.wh.'):
            st = os.lstat(p); os.remove(p)
            t = os.path.join(d, f[4:]); os.mknod(t, 0o020000, os.makedev(0, 0)); os.utime(t, (st.st_mtime, st.st_mtime))
    os.utime(d, (dst.st_atime, dst.st_mtime))
`;
