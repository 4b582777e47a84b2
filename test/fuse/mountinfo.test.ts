// mountinfo parsing: escapes, optional fields, and the fuse type/source columns.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMountInfo } from '../../src/host/mountinfo.js';

test('parseMountInfo reads fields, optional tags and octal escapes', () => {
  const text = [
    '22 1 0:21 / /proc rw,nosuid shared:12 - proc proc rw',
    '42 27 0:39 / /tmp/with\\040space/mnt ro,relatime shared:1 master:2 - fuse.ctr-remote ctr-remote:abc ro,user_id=0,group_id=0',
    'garbage line',
    '',
  ].join('\n');
  const [proc, fuse, ...rest] = parseMountInfo(text);
  assert.equal(rest.length, 0);
  assert.equal(proc!.mountPoint, '/proc');
  assert.equal(fuse!.id, 42);
  assert.equal(fuse!.parentId, 27);
  assert.equal(fuse!.majorMinor, '0:39');
  assert.equal(fuse!.mountPoint, '/tmp/with space/mnt');
  assert.equal(fuse!.fsType, 'fuse.ctr-remote');
  assert.equal(fuse!.source, 'ctr-remote:abc');
  assert.equal(fuse!.superOptions, 'ro,user_id=0,group_id=0');
});
