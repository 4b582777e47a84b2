// Child process for the fatal-error test: mounts a MemoryFs at argv[2] whose READ answers nothing and
// instead throws from a timer callback (a bug outside every promise chain, as a RangeError thrown inside a
// zlib event callback was), with the CLI's fatal-error handlers installed; prints "ready".
import { installFatalHandlers } from '../../src/cli/fatal-error.js';
import { mountFuse } from '../../src/fuse/mount.js';
import { MemoryFs } from './memory-fs.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: serve-failing-fs.ts DIR');
installFatalHandlers(process.stderr, false);
const fs = new MemoryFs().file('hello', 'hello\n');
fs.read = () => new Promise(() => setTimeout(() => { throw new RangeError('Array buffer allocation failed'); }, 10));
await mountFuse(dir, fs);
process.stdout.write('ready\n');
await new Promise(() => undefined);
