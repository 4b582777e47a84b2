// argv → library call, for every command of the CLI: which function a command line calls and the options it
// passes, so that a flag wired to the wrong option (or to none) shows up here. The CLI is run in-process with
// a module loader (runCli's `load`, the one a command's `await ctx.load(() => import(...))` goes through) that
// replaces each function of the loaded library module with a recorder: it notes the call and throws, so
// nothing below the CLI runs. Production passes modules through unchanged; no other test replaces anything.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { CliContext, type ModuleLoader } from '../../src/cli/cli-context.js';
import { buildProgram } from '../../src/cli/program.js';
import { runCli } from '../../src/cli/run-cli.js';
import { Context } from '../../src/image/context.js';

/** One library call as a command made it. */
interface Call {
  fn: string;
  args: unknown[];
}

/** Stand-ins for values that are not data: the cancellation signal, callbacks, output streams, the root's context. */
const SIGNAL = '<signal>';
const FN = '<function>';
const STREAM = '<stream>';

/** A call's arguments as data: see SIGNAL, FN, STREAM; options set to undefined count as not given. */
function plain(v: unknown): unknown {
  if (v instanceof AbortSignal) return SIGNAL;
  if (v instanceof Context) return `<context ${v.root}>`;
  if (typeof v === 'function') return FN;
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') {
    if (typeof (v as { write?: unknown }).write === 'function' && typeof (v as { on?: unknown }).on === 'function') return STREAM;
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

const RECORDED = 'call recorded by the table test';

/** Run `argv`; returns the exit code and the library calls made. */
async function observe(argv: string[]): Promise<{ code: number; calls: Call[]; stderr: string }> {
  const calls: Call[] = [];
  const load: ModuleLoader = async (importer) => {
    const mod = (await importer()) as Record<string, unknown>;
    const spied = Object.fromEntries(Object.entries(mod).map(([name, value]) => [name, typeof value !== 'function' ? value : (...args: unknown[]) => {
      calls.push({ fn: name, args: plain(args) as unknown[] });
      throw new Error(RECORDED);
    }]));
    return spied as Awaited<ReturnType<typeof importer>>;
  };
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  stdout.resume();
  const code = await runCli(argv, { stdout, stderr, isTTY: false, color: false, env: { HOME: '/nonexistent', CTR_REMOTE_KEEPER: 'off' } }, new AbortController().signal, { load }); // no keeper: rpull's call is the one recorded
  return { code, calls, stderr: err };
}

const ROOT = '/tmp/ctr-table-root';
const R = (...argv: string[]) => ['--root', ROOT, ...argv];
/** The context of ROOT, as plain() shows it. */
const CTX = `<context ${ROOT}>`;
const REF = '127.0.0.1:5000/app:1';
const D = `sha256:${'ab'.repeat(32)}`;
const ARM64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };
const AMD64 = { os: 'linux', architecture: 'amd64' };
const MOUNT = 'type=bind,source=/s,destination=/d,options=ro';

/** One row: the command (as the program names it), a command line, and the call it must make (none: completion). */
interface Row {
  cmd: string;
  argv: string[];
  call?: Call;
}

