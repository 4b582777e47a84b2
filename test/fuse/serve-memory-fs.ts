// Child process for the lifecycle tests: mounts a small MemoryFs at argv[2], prints "ready", serves until killed.

import { mountFuse } from '../../src/fuse/mount.js';
import { MemoryFs } from './memory-fs.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: serve-memory-fs.ts DIR');
const m = await mountFuse(dir, new MemoryFs().file('hello', 'hello\n'));
process.stdout.write('ready\n');
await m.closed;
process.stdout.write('closed\n');
