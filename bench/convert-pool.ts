// Micro-benchmark of the compression pool: the same 4 MiB members (half random, half text) compressed at
// level 9 with 1 worker thread, 2 worker threads and libuv's threadpool (workers: 0), alternating, median
// of 3. Prints markdown table rows.
//   node --import tsx bench/convert-pool.ts [--mb 96]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { GzipPool } from '../src/estargz/gzip-pool.js';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '96' } } });
const members: Buffer[] = [];
for (let i = 0; i < Number(values.mb) / 4; i++) {
  members.push(i % 2 ? randomBytes(4 << 20) : Buffer.from(Array.from({ length: 700_000 }, (_, j) => `w${(j * 7919 + i) % 5000} `).join('')).subarray(0, 4 << 20));
}

async function once(workers: number): Promise<number> {
  const pool = new GzipPool({ workers, level: 9 });
  try {
    await Promise.all([pool.compress(Buffer.alloc(1)), pool.compress(Buffer.alloc(1))]); // start-up excluded
    const t0 = process.hrtime.bigint();
    await Promise.all(members.map((m) => pool.compress(m)));
    return Number(process.hrtime.bigint() - t0) / 1e9;
  } finally {
    await pool.close();
  }
}

const times: Record<number, number[]> = { 0: [], 1: [], 2: [] };
for (let r = 0; r < 3; r++) for (const w of [1, 2, 0]) times[w]!.push(await once(w));
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[1] as number;
const mb = members.reduce((n, m) => n + m.length, 0) / 1e6;
console.log(`| compressor | median s | MB/s |\n|---|---|---|`);
for (const w of [1, 2, 0]) console.log(`| ${w === 0 ? 'threadpool (async zlib)' : `${w} worker${w > 1 ? 's' : ''}`} | ${med(times[w]!).toFixed(2)} | ${(mb / med(times[w]!)).toFixed(1)} |`);
console.log(`\nspeed-up over 1 worker: 2 workers ${(med(times[1]!) / med(times[2]!)).toFixed(2)}x, threadpool ${(med(times[1]!) / med(times[0]!)).toFixed(2)}x (load average ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`);
