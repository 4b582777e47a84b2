// `npm run demo`: shows the main job end to end on this machine, with nothing from the internet.
// Starts Debian's docker-registry on 127.0.0.1, builds a sample image (busybox-static + a small app + a
// 64 MiB payload the app never reads), then runs the real CLI: push the legacy image, convert it to
// eStargz, optimize it by running its workload, push both, and — from an empty store — rpull (manifest,
// config and TOCs only), run it lazily, and show how little was fetched. Root is needed for optimize and
// run (FUSE, overlayfs, runc); without root the demo stops after convert and push.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../test/fixtures/image-builder.js';
import { startRegistry } from '../test/fixtures/registry.js';

const bin = new URL('../bin/ctr-remote', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'ctr-remote-demo-'));
const isRoot = process.getuid?.() === 0;

function step(title: string): void {
  process.stdout.write(`\n== ${title}\n`);
}

/** Run the CLI with a store root, echoing the command line and its output; exits on failure. */
function ctr(root: string, ...args: string[]): string {
  process.stdout.write(`$ ctr-remote ${args.map((a) => (/[\s"'\[\]]/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
  const started = Date.now();
  const r = spawnSync(bin, ['--root', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  process.stdout.write(r.stdout);
  process.stdout.write(r.stderr);
  process.stdout.write(`  (${((Date.now() - started) / 1000).toFixed(2)} s)\n`);
  if (r.status !== 0) throw new Error(`ctr-remote ${args[0]} ${args[1] ?? ''} failed with exit code ${r.status}`);
  return r.stdout;
}

async function main(): Promise<void> {
  const reg = await startRegistry();
  try {
    step(`a registry on ${reg.host} and a sample image (busybox + app + 64 MiB unread payload)`);
    const payload = join(work, 'payload');
    mkdirSync(join(payload, 'opt/payload'), { recursive: true });
    writeFileSync(join(payload, 'opt/payload/blob.bin'), randomBytes(64 << 20));
    await buildImage(join(work, 'layout'), 'demo', {
      layers: [
        { busybox: true },
        { entries: [{ path: 'app/hello.txt', type: 'file', content: 'hello from a lazily pulled container\n' }] },
        { hostDir: payload },
      ],
      config: { Cmd: ['/bin/sh', '-c', 'cat /app/hello.txt'] },
    });
    const builder = join(work, 'builder');
    const org = `${reg.host}/demo:org`;
    const esgz = `${reg.host}/demo:esgz`;
    const opt = `${reg.host}/demo:opt`;

    step('the build machine: legacy image and eStargz image pushed');
    ctr(builder, 'image', 'tag', `oci:${join(work, 'layout')}:demo`, org);
    ctr(builder, 'image', 'push', '--plain-http', org);
    ctr(builder, 'image', 'convert', '--estargz', '--oci', org, esgz);
    ctr(builder, 'image', 'push', '--plain-http', esgz);
    if (!isRoot) {
      process.stdout.write('\n(not root: optimize, rpull+run need FUSE, overlayfs and runc; run the demo as root to see them)\n');
      return;
    }
    step('optimize: run the workload, record what it reads, put those files first');
    ctr(builder, 'image', 'optimize', '--oci', '--period', '5', '--record-out', join(work, 'record.ndjson'), org, opt);
    ctr(builder, 'image', 'push', '--plain-http', opt);

    step('a fresh machine: lazy pull and run, then what was fetched');
    const node = join(work, 'node');
    ctr(node, 'image', 'rpull', '--plain-http', opt);
    ctr(node, 'run', '--rm', '--no-background-fetch', opt, 'demo1');
    ctr(node, 'image', 'status', opt);
    ctr(node, 'image', 'ls');
  } finally {
    await reg.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`demo: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
