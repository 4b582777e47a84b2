// CLI commands that need no registry: usage errors, unknown images, ls/tag/rm/import/export, completion.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageSummary } from '../../src/image/copy/list-images.js';
import { buildImage, buildIndex, type BuiltImage } from '../fixtures/image-builder.js';
import { cli, cliProcess } from './cli-harness.js';

let tmp: string;
let src: string;
let img: BuiltImage;
let arm: BuiltImage;
const root = () => join(tmp, 'root');

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cli-local-'));
  src = join(tmp, 'src');
  img = await buildImage(src, 'app', { layers: [{ entries: [{ path: 'hello', type: 'file', content: 'hello' }] }, { entries: [{ path: 'b', type: 'file', content: 'b' }] }] });
  arm = await buildImage(src, 'app-arm', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: [{ entries: [{ path: 'arm', type: 'file', content: 'arm' }] }] });
  await buildIndex(src, 'multi', [img, arm]);
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('usage and errors', () => {
  test('a usage error exits 2 with one line naming the problem', async () => {
    const r = await cliProcess(['image', 'pull', '--no-such-flag', 'x']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /^ctr-remote: unknown option '--no-such-flag'/);
    assert.equal((await cli(['image', 'tag', 'only-one'])).code, 2);
    assert.equal((await cli(['completion', 'tcsh'])).code, 2);
  });

  test('an unknown image exits 1 with one line and no stack (a stack only with --debug)', async () => {
    const r = await cliProcess(['--root', root(), 'image', 'tag', 'nope:1', 'other:1']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `ctr-remote: tag nope:1: image docker.io/library/nope:1 not found in ${join(root(), 'store')}\n`);
    const rmr = await cli(['--root', root(), 'image', 'rm', 'nope']);
    assert.equal(rmr.code, 1);
    assert.equal(rmr.stderr, 'ctr-remote: rm docker.io/library/nope:latest: no such image\n');
    const dbg = await cli(['--root', root(), '--debug', 'image', 'tag', 'nope:1', 'other:1']);
    assert.equal(dbg.code, 1);
    assert.match(dbg.stderr, /\n {4}at /, 'stack trace with --debug');
    assert.match(dbg.stderr, /code NotFound/);
  });

  test('the global options also work after the subcommand (run stops at its REF, so the program parses positionally)', async () => {
    const missing = `image docker.io/library/nope:1 not found in ${join(root(), 'store')}`;
    for (const args of [
      ['image', 'tag', 'nope:1', 'other:1', '--debug', '--root', root()],
      ['image', 'tag', '--root', root(), '--debug', 'nope:1', 'other:1'],
      ['image', '--root', root(), '--debug', 'tag', 'nope:1', 'other:1'],
      ['i', 'rm', '--root', root(), '-n', 'default', 'nope:1'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 1, args.join(' '));
      assert.ok(r.stderr.includes(args[1] === 'rm' ? 'no such image' : missing), `${args.join(' ')}: ${r.stderr}`);
      assert.equal(/\n {4}at /.test(r.stderr), args.includes('--debug'), `${args.join(' ')}: stack trace only with --debug`);
    }
    const help = await cli(['image', 'pull', '--help']);
    assert.ok(!help.stdout.includes('--root'), 'the copies stay out of the subcommand help');
    const unknown = await cli(['run', '--bogus', 'img', 'id']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option '--bogus'/);
  });

  test('--help and --version exit 0', async () => {
    const help = await cli(['image', 'pull', '--help']);
    assert.equal(help.code, 0);
    for (const flag of ['--plain-http', '--skip-verify', '--user', '--platform', '--all-platforms']) assert.ok(help.stdout.includes(flag), flag);
    const version = await cli(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  test('a bad reference is an error naming it', async () => {
    const r = await cli(['--root', root(), 'image', 'tag', 'oci:' + src + ':app', 'UPPER/case']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid reference "UPPER\/case"/);
  });
});

describe('local images', () => {
  test('tag copies from an oci: layout into the store; ls shows it (table, -q, --json)', async () => {
    const t = await cli(['--root', root(), 'image', 'tag', `oci:${src}:app`, 'example.com/team/app:1']);
    assert.equal(t.code, 0, t.stderr);
    assert.equal(t.stdout, 'example.com/team/app:1\n');
    const a = await cli(['--root', root(), 'image', 'tag', 'example.com/team/app:1', 'app:latest']);
    assert.equal(a.stdout, 'docker.io/library/app:latest\n');
    const json = await cli(['--root', root(), 'image', 'ls', '--json']);
    const rows = JSON.parse(json.stdout) as ImageSummary[];
    assert.deepEqual(rows.map((r) => [r.name, r.digest, r.type, r.platforms]), [
      ['docker.io/library/app:latest', img.manifestDigest, 'full', ['linux/amd64']],
      ['example.com/team/app:1', img.manifestDigest, 'full', ['linux/amd64']],
    ]);
    assert.equal(rows[0]!.size, img.manifestBytes.length + img.manifest.config.size + img.layers.reduce((s, l) => s + l.size, 0));
    assert.equal((await cli(['--root', root(), 'image', 'ls', '-q'])).stdout, 'docker.io/library/app:latest\nexample.com/team/app:1\n');
    const table = (await cli(['--root', root(), 'image', 'ls'])).stdout.split('\n');
    assert.match(table[0]!, /^NAME\s+DIGEST\s+SIZE\s+PLATFORM\s+TYPE$/);
    assert.match(table[1]!, /^docker.io\/library\/app:latest\s+sha256:[0-9a-f]{64}\s+\S+ \S+\s+linux\/amd64\s+full$/);
  });

  test('a multi-platform index keeps all platforms when copied into the store', async () => {
    const t = await cli(['--root', root(), 'image', 'tag', `oci:${src}:multi`, 'multi:1', '--json']);
    assert.equal(t.code, 0, t.stderr);
    const rows = JSON.parse((await cli(['--root', root(), 'image', 'ls', '--json'])).stdout) as ImageSummary[];
    const multi = rows.find((r) => r.name === 'docker.io/library/multi:1');
    assert.deepEqual(multi?.platforms, ['linux/amd64', 'linux/arm64/v8']);
  });

  test('export then import into a fresh root round-trips names and digests; skopeo reads the archive', async () => {
    const file = join(tmp, 'images.tar');
    const e = await cli(['--root', root(), 'image', 'export', file, 'example.com/team/app:1', 'multi:1']);
    assert.equal(e.code, 0, e.stderr);
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${file}:1`], { encoding: 'utf8' })) as { Digest: string };
    assert.equal(inspect.Digest, img.manifestDigest);
    const fresh = join(tmp, 'fresh');
    const imported = await cli(['--root', fresh, 'image', 'import', file, '--json']);
    assert.equal(imported.code, 0, imported.stderr);
    const rows = JSON.parse((await cli(['--root', fresh, 'image', 'ls', '--json'])).stdout) as ImageSummary[];
    assert.deepEqual(rows.map((r) => [r.name, r.type]), [['docker.io/library/multi:1', 'full'], ['example.com/team/app:1', 'full']]);
    assert.equal(rows[1]!.digest, img.manifestDigest);
  });

  test('import reads archives skopeo writes (names by tag only need --base-name)', async () => {
    const file = join(tmp, 'skopeo.tar');
    execFileSync('skopeo', ['copy', '-q', `oci:${src}:app`, `oci-archive:${file}:v2`]);
    const fresh = join(tmp, 'fresh2');
    const bare = await cli(['--root', fresh, 'image', 'import', file]);
    assert.equal(bare.code, 1);
    assert.match(bare.stderr, /named only by tag "v2"; give --base-name/);
    assert.equal((await cli(['--root', fresh, 'image', 'ls', '-q'])).stdout, '', 'nothing named after the failed import');
    const ok = await cli(['--root', fresh, 'image', 'import', '--base-name', 'registry.local/app', file]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, `registry.local/app:v2 ${img.manifestDigest}\n`);
  });

  test('import of a corrupted archive fails with DigestMismatch and names nothing', async () => {
    const file = join(tmp, 'images.tar');
    const bytes = await readFile(file);
    const layerHex = img.layers[0]!.digest.slice(7);
    const at = bytes.indexOf(Buffer.from(`blobs/sha256/${layerHex}`));
    assert.ok(at > 0);
    const i = at + 512 + 20; // a byte of that blob's payload
    bytes.writeUInt8(bytes.readUInt8(i) ^ 0xff, i);
    const bad = join(tmp, 'bad.tar');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(bad, bytes);
    const fresh = join(tmp, 'fresh3');
    const r = await cli(['--root', fresh, 'image', 'import', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^ctr-remote: import ${bad}: blob ${img.layers[0]!.digest} has wrong content`));
    assert.equal((await cli(['--root', fresh, 'image', 'ls', '-q'])).stdout, '');
  });

  test('a malformed or oversized manifest is a clear error and nothing is named', async () => {
    const dir = join(tmp, 'hostile');
    const { mkdir, writeFile } = await import('node:fs/promises');
    const { createHash } = await import('node:crypto');
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const entries = [];
    for (const [tag, body] of [['bad', Buffer.from('{"schemaVersion":2,"config":')], ['huge', Buffer.alloc(5 << 20, 0x20)]] as const) {
      const hex = createHash('sha256').update(body).digest('hex');
      await writeFile(join(dir, 'blobs', 'sha256', hex), body);
      entries.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${hex}`, size: body.length, annotations: { 'org.opencontainers.image.ref.name': tag } });
    }
    await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: entries }));
    const fresh = join(tmp, 'fresh-hostile');
    const bad = await cli(['--root', fresh, 'image', 'tag', `oci:${dir}:bad`, 'bad:1']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^ctr-remote: tag oci:.*:bad: malformed manifest sha256:[0-9a-f]{64}: not valid JSON/);
    const huge = await cli(['--root', fresh, 'image', 'tag', `oci:${dir}:huge`, 'huge:1']);
    assert.equal(huge.code, 1);
    assert.match(huge.stderr, /is 5242880 bytes, over the 4194304-byte limit/);
    assert.equal((await cli(['--root', fresh, 'image', 'ls', '-q'])).stdout, '');
  });

  test('rm removes names and frees blobs no other name uses', async () => {
    const r = await cli(['--root', root(), 'image', 'rm', 'app', 'multi:1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'docker.io/library/app:latest\ndocker.io/library/multi:1\n');
    assert.match(r.stderr, /^freed .* \(\d+ blobs\)\n$/);
    const rows = JSON.parse((await cli(['--root', root(), 'image', 'ls', '--json'])).stdout) as ImageSummary[];
    assert.deepEqual(rows.map((x) => [x.name, x.type]), [['example.com/team/app:1', 'full']]);
  });
});

describe('completion', () => {
  for (const shell of ['bash', 'zsh', 'fish']) {
    test(`${shell} script is generated from the tree and matches completions/`, async () => {
      const r = await cli(['completion', shell]);
      assert.equal(r.code, 0);
      for (const word of ['image', 'pull', 'push', 'export', 'plain-http', 'all-platforms']) assert.ok(r.stdout.includes(word), word);
      const file = new URL(`../../completions/ctr-remote.${shell}`, import.meta.url);
      // Descriptions may drift; every command path and option must be in the committed script.
      const withoutDescriptions = (text: string) => text.replace(/ -d '(?:[^'\\]|\\.)*'$/gm, '').replace(/'([\w-]+):[^']*'/g, "'$1'");
      assert.equal(
        withoutDescriptions(await readFile(file, 'utf8')),
        withoutDescriptions(r.stdout),
        `completions/ctr-remote.${shell} is stale: regenerate with \`node --import tsx src/cli/main.ts completion ${shell} > completions/ctr-remote.${shell}\``,
      );
    });
  }

  test('the bash script completes subcommands and options', async () => {
    const script = (await cli(['completion', 'bash'])).stdout;
    const complete = (words: string[]) =>
      execFileSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _ctr_remote; echo "\${COMPREPLY[*]}"`], { encoding: 'utf8' }).trim();
    assert.equal(complete(['ctr-remote', 'im']), 'image');
    assert.equal(complete(['ctr-remote', 'image', 'pu']), 'pull push');
    assert.equal(complete(['ctr-remote', '--debug', 'image', 'pull', '--pl']), '--plain-http --platform');
  });
});
