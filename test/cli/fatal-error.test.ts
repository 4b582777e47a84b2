// The CLI's last-resort handlers (cli/fatal-error.ts): a bug outside every handler is one line and exit 70
// (with a live FUSE mount: test/fuse/lifecycle.test.ts); a reader that goes away (`| head`) is a quiet end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';

const ROOT = new URL('../..', import.meta.url).pathname;
const script = (body: string) => `import { installFatalHandlers } from './src/cli/fatal-error.ts'; installFatalHandlers(process.stderr, false); ${body}`;

test('output read by `head` that closes early: exit 0 and nothing on stderr, not an EPIPE error', async () => {
  const writer = `node --import tsx --input-type=module -e "${script('for (let i = 0; i < 200; i++) process.stdout.write(Buffer.alloc(1 << 16, 120));')}"`;
  const r = await execa('bash', ['-c', `${writer} | head -c 1 >/dev/null; echo "status=\${PIPESTATUS[0]}" >&2`], { cwd: ROOT, reject: false });
  assert.equal(r.stderr.trim(), 'status=0');
});

test('an exception thrown from a callback: one line naming it, exit 70', async () => {
  const r = await execa('node', ['--import', 'tsx', '--input-type=module', '-e', script("setTimeout(() => { throw new TypeError('x is not a function'); }, 1);")], { cwd: ROOT, reject: false });
  assert.equal(r.exitCode, 70);
  assert.equal(r.stderr.trim(), 'ctr-remote: internal error: x is not a function (run with --debug for details)');
});
