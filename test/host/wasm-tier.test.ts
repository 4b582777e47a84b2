// keepWasmInBaselineTier: after it, the registry client's requests run undici's parser as baseline code only;
// without it, V8 compiles the parser's big function (the largest WebAssembly function the process compiles)
// with TurboFan, on a background thread (the control: it shows that the trace observed here sees TurboFan
// when it runs). V8's per-function compile trace is the evidence. The child waits 2 s before it exits so that
// the control's background compile has ended; the assertion on the flag's side does not depend on that wait.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAIN } from '../cli/cli-harness.js';
import { builtinCache } from '../fixtures/code-cache.js';

const WARMUP = new URL('../../src/service/code-warmup.ts', import.meta.url).href;
const TIER = new URL('../../src/host/wasm-tier.ts', import.meta.url).href;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Body size above which a compiled function is undici's parser (its big function is ~33 KB; tsx's lexer's largest ~1.8 KB). */
const PARSER_MIN_BODY = 10_000;

/** The tiers the largest WebAssembly function (undici's parser) was compiled with, in a V8 compile trace. */
function parserTiers(trace: string): string[] {
  // tsx's own WebAssembly (a module lexer) is compiled before the flag is set: only the parser's function counts
  const compiled = [...trace.matchAll(/Compiled function .*? using (\w+),.*?bodysize (\d+)/g)].map((m) => ({ tier: m[1]!, body: Number(m[2]) }));
  const largest = Math.max(...compiled.map((c) => c.body));
  assert.ok(largest >= PARSER_MIN_BODY, `the parser's compile is in the trace (largest function: ${largest} bytes)`);
  return compiled.filter((c) => c.body === largest).map((c) => c.tier);
}

/** V8's per-function compile trace of a process that makes a few registry requests, the flag set or not. */
function compileTrace(baseline: boolean): { tiers: string[]; ok: boolean } {
  const script = `
    if (${baseline}) (await import(${JSON.stringify(TIER)})).keepWasmInBaselineTier();
    const { warmRegistryCode } = await import(${JSON.stringify(WARMUP)});
    let ok = true;
    for (let i = 0; i < 3; i++) ok = (await warmRegistryCode()).ok && ok;
    console.log('RESULT ' + ok);
    setTimeout(() => process.exit(0), 2000);`;
  const r = spawnSync(process.execPath, ['--trace-wasm-compilation-times', '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, maxBuffer: 1 << 24,
  });
  assert.equal(r.status, 0, r.stderr);
  return { tiers: parserTiers(r.stdout), ok: /RESULT true/.test(r.stdout) };
}

describe('keepWasmInBaselineTier', () => {
  test('the registry client parses with Liftoff code only; without it TurboFan compiles the parser', () => {
    const control = compileTrace(false);
    assert.ok(control.ok, 'the requests succeed');
    assert.ok(control.tiers.includes('TurboFan'), `without the flag V8 optimizes the parser: ${control.tiers.join(', ')}`);
    const kept = compileTrace(true);
    assert.ok(kept.ok, 'the requests succeed with baseline code');
    assert.ok(kept.tiers.length > 0 && kept.tiers.every((t) => t === 'Liftoff'), `the parser as Liftoff code only: ${kept.tiers.join(', ')}`);
  });

  test("the flag waits for the first WebAssembly compile: built-ins loaded before it still come from node's code cache", () => {
    const kept = builtinCache(`(await import(${JSON.stringify(TIER)})).keepWasmInBaselineTier();`);
    assert.equal(kept.cache, 'accepted');
    const atStart = builtinCache(`(await import('node:v8')).setFlagsFromString('--liftoff-only');`);
    assert.equal(atStart.cache, 'rejected', 'control: the flag set at start makes V8 refuse the cache');
  });

  test('the CLI entry keeps it: a fuse manager, which warms its registry client at start, runs the parser as Liftoff code only', async () => {
    const root = mkdtempSync(join(tmpdir(), 'wasm-tier-'));
    // V8 prints its trace through C's stdout, block-buffered into a pipe: line-buffered here (stdbuf), so that
    // nothing of it is still in the buffer when SIGTERM ends the process (a fuse manager without mounts dies
    // of it, and a lost tail once left only tsx's lexer in the trace)
    const child = spawn('stdbuf', ['-oL', process.execPath, '--trace-wasm-compilation-times', '--import', 'tsx', MAIN, 'snapshotter', 'fuse-manager', '--log-level', 'debug', '--settings', JSON.stringify({ root })], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // the warm-up's request is logged when it has been answered; then 2 s for a background compile to end
    for (let i = 0; i < 300 && !/registry code warmed up/.test(err); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 2000));
    child.kill('SIGTERM');
    await exited;
    assert.match(err, /registry code warmed up.*"ok":true/, err);
    const tiers = parserTiers(out);
    assert.ok(tiers.length > 0 && tiers.every((t) => t === 'Liftoff'), `the parser as Liftoff code only: ${tiers.join(', ')}`);
  });
});
