// examples/release-pipeline.sh runs end to end with the built bin/ctr-remote against a real registry, and
// never runs whatever else is called `ctr-remote` on PATH (Debian's stargz-snapshotter installs the
// reference Go binary under that name).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ImageSummary } from '../../src/image/copy/list-images.js';
import { buildImage, type BuiltImage } from '../fixtures/image-builder.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const built = existsSync(join(repo, 'dist', 'ctr-remote.mjs'));
let tmp: string;
let reg: RegistryFixture;
let img: BuiltImage;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cli-examples-'));
  reg = await startRegistry();
  img = await buildImage(join(tmp, 'build'), 'latest', { layers: [{ busybox: true }, { entries: [{ path: 'app/main.sh', type: 'file', content: 'echo hi\n', mode: 0o755 }] }] });
});
after(async () => {
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

test('the release pipeline converts, pushes and exports', { skip: built ? false : 'needs dist/ctr-remote.mjs: run `npm run build` first' }, async () => {
  // Another `ctr-remote` first on PATH, which fails loudly if the example calls it.
  const impostor = join(tmp, 'impostor');
  await mkdir(impostor);
  await writeFile(join(impostor, 'ctr-remote'), `#!/bin/sh\necho "the ctr-remote on PATH was run: $*" >&2\nexit 97\n`, { mode: 0o755 });
  const { CTR_REMOTE: _, ...inherited } = process.env;
  const env = { ...inherited, PATH: `${impostor}:${process.env['PATH']}`, REGISTRY: reg.host, NAME: 'app', VERSION: '1.0', OUT: join(tmp, 'dist') };
  await promisify(execFile)(join(repo, 'examples', 'release-pipeline.sh'), [`oci:${join(tmp, 'build')}:latest`], { env, cwd: tmp });
  const skopeo = (ref: string) => JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/${ref}`], { encoding: 'utf8' }));
  assert.equal(skopeo('app:1.0-org').layers[0].digest, img.layers[0]!.digest, 'the original image went out unchanged');
  const esgz = skopeo('app:1.0') as { layers: { annotations?: Record<string, string> }[] };
  assert.ok(esgz.layers.every((l) => l.annotations?.['containerd.io/snapshot/stargz/toc.digest']), 'every pushed layer is eStargz');
  const listed = JSON.parse(await readFile(join(tmp, 'dist', 'app-1.0.images.json'), 'utf8')) as ImageSummary[];
  assert.deepEqual(listed.map((i) => i.name), [`${reg.host}/app:1.0`, `${reg.host}/app:1.0-org`]);
  const archive = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${join(tmp, 'dist', 'app-1.0.oci.tar')}:1.0`], { encoding: 'utf8' })) as { Digest: string };
  assert.equal(archive.Digest, listed[0]!.digest);
});
