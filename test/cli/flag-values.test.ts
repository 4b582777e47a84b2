// Flag values and usage errors across the whole command tree: every numeric flag rejects what is not a
// number in its range, every --platform rejects a malformed platform, flag combinations a command
// cannot take are refused; all of them exit 2 with one line, before any I/O. Plus the cap on long
// error lines and the message for a mistyped local name in convert.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { CliContext } from '../../src/cli/cli-context.js';
import { errorLine, MAX_ERROR_LINE } from '../../src/cli/error-line.js';
import { buildProgram } from '../../src/cli/program.js';
import { buildImage } from '../fixtures/image-builder.js';
import { cli } from './cli-harness.js';

let tmp: string;
const root = () => join(tmp, 'root');

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cli-flags-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Every command path of the program with its own (visible) options. */
function commands(): { path: string[]; options: string[] }[] {
  const io = { stdout: new PassThrough(), stderr: new PassThrough(), isTTY: false, color: false, env: process.env };
  const out: { path: string[]; options: string[] }[] = [];
  const walk = (cmd: Command, path: string[]) => {
    out.push({ path, options: cmd.options.filter((o) => !o.hidden).map((o) => o.flags) });
    for (const sub of cmd.commands) walk(sub, [...path, sub.name()]);
  };
  walk(buildProgram(new CliContext(io, new AbortController().signal)), []);
  return out;
}

/** Assert a usage error: exit 2, nothing on stdout, one line on stderr matching `re`. */
function assertUsage(r: { code: number; stdout: string; stderr: string }, re: RegExp, what: string): void {
  assert.equal(r.code, 2, `${what}: ${r.stderr}`);
  assert.equal(r.stdout, '', what);
  assert.equal(r.stderr.split('\n').filter((l) => l).length, 1, `${what}: ${r.stderr}`);
  assert.match(r.stderr, re, what);
}

