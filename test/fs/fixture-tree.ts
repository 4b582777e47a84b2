// Test helper: a directory tree exercising everything a layer can hold (needs root for owners, devices
// and trusted.* xattrs): modes incl. setuid/sticky, odd owners, fixed mtimes, empty/small/multi-chunk
// files, hardlinks, symlinks (relative, absolute, dangling), a fifo, devices, xattrs, long and unicode
// names, whiteouts and an opaque-directory marker.
import { execFile } from 'node:child_process';
import { chmod, chown, lchown, link, lutimes, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Deterministic pseudo-random (incompressible) bytes. */
export function noise(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const T = new Date('2023-05-06T07:08:09Z');

/** Create the fixture tree at `root` (which must not exist); `bigSize` is the multi-chunk file's size. */
export async function makeFixtureTree(root: string, bigSize = 1_500_000): Promise<void> {
  const d = (p: string) => join(root, p);
  for (const dir of ['bin', 'etc/conf.d', 'usr/share/doc', 'var/opaque', 'tmp', 'dev', 'home/u']) await mkdir(d(dir), { recursive: true });
  await writeFile(d('bin/big'), noise(bigSize, 1));
  await writeFile(d('bin/tool'), noise(3000, 2));
  await chmod(d('bin/tool'), 0o4755);
  await link(d('bin/tool'), d('bin/tool-hard'));
  await link(d('bin/tool'), d('usr/tool-hard2'));
  await writeFile(d('etc/hosts'), '127.0.0.1 localhost\n');
  await writeFile(d('etc/empty'), '');
  await writeFile(d('etc/conf.d/a.conf'), 'a=1\n'.repeat(1000));
  await writeFile(d(`usr/share/doc/${'long-name-'.repeat(12)}.txt`), 'long\n');
  await writeFile(d('usr/share/doc/ünïcødé ✓.txt'), 'unicode\n');
  await symlink('hosts', d('etc/hosts.rel'));
  await symlink('/etc/hosts', d('etc/hosts.abs'));
  await symlink('nowhere', d('etc/dangling'));
  await run('mkfifo', ['-m', '0640', d('tmp/fifo')]);
  await run('mknod', ['-m', '0666', d('dev/null'), 'c', '1', '3']);
  await run('mknod', ['-m', '0660', d('dev/sda'), 'b', '8', '0']);
  await writeFile(d('home/u/.profile'), 'export A=1\n');
  await chown(d('home/u/.profile'), 1234, 5678);
  await chown(d('home/u'), 1234, 5678);
  await chmod(d('home/u'), 0o750);
  await chmod(d('tmp'), 0o1777);
  await lchown(d('etc/hosts.rel'), 7, 8);
  await run('python3', ['-c', `import os; os.setxattr(${JSON.stringify(d('etc/hosts'))}, 'user.mime', b'text/plain'); os.setxattr(${JSON.stringify(d('etc/conf.d'))}, 'user.dir', b'\\x00\\x01')`]);
  // whiteouts as an OCI layer carries them
  await writeFile(d('etc/.wh.passwd'), '');
  await writeFile(d('var/opaque/.wh..wh..opq'), '');
  await writeFile(d('var/opaque/kept'), 'kept\n');
  await setWholeSecondTimes(root);
}

/** Give every path under `root` the same whole-second mtime (TOC modtimes have seconds precision). */
export async function setWholeSecondTimes(root: string): Promise<void> {
  const { stdout } = await run('find', [root, '-depth', '-print0']);
  for (const p of stdout.split('\0').filter(Boolean)) await lutimes(p, T, T);
}
