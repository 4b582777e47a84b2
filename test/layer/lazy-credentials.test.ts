// Credentials for lazily pulled images, against real registries with token and htpasswd auth: -u on rpull,
// run and image mount; the password prompted for on a terminal (a pty through util-linux `script`) or read
// with --password-stdin; usage errors without either; what the lazy record keeps (where credentials come
// from, never the password); and a registry refusing lazy reads reported in one line and in image status.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { openEStargz } from '../../src/estargz/reader.js';
import type { TocFile } from '../../src/estargz/toc-node.js';
import { convertImage } from '../../src/image/convert/convert.js';
import { readLazyRecord } from '../../src/image/lazy/lazy-record.js';
import { openLocation, parseLocation } from '../../src/image/location.js';
import { registryBlobSource } from '../../src/remote/registry-blob-source.js';
import { openStoredImage } from '../../src/image/stored-image.js';
import { BufferRangeReader } from '../../src/content/range-reader.js';
import { ChunkCache } from '../../src/layer/chunk-cache.js';
import { LazyLayer } from '../../src/layer/lazy-layer.js';
import { MediaType } from '../../src/oci/media-types.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { openRegistry } from '../../src/remote/registry-endpoint.js';
import { buildFromTar } from '../estargz/helpers.js';
import { FIXTURE_CHUNK, fixtureFiles, fixtureTar } from '../estargz/fixture-layer.js';
import { streamOf } from '../remote/image-helpers.js';
import { isCtrError } from '../../src/errors.js';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { cli, MAIN } from '../cli/cli-harness.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { buildRunImage, FULL } from '../runtime/run-fixture.js';
import { RootLayout } from '../../src/store/root-layout.js';
import { Context } from '../../src/image/context.js';

const REPO = new URL('../..', import.meta.url).pathname;
const rootSkip = process.getuid?.() !== 0 ? 'needs root: run and image mount use FUSE, overlayfs and runc' : false;

interface Proc {
  code: Promise<number>;
  output: () => string;
  write: (s: string) => void;
  waitFor: (re: RegExp, ms?: number) => Promise<void>;
  kill: (sig: NodeJS.Signals) => void;
}

