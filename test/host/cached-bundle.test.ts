// loadCachedBundle: a CommonJS bundle run with the code cache a training run wrote, which V8 accepts; a cache
// of another build (another first line, same length: V8 alone would take it) is not used; a damaged cache is
// refused by V8; every time the bundle's own, current code runs. Each load is its own node process, as the
// cache is written when the training process exits.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeCacheFile } from '../../src/host/cached-bundle.js';
import { srcUrl } from '../fixtures/code-cache.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cached-bundle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A bundle whose exports answer `answer` through a few functions (so that the cache holds compiled code). */
function bundleText(build: string, answer: number): string {
  return `/* build ${build} */ const base = 40;\n"use strict";\nfunction add(a, b) { return a + b; }\nfunction twice(f) { return (x) => f(f(x)); }\nmodule.exports = { answer: () => twice((x) => add(x, 1))(base) - 2 + ${answer} - 40, dir: __dirname, req: typeof require('node:path').join };\n`;
}

/** Load `bundle` in a child node: what it says of its code cache, and what the bundle answered. */
function load(bundle: string, writeCache = false): { codeCache: string; answer: number; dir: string; req: string } {
  const script = `
    const { loadCachedBundle } = await import(${srcUrl('host/cached-bundle.ts')});
    const { exports, codeCache } = loadCachedBundle(${JSON.stringify(bundle)}, ${writeCache ? `{ writeCacheTo: ${JSON.stringify(codeCacheFile(bundle))} }` : '{}'});
    console.log(JSON.stringify({ codeCache, answer: exports.answer(), dir: exports.dir, req: exports.req }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { codeCache: string; answer: number; dir: string; req: string };
}

describe('loadCachedBundle', () => {
  const bundle = join(dir, 'tool.cjs');
  test('no cache: compiled from source; the training run writes one, which the next start uses', () => {
    writeFileSync(bundle, bundleText('aaaa', 40));
    const first = load(bundle, true);
    assert.deepEqual(first, { codeCache: 'absent', answer: 40, dir, req: 'function' }, 'CommonJS globals: __dirname and require');
    assert.ok(readFileSync(codeCacheFile(bundle)).subarray(0, 20).toString().startsWith('/* build aaaa */'), 'the cache starts with the stamp of its build');
    assert.deepEqual(load(bundle), { codeCache: 'accepted', answer: 40, dir, req: 'function' });
  });

  test('a cache of another build of the same length is not offered to V8; the new code runs', () => {
    writeFileSync(bundle, bundleText('bbbb', 41)); // same length as 'aaaa', 40: only the stamp tells them apart
    assert.deepEqual(load(bundle), { codeCache: 'stale', answer: 41, dir, req: 'function' });
  });

  test('a damaged cache of this build is refused by V8, and the bundle runs from its source', () => {
    load(bundle, true);
    const file = readFileSync(codeCacheFile(bundle));
    const stamp = file.indexOf(0x0a) + 1;
    for (let i = stamp + 16; i < file.length; i += 7) file[i] = file[i]! ^ 0x5a;
    writeFileSync(codeCacheFile(bundle), file);
    assert.deepEqual(load(bundle), { codeCache: 'rejected', answer: 41, dir, req: 'function' });
  });
});