describe('flag values', () => {
  test('every numeric flag of every command rejects non-numbers, fractions and out-of-range values (exit 2, before any I/O)', async () => {
    const numeric = commands().flatMap(({ path, options }) =>
      options.filter((f) => /<(n|bytes|seconds)>/.test(f)).map((f) => ({ path, flag: f.split(/[ ,]+/).find((p) => p.startsWith('--'))! })),
    );
    assert.ok(numeric.length >= 11, `found ${numeric.length} numeric flags`);
    for (const { path, flag } of numeric) {
      const values = flag === '--period' ? ['x', '', '0', '-1', '1e3', '86401'] : ['x', '', '1.5', '-1', '0x10', '1e3', '99999999999999999999'];
      for (const value of values) {
        // Positional arguments are left out on purpose: a bad value must be caught while parsing flags.
        const r = await cli(['--root', root(), ...path, flag, value]);
        assertUsage(r, new RegExp(`^ctr-remote: option '${flag} <\\w+>' argument '${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' is invalid\\. Expected `), `${path.join(' ')} ${flag} ${JSON.stringify(value)}`);
      }
    }
  });

  test('run --cpus takes a decimal number of CPUs (0 to 4096) and rejects anything else (exit 2)', async () => {
    for (const value of ['x', '', '-1', '0x10', '1e3', '4097', '1.5.1']) {
      const r = await cli(['--root', root(), 'run', '--cpus', value]);
      assertUsage(r, new RegExp(`^ctr-remote: option '--cpus <cpus>' argument '${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' is invalid\\. `), `--cpus ${JSON.stringify(value)}`);
    }
  });

  test('the concurrency flags take 1-64 and reach the command', async () => {
    for (const bad of ['0', '65']) assertUsage(await cli(['image', 'pull', '--max-concurrent-downloads', bad, 'x']), /Expected an integer from 1 to 64/, bad);
    // A good value passes parsing: the command then fails on its missing image, with exit 1.
    const ok = await cli(['--root', root(), 'image', 'push', '--max-concurrent-uploaded-layers', '64', 'oci:' + join(tmp, 'nowhere'), 'nosuch:1']);
    assert.equal(ok.code, 1, ok.stderr);
    assert.match(ok.stderr, /nosuch:1/);
  });

  test('every --platform rejects a malformed or unknown platform (exit 2)', async () => {
    const withPlatform = commands().filter(({ options }) => options.some((f) => f.startsWith('--platform ')));
    assert.deepEqual(withPlatform.map((c) => c.path.join(' ')).sort(), ['content fetch', 'image check', 'image convert', 'image mount', 'image optimize', 'image pull', 'image push', 'image rpull', 'image status', 'run']);
    for (const { path } of withPlatform) {
      for (const [value, why] of [['bogus', /Unknown architecture "bogus"/], ['linux/amd46', /Unknown architecture "amd46"/], ['linx/amd64', /Unknown operating system "linx"/], ['linux//amd64', /Malformed platform/], ['linux/amd64/v2/x', /Malformed platform/]] as const) {
        assertUsage(await cli([...path, '--platform', value]), why, `${path.join(' ')} --platform ${value}`);
      }
    }
  });

  test('--platform with --all-platforms is a usage error', async () => {
    for (const path of [['image', 'pull'], ['image', 'push'], ['image', 'convert'], ['image', 'optimize']]) {
      assertUsage(await cli([...path, '--platform', 'linux/amd64', '--all-platforms', 'a', 'b']), /option '--platform <os\/arch\[\/variant\]>' cannot be used with option '--all-platforms'/, path.join(' '));
    }
  });

  test('a missing required choice and other flag combinations are usage errors', async () => {
    assertUsage(await cli(['--root', root(), 'image', 'convert', '--oci', 'a', 'b']), /^ctr-remote: convert a: convert needs exactly one of --estargz, --zstdchunked, --uncompress$/m, 'no format');
    assertUsage(await cli(['--root', root(), 'image', 'convert', '--estargz', '--uncompress', 'a', 'b']), /exactly one of/, 'two formats');
    assertUsage(await cli(['--root', root(), 'image', 'optimize', '--no-optimize', '-t', 'a', 'b']), /-t needs -i/, 'optimize -t');
    assertUsage(await cli(['image', 'optimize', '--entrypoint', 'sh', 'a', 'b']), /argument 'sh' is invalid\. Expected a JSON array of strings/, '--entrypoint');
    assertUsage(await cli(['run', '--env', '=x', 'img', 'id']), /argument '=x' is invalid\. --env "=x": variable name is empty/, '--env');
    assertUsage(await cli(['run', '--mount', 'type=bind,source=/a,destination=rel', 'img', 'id']), /destination must be an absolute path/, '--mount');
    assertUsage(await cli(['run', '--snapshotter', 'zfs', 'img', 'id']), /Allowed choices are stargz, overlayfs \(see/, '--snapshotter');
  });
});

describe('error lines', () => {
  test('errorLine folds newlines and cuts a long message, saying how much was cut', () => {
    assert.equal(errorLine('a\n  b\r\nc'), 'a b c');
    const long = 'x'.repeat(MAX_ERROR_LINE + 1234);
    assert.equal(errorLine(long), `${'x'.repeat(MAX_ERROR_LINE)}… (1234 more characters; --debug prints them)`);
    assert.equal(errorLine('y'.repeat(MAX_ERROR_LINE)), 'y'.repeat(MAX_ERROR_LINE));
  });

  test('a 12 KB error is printed as one short line; --debug prints all of it', async () => {
    const name = 'a'.repeat(12_000);
    const r = await cli(['--root', root(), 'image', 'tag', `oci:${join(tmp, 'nowhere')}:${name}`, 'b:1']);
    assert.equal(r.code, 1);
    const lines = r.stderr.split('\n').filter((l) => l);
    assert.equal(lines.length, 1, r.stderr);
    assert.ok(lines[0]!.length < MAX_ERROR_LINE + 100, `${lines[0]!.length} characters`);
    assert.match(lines[0]!, /^ctr-remote: tag oci:.*aaa… \(\d+ more characters; --debug prints them\)$/);
    const dbg = await cli(['--root', root(), '--debug', 'image', 'tag', `oci:${join(tmp, 'nowhere')}:${name}`, 'b:1']);
    assert.ok(dbg.stderr.split('\n')[0]!.includes(name), 'the whole message with --debug');
  });
});

describe('convert of a name that is not in the store', () => {
  test('a name without a registry host is not looked up on Docker Hub', async () => {
    const layout = join(tmp, 'layout');
    await buildImage(layout, 'app', { layers: [{ entries: [{ path: 'a', type: 'file', content: 'a' }] }] });
    assert.equal((await cli(['--root', root(), 'image', 'tag', `oci:${layout}:app`, 'myapp:1'])).code, 0);
    const r = await cli(['--root', root(), 'image', 'convert', '--estargz', '--oci', 'myap:1', 'out:1']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'ctr-remote: convert myap:1: no local image myap:1; to use a registry write its host (e.g. docker.io/library/myap:1)\n');
    const nested = await cli(['--root', root(), 'image', 'convert', '--estargz', '--oci', 'team/myapp:1', 'out:1']);
    assert.match(nested.stderr, /no local image team\/myapp:1; to use a registry write its host \(e\.g\. docker\.io\/team\/myapp:1\)/);
    // The local name itself still converts.
    const ok = await cli(['--root', root(), 'image', 'convert', '--estargz', '--oci', 'myapp:1', 'out:1']);
    assert.equal(ok.code, 0, ok.stderr);
  });
});