/** The CLI as a child process with `env` added; with `tty`, inside a pty (`script`), whose input we type. */
function start(args: string[], env: NodeJS.ProcessEnv, opts: { tty?: boolean; stdin?: string } = {}): Proc {
  const cmd = [process.execPath, '--import', 'tsx', MAIN, ...args];
  const child = opts.tty
    ? spawn('script', ['-qfec', cmd.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '), '/dev/null'], { cwd: REPO, env: { ...process.env, ...env } })
    : spawn(cmd[0]!, cmd.slice(1), { cwd: REPO, env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
  const code = new Promise<number>((r) => child.on('close', (c) => r(c ?? -1)));
  return {
    code,
    output: () => out,
    write: (s) => child.stdin.write(s),
    kill: (sig) => child.kill(sig),
    waitFor: async (re, ms = 60_000) => {
      const deadline = Date.now() + ms;
      while (!re.test(out)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${re} in output: ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** Every file under `dir` whose bytes contain `needle`. */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    if ((await readFile(p)).includes(needle)) hits.push(p);
  }
  return hits;
}

describe('credentials for lazily pulled images', () => {
  let work: string;
  let token: RegistryFixture;
  let basic: RegistryFixture;
  let tokenRef: string;
  let basicRef: string;
  let n = 0;
  const root = () => join(work, `root-${++n}`);
  /** An empty Docker config dir: the tests' credentials come only from what they pass. */
  let noDocker: NodeJS.ProcessEnv;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-remote-lazy-creds-'));
    noDocker = { DOCKER_CONFIG: join(work, 'no-docker-config'), HOME: join(work, 'home') };
    [token, basic] = await Promise.all([startRegistry({ auth: 'token' }), startRegistry({ auth: 'htpasswd' })]);
    const layout = join(work, 'layout');
    await buildRunImage(layout);
    tokenRef = `${token.host}/creds/run:1`;
    basicRef = `${basic.host}/creds/run:1`;
    for (const [ref, reg] of [[tokenRef, token], [basicRef, basic]] as const) {
      const src = await openLocation(parseLocation(`oci:${layout}:${FULL}`), 'store', { context: new Context(join(work, 'convert')) });
      const dst = await openLocation(parseLocation(ref), 'registry', { context: new Context(join(work, 'convert')), registry: { username: reg.username, password: reg.password } });
      try {
        await convertImage(src.endpoint, dst.endpoint, { format: 'estargz', oci: true });
      } finally {
        await dst.close();
        await src.close();
      }
    }
  });
  after(async () => {
    for (const m of await mountsUnder(work)) await execa('umount', ['-l', m], { reject: false });
    await token?.stop();
    await basic?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('usage errors (exit 2): -u USER with no password and no terminal, --password-stdin without -u or with a password, or with run -i', async () => {
    const cases: [string[], RegExp][] = [
      [['image', 'rpull', '-u', token.username, tokenRef], /-u tester has no password and stdin is not a terminal to prompt for it: use -u tester:PASSWORD or --password-stdin/],
      [['image', 'pull', '-u', token.username, tokenRef], /-u tester has no password and stdin is not a terminal/],
      [['image', 'rpull', '--password-stdin', tokenRef], /--password-stdin needs -u USER/],
      [['image', 'mount', '-u', `${token.username}:x`, '--password-stdin', tokenRef, join(work, 'm')], /-u USER:PASSWORD and --password-stdin both give the password/],
      [['run', '-i', '-u', token.username, '--password-stdin', tokenRef, 'h9reg-usage'], /--password-stdin reads stdin, which -i gives to the container/],
      [['run', '-u', token.username, tokenRef, 'h9reg-usage'], /-u tester has no password and stdin is not a terminal/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(['--root', root(), ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  test('--password-stdin: rpull reads the password from stdin; the record keeps the user name, no file keeps the password', async () => {
    const dir = root();
    const p = start(['--root', dir, 'image', 'rpull', '-u', token.username, '--password-stdin', tokenRef], noDocker, { stdin: `${token.password}\n` });
    assert.equal(await p.code, 0, p.output());
    assert.match(p.output(), /2 of 2 layers lazy/);
    const image = await openStoredImage(new Context(dir), tokenRef);
    assert.deepEqual((await readLazyRecord(new RootLayout(dir), image.manifestDigest))?.credentials, { kind: 'user-flag', username: token.username });
    assert.deepEqual(await filesContaining(dir, token.password), [], 'the password is on no file under --root');
  });

  test('on a terminal, -u USER prompts for the password without echoing it (rpull through a pty)', async () => {
    const p = start(['--root', root(), 'image', 'rpull', '-u', token.username, tokenRef], noDocker, { tty: true });
    await p.waitFor(/Password: /);
    p.write(`${token.password}\r`);
    assert.equal(await p.code, 0, p.output());
    assert.match(p.output(), /2 of 2 layers lazy/);
    assert.ok(!p.output().includes(token.password), `the password was echoed: ${JSON.stringify(p.output())}`);
  });

  test('Ctrl-C at the password prompt ends the command as interrupted (130)', async () => {
    const p = start(['--root', root(), 'image', 'pull', '-u', token.username, tokenRef], noDocker, { tty: true });
    await p.waitFor(/Password: /);
    p.write('abc\u0003');
    assert.equal(await p.code, 130, p.output());
    assert.match(p.output(), /password prompt interrupted/);
  });

  test('a lazy layer whose reads the registry refuses: reads fail (EIO in a mount), authError in its state, one warning per registry', async () => {
    const built = await buildFromTar(fixtureTar(), { chunkSize: FIXTURE_CHUNK });
    const desc = { mediaType: MediaType.OciLayerGzip, digest: sha256Digest(built.blob), size: built.blob.length };
    const pusher = openRegistry(`${token.host}/creds/layer:1`, { username: token.username, password: token.password });
    await pusher.put(desc, streamOf(built.blob));
    await pusher.close();
    const anonymous = openRegistry(`${token.host}/creds/layer:1`, { dockerConfigDir: join(work, 'no-docker-config') });
    const toc = await openEStargz(new BufferRangeReader(built.blob));
    const lines: string[] = [];
    const onWarning = (l: string) => lines.push(l);
    try {
      const cache = await ChunkCache.open({ dir: join(work, 'cache-refused'), memoryMaxBytes: 0 });
      // two layers of the same registry (as the layers of one image): one warning in all
      const layers = [0, 1].map(() => LazyLayer.open({
        layerDigest: desc.digest,
        blob: registryBlobSource(anonymous.repository, desc.digest, desc.size, { onWarning, credentials: { kind: 'user-flag', username: 'alice' } }),
        index: toc.index, prefetch: false, backgroundFetch: false, cache,
      }));
      for (const layer of layers) {
        for (const [name, content] of [...fixtureFiles()].filter(([, c]) => c.length > 0).slice(0, 2)) {
          await assert.rejects(layer.readFileRange(toc.lookup(name) as TocFile, 0, content.length), (e: unknown) => isCtrError(e, 'Unavailable'));
        }
        assert.match(layer.stats().authError?.message ?? '', /unauthorized|authentication required|denied/);
        await layer.close();
      }
      assert.equal(lines.length, 1, `one warning for ${token.host}: ${JSON.stringify(lines)}`);
      assert.match(lines[0]!, new RegExp(`^registry ${token.host} refuses lazy reads of ${token.host}/creds/layer \\(unauthorized\\): credentials are needed; pass -u alice \\(rpull's password is not stored\\)`));
    } finally {
      await anonymous.close();
    }
  });

  describe('run and image mount', { skip: rootSkip }, () => {
    test('run -u USER:PASS reads the lazy layers of an image rpulled with -u (token auth)', async () => {
      const dir = root();
      assert.equal((await cli(['--root', dir, 'image', 'rpull', '-u', `${token.username}:${token.password}`, tokenRef])).code, 0);
      const r = start(['--root', dir, 'run', '--rm', '-u', `${token.username}:${token.password}`, tokenRef, 'h9reg-creds1', 'cat', '/srv/data.txt'], noDocker);
      assert.equal(await r.code, 0, r.output());
      assert.equal(r.output(), 'data v1\n');
    });

    test('run without credentials: one line names the registry and says credentials are needed; image status shows the refusal', async () => {
      const dir = root();
      assert.equal((await cli(['--root', dir, 'image', 'rpull', '-u', `${token.username}:${token.password}`, tokenRef])).code, 0);
      const r = start(['--root', dir, 'run', '--rm', tokenRef, 'h9reg-creds2', 'cat', '/srv/data.txt'], noDocker);
      assert.notEqual(await r.code, 0, r.output());
      const warnings = r.output().split('\n').filter((l) => l.includes('warning'));
      assert.equal(warnings.length, 1, r.output());
      assert.match(warnings[0]!, new RegExp(`^ctr-remote: warning: registry ${token.host} refuses lazy reads of ${token.host}/creds/run \\(unauthorized\\): credentials are needed; pass -u tester`));
      const st = await cli(['--root', dir, 'image', 'status', tokenRef]);
      assert.equal(st.code, 0, st.stderr);
      assert.match(st.stdout, /unauthorized: the registry refused reads/);
      const json = JSON.parse((await cli(['--root', dir, 'image', 'status', '--json', tokenRef])).stdout) as { layers: { state?: { authError?: { message: string } } }[] };
      assert.ok(json.layers.some((l) => /unauthorized|authentication required|denied/.test(l.state?.authError?.message ?? '')), JSON.stringify(json.layers));
    });

    test('an image rpulled with credentials from a Docker config: run finds them there again, from another environment', async () => {
      const dir = root();
      const config = join(work, 'docker-config');
      await mkdir(config, { recursive: true });
      await writeFile(join(config, 'config.json'), JSON.stringify({ auths: { [token.host]: { auth: Buffer.from(`${token.username}:${token.password}`).toString('base64') } } }));
      const pulled = start(['--root', dir, 'image', 'rpull', tokenRef], { DOCKER_CONFIG: config });
      assert.equal(await pulled.code, 0, pulled.output());
      const image = await openStoredImage(new Context(dir), tokenRef);
      assert.deepEqual((await readLazyRecord(new RootLayout(dir), image.manifestDigest))?.credentials, { kind: 'docker-config', dir: config });
      // as under sudo: neither DOCKER_CONFIG nor the same HOME
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: join(work, 'other-home') };
      delete env['DOCKER_CONFIG'];
      const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--root', dir, 'run', '--rm', tokenRef, 'h9reg-creds3', 'cat', '/srv/data.txt'], { cwd: REPO, env });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      assert.equal(await new Promise((r) => child.on('close', r)), 0, out);
      assert.equal(out, 'data v1\n');
    });

    test('image mount -u USER prompts on a terminal (htpasswd registry), then serves the image; without -u reads fail with one warning', async () => {
      const dir = root();
      const mnt = join(work, 'mnt');
      await mkdir(mnt, { recursive: true });
      assert.equal((await cli(['--root', dir, 'image', 'rpull', '-u', `${basic.username}:${basic.password}`, basicRef])).code, 0);

      const bare = start(['--root', dir, 'image', 'mount', basicRef, mnt], noDocker);
      await bare.waitFor(/mounted .* at /);
      for (const f of ['srv/data.txt', 'etc/motd']) await assert.rejects(readFile(join(mnt, f)), { code: 'EIO' });
      assert.equal((await cli(['--root', dir, 'image', 'unmount', mnt])).code, 0);
      assert.equal(await bare.code, 0, bare.output());
      const warnings = bare.output().split('\n').filter((l) => l.includes('warning'));
      assert.equal(warnings.length, 1, bare.output());
      assert.match(warnings[0]!, new RegExp(`registry ${basic.host} refuses lazy reads .*credentials are needed`));
      assert.match((await cli(['--root', dir, 'image', 'status', basicRef])).stdout, /unauthorized: the registry refused reads/);

      const m = start(['--root', dir, 'image', 'mount', '-u', basic.username, basicRef, mnt], noDocker, { tty: true });
      await m.waitFor(/Password: /);
      m.write(`${basic.password}\r`);
      await m.waitFor(/mounted .* at /);
      assert.equal(await readFile(join(mnt, 'srv/data.txt'), 'utf8'), 'data v1\n');
      assert.equal((await cli(['--root', dir, 'image', 'unmount', mnt])).code, 0);
      assert.equal(await m.code, 0, m.output());
      assert.ok(!m.output().includes(basic.password), 'the password was not echoed');
      assert.doesNotMatch(m.output(), /warning/);
    });
  });
});
