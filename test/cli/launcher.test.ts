// bin/ctr-remote as users start it: Node must never take the user's arguments as its own options.
// `run` and `image optimize` have --env-file, and Node 20 reads `--env-file=F` anywhere on its command
// line (a missing F: "node: F: not found", exit 9; NODE_OPTIONS in F configures Node itself). The
// launcher is also reached through symlinks (npm link, node_modules/.bin) and from paths with spaces.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { buildImage } from '../fixtures/image-builder.js';
import { buildRunImage, FULL } from '../runtime/run-fixture.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(repo, 'bin', 'ctr-remote');
const built = existsSync(join(repo, 'dist', 'ctr-remote.mjs')) ? false : 'needs dist/ctr-remote.mjs: run `npm run build` first';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `file` (the launcher or a link to it) with `args`; never rejects. */
function launch(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(file, args, { env, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 128) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let tmp = '';
let missing = '';
let nodeOptions = '';

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cli launcher '));
  missing = join(tmp, 'no such.env');
  nodeOptions = join(tmp, 'node options.env');
  await writeFile(nodeOptions, 'NODE_OPTIONS=--max-old-space-size=1\nH9_FROM_FILE=from file\n');
});
after(async () => {
  if (tmp) {
    for (const m of await mountsUnder(tmp)) await execa('umount', ['-l', m], { reject: false });
    await rm(tmp, { recursive: true, force: true });
  }
});

describe('bin/ctr-remote', { skip: built }, () => {
  test('an --env-file argument is never read by Node (missing file, NODE_OPTIONS in the file)', async () => {
    const root = join(tmp, 'root');
    const layout = join(tmp, 'layout');
    await buildImage(layout, 'app', { layers: [{ entries: [{ path: 'a', type: 'file', content: 'a' }] }] });
    for (const file of [missing, nodeOptions]) {
      // image ls has no --env-file: our own usage error, not Node's "not found" (exit 9) or a V8 OOM (exit 133).
      const ls = await launch(BIN, ['--root', root, 'image', 'ls', `--env-file=${file}`]);
      assert.equal(ls.code, 2, ls.stderr);
      assert.equal(ls.stderr, `ctr-remote: unknown option '--env-file=${file}' (see 'ctr-remote image ls --help')\n`);
      // optimize --no-optimize runs no workload, so the env file is not needed: the convert succeeds.
      for (const form of [[`--env-file=${file}`], ['--env-file', file]]) {
        const out = join(tmp, `out-${Math.random().toString(36).slice(2)}`);
        const r = await launch(BIN, ['--root', root, 'image', 'optimize', '--no-optimize', '--oci', ...form, `oci:${layout}:app`, `oci:${out}`]);
        assert.equal(r.code, 0, `${form.join(' ')}: ${r.stderr}`);
        assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
      }
    }
  });

  test('works through a chain of relative symlinks (as npm link makes them) in directories with spaces', async () => {
    // <prefix>/lib/node_modules/ctr-remote -> the project; <prefix>/bin/ctr-remote -> ../lib/node_modules/ctr-remote/bin/ctr-remote
    const prefix = join(tmp, 'npm prefix');
    await mkdir(join(prefix, 'lib', 'node_modules'), { recursive: true });
    await mkdir(join(prefix, 'bin'));
    await symlink(repo, join(prefix, 'lib', 'node_modules', 'ctr-remote'));
    await symlink('../lib/node_modules/ctr-remote/bin/ctr-remote', join(prefix, 'bin', 'ctr-remote'));
    const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env['PATH']}` };
    const version = await launch('ctr-remote', ['--version'], env);
    const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string };
    assert.deepEqual([version.code, version.stdout], [0, `${pkg.version}\n`], version.stderr);
    // Arguments arrive exactly as given: Node-looking options, a `--`, empty strings.
    const opt = await launch('ctr-remote', ['--root', join(tmp, 'root'), 'image', 'tag', '', '--env-file=/x'], env);
    assert.equal(opt.code, 2, opt.stderr);
    assert.match(opt.stderr, /^ctr-remote: unknown option '--env-file=\/x'/);
    const r = await launch('ctr-remote', ['--root', join(tmp, 'root'), 'image', 'tag', '--', '--env-file=/x', ''], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^ctr-remote: tag --env-file=\/x: /);
  });

  test('a missing bundle is one clear line', async () => {
    const copy = join(tmp, 'copy', 'bin');
    await mkdir(copy, { recursive: true });
    await writeFile(join(copy, 'ctr-remote'), await readFile(BIN), { mode: 0o755 });
    const r = await launch(join(copy, 'ctr-remote'), ['--version']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ctr-remote: .*\/copy\/dist\/ctr-remote\.mjs is missing; run `npm ci` \(or `npm run build`\) in the project first\n$/);
  });
});

const skipRun = built || (process.getuid?.() !== 0 ? 'needs root: run uses overlayfs and runc' : false);

describe('bin/ctr-remote run --env-file', { skip: skipRun }, () => {
  let root = '';
  before(async () => {
    root = join(tmp, 'run root');
    const layout = join(tmp, 'run-layout');
    await buildRunImage(layout);
    const t = await launch(BIN, ['--root', root, 'image', 'tag', `oci:${layout}:${FULL}`, FULL]);
    assert.equal(t.code, 0, t.stderr);
  });

  test('the file reaches the container, in both forms, and not Node: NODE_OPTIONS from it does not crash the tool', async () => {
    let n = 0;
    for (const form of [[`--env-file=${nodeOptions}`], ['--env-file', nodeOptions]]) {
      const r = await launch(BIN, ['--root', root, 'run', '--rm', ...form, FULL, `h9-cli-envfile${n++}`, 'sh', '-c', 'echo "$NODE_OPTIONS|$H9_FROM_FILE"']);
      assert.deepEqual([r.code, r.stdout], [0, '--max-old-space-size=1|from file\n'], `${form.join(' ')}: ${r.stderr}`);
    }
  });

  test('a missing env file is our one-line error, exit 1', async () => {
    const r = await launch(BIN, ['--root', root, 'run', '--rm', `--env-file=${missing}`, FULL, 'h9-cli-envfile-missing', 'true']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.split('\n').filter((l) => l).length, 1, r.stderr);
    assert.match(r.stderr, /^ctr-remote: run h9-cli-envfile-missing: .*no such file or directory.*no such\.env/);
  });

  test('container arguments pass unchanged, a `--` and Node-looking options included', async () => {
    const r = await launch(BIN, ['--root', root, 'run', '--rm', FULL, 'h9-cli-args', 'sh', '-c', 'for a in "$@"; do echo "[$a]"; done', 'sh', '--env-file=/x', '--', '--inspect', 'a b', '']);
    assert.deepEqual([r.code, r.stdout], [0, '[--env-file=/x]\n[--]\n[--inspect]\n[a b]\n[]\n'], r.stderr);
  });
});