const ROWS: Row[] = [
  {
    cmd: 'image pull',
    argv: R('image', 'pull', '--plain-http', '-k', '--platform', 'linux/arm64', '--max-concurrent-downloads', '5', REF),
    call: { fn: 'pullImage', args: [CTX, REF, { registry: { plainHttp: true, skipVerify: true }, platform: ARM64, concurrency: 5, onProgress: FN, onWarning: FN, signal: SIGNAL }] },
  },
  {
    cmd: 'image pull',
    argv: ['--debug', ...R('images', 'pull', '-u', 'alice:pw', '--tlscacert', '/ca.pem', '--read-timeout', '7', '--all-platforms', REF)],
    call: {
      fn: 'pullImage',
      args: [CTX, REF, { registry: { tlsCaCert: '/ca.pem', readTimeoutMs: 7000, debug: FN, username: 'alice', password: 'pw' }, allPlatforms: true, concurrency: 3, onProgress: FN, onWarning: FN, signal: SIGNAL }],
    },
  },
  {
    cmd: 'image pull',
    argv: R('image', 'pull', '--hosts-dir', '/', '--tlscert', '/c.pem', '--tlskey', '/k.pem', '--refresh', 'rt', '--http-dump', REF),
    call: {
      fn: 'pullImage',
      args: [CTX, REF, { registry: { tlsCert: '/c.pem', tlsKey: '/k.pem', hostsDir: '/', onMirrorFailure: FN, refreshToken: 'rt', httpDump: FN }, concurrency: 3, onProgress: FN, onWarning: FN, signal: SIGNAL }],
    },
  },
  {
    cmd: 'image push',
    argv: R('image', 'push', '--plain-http', '--platform', 'linux/amd64', '--max-concurrent-uploaded-layers', '2', REF, 'local:1'),
    call: { fn: 'pushImage', args: [CTX, REF, 'local:1', { registry: { plainHttp: true }, platform: AMD64, concurrency: 2, onProgress: FN, signal: SIGNAL }] },
  },
  {
    cmd: 'image pull',
    argv: R('image', 'pull', '--label', 'a=1', '--label', 'b=', '--all-metadata', '--print-chainid', '--snapshotter', 'stargz', REF),
    call: { fn: 'pullImage', args: [CTX, REF, { registry: {}, allMetadata: true, labels: { a: '1', b: '' }, concurrency: 3, onProgress: FN, onWarning: FN, signal: SIGNAL }] },
  },
  {
    cmd: 'content fetch',
    argv: R('content', 'fetch', '--metadata-only', '--all-platforms', '--plain-http', '--label', 'k=v', REF),
    call: { fn: 'pullImage', args: [CTX, REF, { registry: { plainHttp: true }, allPlatforms: true, metadataOnly: true, labels: { k: 'v' }, concurrency: 3, onProgress: FN, onWarning: FN, signal: SIGNAL }] },
  },
  { cmd: 'content ls', argv: R('content', 'list', '-q'), call: { fn: 'listContent', args: [CTX] } },
  { cmd: 'content get', argv: R('content', 'get', D), call: { fn: 'getContent', args: [CTX, D, STREAM, { signal: SIGNAL }] } },
  { cmd: 'content rm', argv: R('content', 'del', '-f', D), call: { fn: 'removeContent', args: [CTX, [D], { force: true, signal: SIGNAL }] } },
  { cmd: 'content rm', argv: R('content', 'rm', D), call: { fn: 'removeContent', args: [CTX, [D], { force: false, signal: SIGNAL }] } },
  { cmd: 'image check', argv: R('images', 'check', '--platform', 'linux/arm64', '--snapshotter', 'overlayfs', '-q', 'a', 'b:2'), call: { fn: 'checkImages', args: [CTX, ['a', 'b:2'], { platform: ARM64, signal: SIGNAL }] } },
  { cmd: 'image check', argv: R('image', 'check'), call: { fn: 'checkImages', args: [CTX, [], { signal: SIGNAL }] } },
  { cmd: 'image label', argv: R('i', 'label', '-r', 'a', 'k=v', 'x='), call: { fn: 'labelImage', args: [CTX, 'a', { k: 'v', x: '' }, { replaceAll: true, signal: SIGNAL }] } },
  { cmd: 'image label', argv: R('image', 'label', 'a'), call: { fn: 'labelImage', args: [CTX, 'a', {}, { replaceAll: false, signal: SIGNAL }] } },
  { cmd: 'version', argv: ['version'] },
  { cmd: 'snapshots ls', argv: R('snapshot', 'list', '--json'), call: { fn: 'listRootSnapshots', args: [CTX, { signal: SIGNAL }] } },
  { cmd: 'snapshots info', argv: R('snapshots', '--snapshotter', 'overlayfs', 'info', 'k1'), call: { fn: 'snapshotInfo', args: [CTX, 'k1', { signal: SIGNAL }] } },
  { cmd: 'snapshots mounts', argv: R('snapshots', 'm', '/mnt/x', 'k1'), call: { fn: 'snapshotMounts', args: [CTX, 'k1', { signal: SIGNAL }] } },
  { cmd: 'snapshots usage', argv: R('snapshots', 'usage', '-b', 'k1', 'k2'), call: { fn: 'snapshotUsage', args: [CTX, ['k1', 'k2'], { signal: SIGNAL }] } },
  { cmd: 'snapshots usage', argv: R('snapshots', 'usage'), call: { fn: 'snapshotUsage', args: [CTX, [], { signal: SIGNAL }] } },
  { cmd: 'snapshots rm', argv: R('snapshots', 'delete', 'k1', 'k2'), call: { fn: 'removeRootSnapshots', args: [CTX, ['k1', 'k2'], { onRemoved: FN, signal: SIGNAL }] } },
  { cmd: 'image push', argv: R('image', 'push', REF), call: { fn: 'pushImage', args: [CTX, REF, undefined, { registry: {}, concurrency: 3, onProgress: FN, signal: SIGNAL }] } },
  { cmd: 'image ls', argv: R('i', 'list', '-q'), call: { fn: 'listImages', args: [CTX] } },
  { cmd: 'image rm', argv: R('image', 'remove', 'a', 'b:2'), call: { fn: 'removeImages', args: [CTX, ['a', 'b:2'], { signal: SIGNAL }] } },
  { cmd: 'image tag', argv: R('image', 'tag', 'a', 'oci:/x:b'), call: { fn: 'tagImage', args: [CTX, 'a', 'oci:/x:b', { signal: SIGNAL }] } },
  { cmd: 'image export', argv: R('image', 'export', 'out.tar', 'a', 'b'), call: { fn: 'exportImages', args: [CTX, 'out.tar', ['a', 'b'], { signal: SIGNAL }] } },
  { cmd: 'image import', argv: R('image', 'import', '--base-name', 'base', 'in.tar'), call: { fn: 'importImages', args: [CTX, 'in.tar', { baseName: 'base', signal: SIGNAL }] } },
  { cmd: 'image import', argv: R('image', 'import', 'in.tar'), call: { fn: 'importImages', args: [CTX, 'in.tar', { signal: SIGNAL }] } },
  {
    cmd: 'image convert',
    argv: R('image', 'convert', '--estargz', '--oci', '--estargz-compression-level', '5', '--estargz-chunk-size', '1000', '--estargz-min-chunk-size', '10',
      '--estargz-record-in', 'rec.json', '--reuse', '--all-platforms', '-k', '--plain-http', '-u', 'u:p', 'src:1', 'oci:/dst'),
    call: {
      fn: 'convertLocations',
      args: [CTX, 'src:1', 'oci:/dst', { registry: { plainHttp: true, skipVerify: true, username: 'u', password: 'p' }, format: 'estargz', oci: true, level: 5, chunkSize: 1000, minChunkSize: 10,
        recordIn: 'rec.json', reuse: true, allPlatforms: true, onWarning: FN, signal: SIGNAL,
      }],
    },
  },
  {
    cmd: 'image convert',
    argv: R('image', 'convert', '--zstdchunked', '--zstdchunked-compression-level', '7', '--estargz-compression-level', '2', '--platform', 'linux/arm64', 'src:1', 'dst:1'),
    call: { fn: 'convertLocations', args: [CTX, 'src:1', 'dst:1', { registry: {}, format: 'zstdchunked', level: 7, chunkSize: 0, minChunkSize: 0, platform: ARM64, onWarning: FN, signal: SIGNAL }] },
  },
  {
    cmd: 'image convert',
    argv: R('image', 'convert', '--uncompress', 'src:1', 'dst:1'),
    call: { fn: 'convertLocations', args: [CTX, 'src:1', 'dst:1', { registry: {}, format: 'uncompress', level: 9, chunkSize: 0, minChunkSize: 0, onWarning: FN, signal: SIGNAL }] },
  },
  { cmd: 'image get-toc-digest', argv: R('image', 'get-toc-digest', '--dump-toc', '--zstdchunked', D), call: { fn: 'layerToc', args: [CTX, D, { format: 'zstd', signal: SIGNAL }] } },
  { cmd: 'image get-toc-digest', argv: R('image', 'get-toc-digest', D), call: { fn: 'layerToc', args: [CTX, D, { format: 'gzip', signal: SIGNAL }] } },
  {
    cmd: 'image optimize',
    argv: R('image', 'optimize', '--oci', '--entrypoint', '["/bin/sh"]', '--args', '["-c","true"]', '--env', 'A=1', '--env', 'B', '--env-file', 'e.env', '--cwd', '/w',
      '--user', '1:2', '--mount', MOUNT, '--net-host', '-t', '-i', '--period', '2.5', '--wait-on-line', 'ready', '--record-out', 'rec.ndjson', '--reuse',
      '--estargz-compression-level', '4', '--estargz-chunk-size', '100', '--zstdchunked', '--platform', 'linux/amd64', '--plain-http', '-k', '--tlscacert', 'ca.pem', 'src:1', 'dst:1'),
    call: {
      fn: 'optimizeImage',
      args: [CTX, 'src:1', 'dst:1', { registry: { plainHttp: true, skipVerify: true, tlsCaCert: 'ca.pem' }, oci: true, entrypoint: ['/bin/sh'], args: ['-c', 'true'],
        env: ['A=1', 'B'], envFile: 'e.env', cwd: '/w', user: '1:2', mounts: [MOUNT], netHost: true, tty: true, stdin: true, period: 2.5, waitOnLine: 'ready',
        recordOut: 'rec.ndjson', noOptimize: false, reuse: true, level: 4, chunkSize: 100, zstdChunked: true, platform: AMD64,
        stdout: STREAM, stderr: STREAM, onWarning: FN, onStep: FN, signal: SIGNAL,
      }],
    },
  },
  {
    cmd: 'image optimize',
    argv: R('image', 'optimize', '--no-optimize', 'src:1', 'dst:1'),
    call: {
      fn: 'optimizeImage',
      args: [CTX, 'src:1', 'dst:1', { registry: {}, env: [], mounts: [], netHost: false, tty: false, stdin: false, period: 10, noOptimize: true, level: 9, chunkSize: 0,
        stdout: STREAM, stderr: STREAM, onWarning: FN, onStep: FN, signal: SIGNAL,
      }],
    },
  },
  {
    cmd: 'image optimize',
    argv: R('image', 'optimize', '--hosts-dir', '/', '--tlscert', '/c.pem', '--tlskey', '/k.pem', '--http-dump', 'src:1', 'dst:1'),
    call: {
      fn: 'optimizeImage',
      args: [CTX, 'src:1', 'dst:1', { registry: { tlsCert: '/c.pem', tlsKey: '/k.pem', hostsDir: '/', onMirrorFailure: FN, httpDump: FN }, env: [], mounts: [], netHost: false, tty: false, stdin: false, period: 10,
        noOptimize: false, level: 9, chunkSize: 0, stdout: STREAM, stderr: STREAM, onWarning: FN, onStep: FN, signal: SIGNAL,
      }],
    },
  },
  {
    cmd: 'image convert',
    argv: R('image', 'convert', '--estargz', '--hosts-dir', '/', '--tlscert', '/c.pem', '--tlskey', '/k.pem', 'src:1', 'dst:1'),
    call: { fn: 'convertLocations', args: [CTX, 'src:1', 'dst:1', { registry: { tlsCert: '/c.pem', tlsKey: '/k.pem', hostsDir: '/', onMirrorFailure: FN }, format: 'estargz', level: 9, chunkSize: 0, minChunkSize: 0, onWarning: FN, signal: SIGNAL }] },
  },
  {
    cmd: 'image push',
    argv: R('image', 'push', '--hosts-dir', '/', '--http-dump', REF),
    call: { fn: 'pushImage', args: [CTX, REF, undefined, { registry: { hostsDir: '/', onMirrorFailure: FN, httpDump: FN }, concurrency: 3, onProgress: FN, signal: SIGNAL }] },
  },
  {
    cmd: 'image optimize',
    argv: R('image', 'optimize', '--wait-on-signal', '--cni', '--dns-nameservers', '8.8.4.4', '--add-hosts', 'reg:10.1.2.3', 'src:1', 'dst:1'),
    call: {
      fn: 'optimizeImage',
      args: [CTX, 'src:1', 'dst:1', { registry: {}, env: [], mounts: [], netHost: false, cni: {}, dns: { nameservers: ['8.8.4.4'] }, extraHosts: [{ host: 'reg', ip: '10.1.2.3' }],
        tty: false, stdin: false, period: 10, waitOnSignal: true, noOptimize: false, level: 9, chunkSize: 0,
        stdout: STREAM, stderr: STREAM, onWarning: FN, onStep: FN, signal: SIGNAL,
      }],
    },
  },
  { cmd: 'image prune', argv: R('image', 'prune', '--dry-run'), call: { fn: 'pruneRoot', args: [CTX, { dryRun: true, signal: SIGNAL }] } },
  { cmd: 'image prune', argv: R('image', 'prune', '--json'), call: { fn: 'pruneRoot', args: [CTX, { dryRun: false, signal: SIGNAL }] } },
  {
    cmd: 'image rpull',
    argv: R('image', 'rpull', '--plain-http', '--platform', 'linux/arm64', '--skip-content-verify', '--read-timeout', '3', REF),
    call: { fn: 'rpullImage', args: [CTX, REF, { registry: { plainHttp: true, readTimeoutMs: 3000 }, platform: ARM64, skipContentVerify: true, onLayer: FN, signal: SIGNAL }] },
  },
  {
    cmd: 'image rpull',
    argv: R('image', 'rpull', '--hosts-dir', '/', '--tlscacert', '/ca.pem', '--tlscert', '/c.pem', '--tlskey', '/k.pem', REF),
    call: { fn: 'rpullImage', args: [CTX, REF, { registry: { tlsCaCert: '/ca.pem', tlsCert: '/c.pem', tlsKey: '/k.pem', hostsDir: '/', onMirrorFailure: FN }, onLayer: FN, signal: SIGNAL }] },
  },
  {
    cmd: 'image rpull',
    argv: R('image', 'rpull', '--label', 'k=v', '--print-chainid', '--snapshotter', 'stargz', REF),
    call: { fn: 'rpullImage', args: [CTX, REF, { registry: {}, labels: { k: 'v' }, onLayer: FN, signal: SIGNAL }] },
  },
  { cmd: 'image rpull', argv: R('image', 'rpull', '--json', '-u', 'u:p', REF), call: { fn: 'rpullImage', args: [CTX, REF, { registry: { username: 'u', password: 'p' }, signal: SIGNAL }] } },
  {
    cmd: 'image mount',
    argv: R('image', 'mount', '--no-background-fetch', '--cache-max-bytes', '1000', '--skip-content-verify', '--platform', 'linux/arm64', '-k', REF, '/mnt/x'),
    call: {
      fn: 'mountImage',
      args: [CTX, REF, '/mnt/x', { registry: { skipVerify: true }, platform: ARM64, noBackgroundFetch: true, cacheMaxBytes: 1000, skipContentVerify: true, onLayer: FN, onWarning: FN, signal: SIGNAL }],
    },
  },
  {
    cmd: 'image mount',
    argv: R('image', 'mount', '--rw', '--snapshotter', 'overlayfs', REF, '/mnt/x'),
    call: { fn: 'mountImage', args: [CTX, REF, '/mnt/x', { registry: {}, noBackgroundFetch: false, rw: true, snapshotter: 'overlayfs', onLayer: FN, onWarning: FN, signal: SIGNAL }] },
  },
  { cmd: 'image mount', argv: R('image', 'mount', '--json', REF, '/mnt/x'), call: { fn: 'mountImage', args: [CTX, REF, '/mnt/x', { registry: {}, noBackgroundFetch: false, onWarning: FN, signal: SIGNAL }] } },
  {
    cmd: 'image mount',
    argv: R('image', 'mount', '--hosts-dir', '/', '--refresh', 'rt', '--http-dump', REF, '/mnt/x'),
    call: { fn: 'mountImage', args: [CTX, REF, '/mnt/x', { registry: { hostsDir: '/', onMirrorFailure: FN, refreshToken: 'rt', httpDump: FN }, noBackgroundFetch: false, onLayer: FN, onWarning: FN, signal: SIGNAL }] },
  },
  { cmd: 'image unmount', argv: R('image', 'umount', '/mnt/x'), call: { fn: 'unmountImage', args: [CTX, '/mnt/x'] } },
  { cmd: 'image status', argv: R('image', 'status', '--platform', 'linux/arm64', REF), call: { fn: 'imageStatus', args: [CTX, REF, ARM64] } },
  { cmd: 'image status', argv: R('image', 'status', REF), call: { fn: 'imageStatus', args: [CTX, REF, undefined] } },
  {
    cmd: 'run',
    argv: R('run', '--rm', '-t', '-i', '--snapshotter', 'overlayfs', '--env', 'K=V', '--env-file', 'e.env', '--cwd', '/w', '--user', 'u', '--mount', MOUNT, '--net-host',
      '--platform', 'linux/386', '--no-background-fetch', '--cache-max-bytes', '5', '--plain-http', '-k', '--tlscacert', 'ca.pem', '--read-timeout', '9',
      '--registry-user', 'u:p', REF, 'id1', 'cmd', '-t', '--x'),
    call: {
      fn: 'runContainer',
      args: [CTX, REF, 'id1', {
        args: ['cmd', '-t', '--x'], remove: true, tty: true, stdin: true, snapshotter: 'overlayfs', env: ['K=V'], envFile: 'e.env', cwd: '/w', user: 'u', mounts: [MOUNT],
        netHost: true, platform: { os: 'linux', architecture: '386' }, noBackgroundFetch: true, cacheMaxBytes: 5,
        registry: { plainHttp: true, skipVerify: true, tlsCaCert: 'ca.pem', readTimeoutMs: 9000, username: 'u', password: 'p' }, onWarning: FN, killOnAbort: false, signal: SIGNAL,
      }],
    },
  },
  {
    cmd: 'run',
    argv: R('run', REF, 'id2', '--', 'ls', '-l'),
    call: {
      fn: 'runContainer',
      args: [CTX, REF, 'id2', { args: ['ls', '-l'], remove: false, tty: false, stdin: false, env: [], mounts: [], netHost: false, noBackgroundFetch: false, registry: {}, onWarning: FN, killOnAbort: false, signal: SIGNAL }],
    },
  },
  {
    cmd: 'run',
    argv: R('run', '--hosts-dir', '/', '--tlscert', '/c.pem', '--tlskey', '/k.pem', '--refresh', 'rt', '--http-dump', REF, 'id3'),
    call: {
      fn: 'runContainer',
      args: [CTX, REF, 'id3', { args: [], remove: false, tty: false, stdin: false, env: [], mounts: [], netHost: false, noBackgroundFetch: false,
        registry: { tlsCert: '/c.pem', tlsKey: '/k.pem', hostsDir: '/', onMirrorFailure: FN, refreshToken: 'rt', httpDump: FN }, onWarning: FN, killOnAbort: false, signal: SIGNAL,
      }],
    },
  },
  {
    cmd: 'run',
    argv: R('run', '-d', '--rm', '--log-uri', 'file:///var/log/c1.log', REF, 'c1', 'sleep', '9'),
    call: {
      fn: 'runDetached',
      args: [CTX, REF, 'c1', {
        args: ['sleep', '9'], remove: true, tty: false, stdin: false, env: [], mounts: [], netHost: false, noBackgroundFetch: false, registry: {}, onWarning: FN, killOnAbort: false, signal: SIGNAL,
        log: '/var/log/c1.log',
      }],
    },
  },
  { cmd: 'containers ls', argv: R('c', 'list', '-q'), call: { fn: 'listContainers', args: [CTX, { signal: SIGNAL }] } },
  { cmd: 'containers info', argv: R('container', 'info', 'c1'), call: { fn: 'getContainer', args: [CTX, 'c1', { signal: SIGNAL }] } },
  { cmd: 'containers info', argv: R('containers', 'info', '--spec', 'c1'), call: { fn: 'containerSpec', args: [CTX, 'c1'] } },
  { cmd: 'containers rm', argv: R('containers', 'rm', '-f', '--keep-snapshot', 'c1', 'c2'), call: { fn: 'removeContainers', args: [CTX, ['c1', 'c2'], { force: true, signal: SIGNAL }] } },
  { cmd: 'tasks ls', argv: R('t', 'ls'), call: { fn: 'listTasks', args: [CTX, { signal: SIGNAL }] } },
  { cmd: 'tasks kill', argv: R('tasks', 'kill', '-s', 'KILL', '-a', 'c1'), call: { fn: 'killTask', args: [CTX, 'c1', 'KILL', { all: true, signal: SIGNAL }] } },
  { cmd: 'tasks kill', argv: R('tasks', 'kill', 'c1'), call: { fn: 'killTask', args: [CTX, 'c1', 'SIGTERM', { all: false, signal: SIGNAL }] } },
  {
    cmd: 'tasks start',
    argv: R('tasks', 'start', '-d', '--plain-http', '-u', 'u:p', 'c1'),
    call: { fn: 'startTask', args: [CTX, 'c1', { registry: { plainHttp: true, username: 'u', password: 'p' }, signal: SIGNAL }] },
  },
  { cmd: 'tasks start', argv: R('task', 'start', 'c1'), call: { fn: 'startTask', args: [CTX, 'c1', { registry: {}, signal: SIGNAL, attachTo: STREAM }] } },
  {
    cmd: 'tasks exec',
    argv: R('tasks', 'exec', '--exec-id', 'e1', '--cwd', '/w', '--user', '1000:1000', '--env', 'A=1', '--env', 'B=2', 'c1', 'ls', '-l'),
    call: { fn: 'execInTask', args: [CTX, 'c1', ['ls', '-l'], { execId: 'e1', tty: false, stdin: false, cwd: '/w', user: '1000:1000', env: ['A=1', 'B=2'] }] },
  },
  { cmd: 'tasks ps', argv: R('tasks', 'ps', 'c1'), call: { fn: 'taskPids', args: [CTX, 'c1', { signal: SIGNAL }] } },
  { cmd: 'tasks attach', argv: R('tasks', 'attach', 'c1'), call: { fn: 'attachTask', args: [CTX, 'c1', STREAM, { signal: SIGNAL }] } },
  { cmd: 'tasks rm', argv: R('tasks', 'rm', '-f', 'c1'), call: { fn: 'deleteTask', args: [CTX, 'c1', { force: true, signal: SIGNAL }] } },
  { cmd: 'supervise', argv: R('supervise', 'c1'), call: { fn: 'superviseContainer', args: [CTX, { request: FN, answer: FN }, SIGNAL] } },
  {
    cmd: 'run',
    argv: R('run', '--privileged', '--read-only', '--cap-add', 'net_admin', '--cap-add', 'CAP_SYS_TIME', '--cap-drop', 'ALL', '--memory-limit', '1048576', '--cpus', '1.5',
      '--label', 'a=b', '--label', 'c', '--cni', '--cni-plugin-conf-dir', '/etc/cni/net.d', '--cni-plugin-dir', '/usr/lib/cni', '--dns-nameservers', '1.1.1.1,9.9.9.9',
      '--dns-search-domains', 'x.example', '--dns-options', 'ndots:2', '--add-hosts', 'h:10.0.0.1', '--add-hosts', 'g:10.0.0.2', REF, 'id3'),
    call: {
      fn: 'runContainer',
      args: [CTX, REF, 'id3', {
        args: [], remove: false, tty: false, stdin: false, env: [], mounts: [], netHost: false, cni: { confDir: '/etc/cni/net.d', pluginDir: '/usr/lib/cni' },
        dns: { nameservers: ['1.1.1.1', '9.9.9.9'], search: ['x.example'], options: ['ndots:2'] }, extraHosts: [{ host: 'h', ip: '10.0.0.1' }, { host: 'g', ip: '10.0.0.2' }],
        privileged: true, readonlyRootfs: true, capAdd: ['CAP_NET_ADMIN', 'CAP_SYS_TIME'], capDrop: ['ALL'], memoryLimit: 1048576, cpus: 1.5, labels: { a: 'b', c: '' },
        noBackgroundFetch: false, registry: {}, onWarning: FN, killOnAbort: false, signal: SIGNAL,
      }],
    },
  },
  {
    cmd: 'run',
    argv: R('run', '--rootfs', '--memory-limit', '0', '--cpus', '0', '/srv/rootfs', 'id4', 'sh'),
    call: {
      fn: 'runContainer',
      args: [CTX, '/srv/rootfs', 'id4', { args: ['sh'], remove: false, tty: false, stdin: false, env: [], mounts: [], netHost: false, rootfs: true, noBackgroundFetch: false, registry: {}, onWarning: FN, killOnAbort: false, signal: SIGNAL }],
    },
  },
  {
    cmd: 'snapshotter serve',
    argv: ['snapshotter', 'serve', '--address', '/a.sock', '--root', '/r', '--config', '/c.toml', '--log-level', 'debug', '--cache-max-bytes', '5'],
    call: { fn: 'serveSnapshotter', args: [{ address: '/a.sock', root: '/r', config: '/c.toml', cacheMaxBytes: 5, logLevel: 'debug', log: STREAM }] },
  },
  {
    cmd: 'snapshotter serve',
    argv: ['snapshotter', 'serve'],
    call: { fn: 'serveSnapshotter', args: [{ address: '/run/containerd-stargz-grpc/containerd-stargz-grpc.sock', root: '/var/lib/containerd-stargz-grpc', logLevel: 'info', log: STREAM }] },
  },
  { cmd: 'snapshotter stop', argv: ['snapshotter', 'stop', '--root', '/r', '--unmount'], call: { fn: 'stopSnapshotter', args: [{ root: '/r', unmount: true }] } },
  { cmd: 'snapshotter stop', argv: ['snapshotter', 'stop'], call: { fn: 'stopSnapshotter', args: [{ root: '/var/lib/containerd-stargz-grpc', unmount: false }] } },
  {
    cmd: 'snapshotter fuse-manager',
    argv: ['snapshotter', 'fuse-manager', '--settings', '{"root":"/r","noBackgroundFetch":true}'],
    call: { fn: 'serveFuseManager', args: [{ settings: { root: '/r', noBackgroundFetch: true }, logLevel: 'info', log: STREAM }] },
  },
  { cmd: 'completion', argv: ['completion', 'bash'] },
];

/** Every command of the program that runs something (the leaves of its tree), as "image pull", "run", ... */
function leafCommands(cmd: Command, path: string[] = []): string[] {
  if (cmd.commands.length === 0) return [path.join(' ')];
  return cmd.commands.flatMap((c) => leafCommands(c, [...path, c.name()]));
}

describe('argv → library call', () => {
  test('every command of the program has a row', () => {
    const program = buildProgram(new CliContext({ stdout: new PassThrough(), stderr: new PassThrough(), isTTY: false, color: false, env: {} }, new AbortController().signal));
    assert.deepEqual([...new Set(ROWS.map((r) => r.cmd))].sort(), leafCommands(program).sort());
  });

  for (const row of ROWS) {
    test(row.argv.filter((a) => a !== '--root' && a !== ROOT).join(' '), async () => {
      const r = await observe(row.argv);
      if (!row.call) {
        assert.deepEqual([r.code, r.calls], [0, []], r.stderr);
        return;
      }
      assert.deepEqual(r.calls, [row.call]);
      // the recorder's throw ends the command as a failure (1), not as a usage error (2)
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(RECORDED), r.stderr);
    });
  }
});
