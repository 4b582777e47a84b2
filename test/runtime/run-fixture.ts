// Shared by the `run` end-to-end tests: the busybox test image and the CLI as a child process.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { MAIN } from '../cli/cli-harness.js';
import { join } from 'node:path';
import { convertImage } from '../../src/image/convert/convert.js';
import { Context } from '../../src/image/context.js';
import { openLocation, parseLocation } from '../../src/image/location.js';
import { rpullImage } from '../../src/image/lazy/rpull.js';
import { buildImage } from '../fixtures/image-builder.js';

/** Name of the test image in the layout and the store. */
export const FULL = 'test/run-busybox:1';

/** Build the test image (busybox; accounts root, app 1000 in extra 2000; /etc/motd; /srv/data.txt) into `layout`. */
export async function buildRunImage(layout: string): Promise<void> {
  await buildImage(layout, FULL, {
    layers: [
      { busybox: true },
      {
        entries: [
          { path: 'etc/passwd', type: 'file', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' },
          { path: 'etc/group', type: 'file', content: 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n' },
          { path: 'etc/motd', type: 'file', content: 'hello from the image\n' },
          { path: 'srv/data.txt', type: 'file', content: 'data v1\n' },
          { path: 'tmp', type: 'dir', mode: 0o1777 },
          { path: 'home/app', type: 'dir' },
        ],
      },
    ],
    config: { Env: ['PATH=/bin', 'FROM_IMAGE=yes'], Cmd: ['cat', '/etc/motd'], WorkingDir: '/srv' },
  });
}

/**
 * The test image converted to eStargz, pushed to the registry at `host` and rpulled into `root` (the layout
 * is built under `tmp`); returns the image's registry reference.
 */
export async function publishLazyRunImage(tmp: string, root: string, host: string): Promise<string> {
  const layout = join(tmp, 'layout');
  await buildRunImage(layout);
  const ref = `${host}/test/run-busybox:esgz`;
  const src = await openLocation(parseLocation(`oci:${layout}:${FULL}`), 'store', { context: new Context(root) });
  const dst = await openLocation(parseLocation(ref), 'registry', { context: new Context(root) });
  try {
    await convertImage(src.endpoint, dst.endpoint, { format: 'estargz', oci: true });
  } finally {
    await dst.close();
    await src.close();
  }
  await rpullImage(new Context(root), ref);
  return ref;
}

/** The CLI as a child process. `exited` resolves on exit (an orphaned runc may hold the pipes); `done` once the pipes close too. */
export function startCli(args: string[]) {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? 128)));
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    proc.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })),
  );
  const line = async (text: string): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (!stdout.includes(text)) {
      if (Date.now() > deadline) throw new Error(`no "${text}" within 30 s (stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr)})`);
      await sleep(50);
    }
  };
  return { proc, exited, done, line };
}

/** A hash over every path, mode, size and file content under `dir`. */
export async function treeHash(dir: string): Promise<string> {
  const { stdout } = await execa('sh', ['-c', `cd ${dir} && find . -printf '%p %m %s %l\\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum`]);
  return createHash('sha256').update(stdout).digest('hex');
}
