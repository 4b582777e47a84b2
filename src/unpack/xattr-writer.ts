// Setting extended attributes from Node, which has no xattr API: a python3 coprocess (os.setxattr, on
// Debian's /usr/bin/python3) started on first use and fed one JSON request per line. Chosen over
// dropping xattrs (security.capability and overlay opaque markers matter) and over native addons (no new
// dependencies allowed); one process per unpack keeps the cost at one spawn, not one per attribute.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { unpackError } from './unpack-error.js';

const SCRIPT = `
import os, sys, json, base64
for line in sys.stdin:
    r = json.loads(line)
    try:
        os.setxattr(r["p"], r["n"], base64.b64decode(r["v"]), follow_symlinks=False)
        out = "ok"
    except OSError as e:
        out = "err " + (e.strerror or str(e)).replace("\\n", " ")
    sys.stdout.write(out + "\\n")
    sys.stdout.flush()
`;

/** Sets xattrs (never following symlinks) through one long-lived python3 process. */
export class XattrWriter {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly waiting: ((line: string) => void)[] = [];
  private failure: Error | undefined;

  /** Set `name` on `path`; resolves to an error string when the filesystem refuses (EPERM, ENOTSUP). */
  async set(path: string, name: string, value: Buffer): Promise<string | undefined> {
    const child = this.start();
    const reply = new Promise<string>((resolve) => this.waiting.push(resolve));
    child.stdin.write(`${JSON.stringify({ p: path, n: name, v: value.toString('base64') })}\n`);
    const line = await reply;
    if (this.failure) throw this.failure;
    return line === 'ok' ? undefined : line.replace(/^err /, '');
  }

  /** End the coprocess. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const exited = new Promise((resolve) => child.once('close', resolve));
    child.stdin.end();
    await exited;
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.failure) throw this.failure;
    if (this.child) return this.child;
    const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
    const child = spawn(python, ['-c', SCRIPT], { stdio: 'pipe' });
    createInterface({ input: child.stdout }).on('line', (line) => this.waiting.shift()?.(line));
    const fail = (why: string) => {
      this.failure ??= unpackError('Unsupported', `cannot set xattrs: ${why} (python3 with os.setxattr is needed)`);
      for (const w of this.waiting.splice(0)) w('err');
    };
    child.on('error', (e) => fail(e.message));
    child.on('close', (code) => this.child === child && fail(`python3 exited with ${code}`));
    child.stdin.on('error', (e) => fail(e.message));
    this.child = child;
    return child;
  }
}
