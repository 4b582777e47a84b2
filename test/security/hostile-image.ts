// Test fixture: a hostile image and a way to act as another local user. The image's second layer holds a
// setuid-root copy of the host's `id` (it prints `euid=0(root)` when the setuid bit takes effect) and a
// world-writable character device node (1:3, the host's /dev/null numbers), the two things an untrusted
// image can carry to give a host user privileges it should not have.
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildImage } from '../fixtures/image-builder.js';

/** Paths inside the hostile image. */
export const SUID_ID = 'usr/bin/suid-id';
export const DEV_NODE = 'dev-in-layer';

/** Build the hostile image `name` (busybox + the setuid binary and the device node) into `layout`; root only. */
export async function buildHostileImage(layout: string, work: string, name: string): Promise<void> {
  const tree = join(work, 'hostile-tree');
  await mkdir(join(tree, 'usr/bin'), { recursive: true });
  await copyFile('/usr/bin/id', join(tree, SUID_ID));
  await chmod(join(tree, SUID_ID), 0o4755);
  await execa('mknod', ['-m', '0666', join(tree, DEV_NODE), 'c', '1', '3']);
  await buildImage(layout, name, { layers: [{ busybox: true }, { hostDir: tree }], config: { Cmd: ['/bin/sh'] } });
}

/** Outcome of a command run as another user. */
export interface AsUser {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run `cmd args` as user nobody (65534) with no supplementary groups. setpriv keeps root's capabilities
 * until its own execve (which would then resolve `cmd` with CAP_DAC_OVERRIDE), so a shell started by it
 * execs `cmd`: its path is resolved as nobody, with no capabilities.
 */
export async function asNobody(cmd: string, args: string[] = []): Promise<AsUser> {
  const argv = ['--reuid=65534', '--regid=65534', '--clear-groups', '--', '/bin/sh', '-c', 'exec "$0" "$@"', cmd, ...args];
  const r = await execa('setpriv', argv, { reject: false, stdin: 'ignore' });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** True when a run of the setuid `id` shows it gained root (its output names an effective uid 0). */
export function gainedRoot(r: AsUser): boolean {
  return r.code === 0 && /\beuid=0\b/.test(r.stdout);
}
