// Helpers for the tar codec tests: feeding buffers as streams, collecting entries, running GNU tar.

import { execFileSync } from 'node:child_process';
import { readTar, type ReadTarOptions } from '../../src/tar/reader.js';
import type { TarHeader } from '../../src/tar/header.js';

/** Yield `buf` in pieces of `size` bytes (1 = byte at a time). */
export async function* chunked(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

export interface Collected {
  header: TarHeader;
  data: Buffer;
  headerOffset: number;
  dataOffset: number;
}

/** Read every entry and its payload. */
export async function collect(source: AsyncIterable<Uint8Array>, opts?: ReadTarOptions): Promise<Collected[]> {
  const out: Collected[] = [];
  for await (const e of readTar(source, opts)) {
    const parts: Buffer[] = [];
    for await (const p of e.body()) parts.push(Buffer.from(p));
    out.push({ header: e.header, data: Buffer.concat(parts), headerOffset: e.headerOffset, dataOffset: e.dataOffset });
  }
  return out;
}

/** Run GNU tar; returns stdout. */
export function gnuTar(args: string[], cwd?: string): string {
  return execFileSync('tar', args, { cwd, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8' } });
}

export const isRoot = process.getuid?.() === 0;
