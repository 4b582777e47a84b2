// Child process for the lifecycle tests: mounts a small MemoryFs at argv[2], prints "ready", serves until killed
// (or, with argv[3] = "exit", calls process.exit(0) right away to exercise the exit hook).

import { mountFuse } from '../../src/fuse/mount.js';
import { MemoryFs } from './memory-fs.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: serve-memory-fs.ts DIR');
const m = await mountFuse(dir, new MemoryFs().file('hello', 'hello\n'));
process.stdout.write('ready\n');
if (process.argv[3] === 'exit') setTimeout(() => process.exit(0), 50);
await m.closed;
process.stdout.write('closed\n');
