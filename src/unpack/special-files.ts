// Creating device nodes and FIFOs: Node has no mknod, so coreutils' mknod(1) does it (devices are rare in
// layers; overlay whiteouts are a handful per layer).

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { withContext } from '../errors.js';

const run = promisify(execFile);

/** Make a character device, block device or FIFO at `path` (which must not exist). */
export async function makeNode(path: string, kind: 'c' | 'b' | 'p', major = 0, minor = 0): Promise<void> {
  const args = kind === 'p' ? ['-m', '0600', path, 'p'] : ['-m', '0600', path, kind, String(major), String(minor)];
  try {
    await run('mknod', args);
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw withContext({ op: 'mknod', subject: path }, stderr ? new Error(stderr) : e);
  }
}
