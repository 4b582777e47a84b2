// A filesystem that has no xattr at all says so once (ENOSYS), and the kernel stops asking: getxattr(2) and
// listxattr(2) on the mount get EOPNOTSUPP without a request reaching the server. The control is the same
// tree from a filesystem that does not say so: every call is a request, and a missing xattr is ENODATA.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { Opcode } from '../../src/fuse/abi.js';
import { mountFuse, type FuseMount } from '../../src/fuse/mount.js';
import { MemoryFs } from './memory-fs.js';

const skip = process.getuid?.() !== 0 ? 'needs root: mounting FUSE (/dev/fuse, mount -t fuse) requires CAP_SYS_ADMIN' : false;

/** A MemoryFs that declares it has no xattr. */
class NoXattrFs extends MemoryFs {
  hasXattrs(): boolean {
    return false;
  }
}

/** Three getxattr and two listxattr calls on files of the mount at `dir`: the errno name (or value) of each. */
async function xattrCalls(dir: string): Promise<string[]> {
  const py = `import os,sys,errno
p=sys.argv[1]
for f,op in [('a','get'),('b','get'),('d','get'),('a','list'),('d','list')]:
  try:
    r = os.getxattr(p+'/'+f,'user.x') if op=='get' else os.listxattr(p+'/'+f)
    print(repr(r))
  except OSError as e:
    print('EOPNOTSUPP' if e.errno == errno.EOPNOTSUPP else errno.errorcode[e.errno])`;
  const { stdout } = await execa('python3', ['-c', py, dir]);
  return stdout.split('\n');
}

describe('a FUSE filesystem without xattrs', { skip }, () => {
  let tmp = '';
  const mounts: FuseMount[] = [];

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'fuse-no-xattrs-'));
  });
  after(async () => {
    for (const m of mounts) await m.unmount();
    await rm(tmp, { recursive: true, force: true });
  });

  async function mounted(name: string, fs: MemoryFs): Promise<FuseMount> {
    fs.file('a', 'a\n').file('b', 'b\n').mkdir('d');
    const dir = join(tmp, name);
    await mkdir(dir);
    const m = await mountFuse(dir, fs, { onError: () => {} });
    mounts.push(m);
    return m;
  }

  test('answers ENOSYS once per kind; the kernel then answers EOPNOTSUPP itself', async () => {
    const m = await mounted('none', new NoXattrFs());
    assert.deepEqual(await xattrCalls(m.dir), ['EOPNOTSUPP', 'EOPNOTSUPP', 'EOPNOTSUPP', 'EOPNOTSUPP', 'EOPNOTSUPP']);
    assert.equal(m.stats.byOpcode.get(Opcode.GETXATTR), 1, 'one GETXATTR reached the server');
    assert.equal(m.stats.byOpcode.get(Opcode.LISTXATTR), 1, 'one LISTXATTR reached the server');
  });

  test('control: a filesystem that may have xattrs is asked every time', async () => {
    const m = await mounted('maybe', new MemoryFs());
    assert.deepEqual(await xattrCalls(m.dir), ['ENODATA', 'ENODATA', 'ENODATA', '[]', '[]']);
    assert.equal(m.stats.byOpcode.get(Opcode.GETXATTR), 3);
    assert.equal(m.stats.byOpcode.get(Opcode.LISTXATTR), 2);
  });
});
