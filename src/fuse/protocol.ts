// The FUSE protocol handler: one request Buffer in, one reply Buffer (or nothing) out. It decodes the
// header, dispatches through an opcode table to a RawFileSystem, and encodes the reply. Pure: no I/O here;
// the device loop (device-loop.ts) only moves buffers between /dev/fuse and this class.
// Protocol: https://github.com/torvalds/linux/blob/master/include/uapi/linux/fuse.h and
// https://www.kernel.org/doc/html/latest/filesystems/fuse.html

import {
  FUSE_KERNEL_MINOR_VERSION, FUSE_KERNEL_VERSION, IN_HEADER_SIZE, InitFlag, Opcode,
  OUT_HEADER_SIZE, PAGE_SIZE, decodeInHeader, decodeInitIn, decodeInterruptIn, encodeInitOut, writeOutHeader, type InHeader,
} from './abi.js';
import { Errno, FuseErrno, errnoOf } from './errno.js';
import type { InitInfo, RawFileSystem, RequestContext } from './raw-filesystem.js';
import { DirHandles } from './dir-handles.js';
import { fileOps } from './ops-file.js';
import { dirOps } from './ops-dir.js';
import { xattrOps } from './ops-xattr.js';

/**
 * Largest write the kernel may send; irrelevant for a read-only fs, but the kernel refuses device reads
 * smaller than it (plus headers), and the event-loop reader reads 64 KiB at a time (device-stream.ts).
 */
export const MAX_WRITE = 32 * 1024;
/** A device read buffer that satisfies the kernel's minimum (in header + write_in + max_write). */
export const DEVICE_READ_BUFFER_SIZE = MAX_WRITE + PAGE_SIZE;

/** Tuning of the protocol handler; every field has a default. */
export interface ProtocolOptions {
  /** Name→inode cache timeout when the fs does not choose one. Default 1000 ms. */
  entryTimeoutMs?: number;
  /** Attribute cache timeout when the fs does not choose one. Default 1000 ms. */
  attrTimeoutMs?: number;
  /** Cache ENOENT lookups for this long (an entry with node id 0); 0 disables. Default 0. */
  negativeTimeoutMs?: number;
  /** Largest READ the kernel may send (rounded up to pages, at most 1 MiB). Default 1 MiB. */
  maxReadBytes?: number;
  /**
   * Readdir with attributes: 'always' (every READDIR a READDIRPLUS), 'auto' (the kernel chooses: only a
   * directory's first page gets attributes, and the entries of its later pages are looked up one by one) or
   * 'never'. Default 'always'.
   */
  readdirplus?: 'auto' | 'always' | 'never';
  /**
   * Zero-message open: answer OPEN with ENOSYS when the kernel offers FUSE_NO_OPEN_SUPPORT; it then opens
   * files without asking (keeping their page cache) and sends no RELEASE for them, two round trips less per
   * file. Likewise OPENDIR with FUSE_NO_OPENDIR_SUPPORT: listings are then cached per directory inode (up to
   * 256) instead of per handle. Only for immutable filesystems whose open() and opendir() neither fail nor
   * record anything. Default false.
   */
  noOpen?: boolean;
  /** Requests of the kernel's background queue (async reads) in flight at once. Default 64. */
  maxBackground?: number;
  /** Called for unexpected exceptions in a handler (answered with EIO). Default: one line on stderr. */
  onError?: (error: unknown, op: string) => void;
}

/** A decoded request as handlers see it. */
export interface Request {
  header: InHeader;
  /** The bytes after fuse_in_header (length header.len - 40). */
  body: Buffer;
  ctx: RequestContext;
}

/** A reply payload: the parts written after the out header, or null for "send no reply". */
export type Payload = Buffer[] | null;

/** One row of the opcode table. */
export interface OpcodeEntry {
  name: string;
  run(p: FuseProtocol, req: Request): Promise<Payload> | Payload;
}

/** Answer used by every write operation of a read-only filesystem. */
const readOnly: OpcodeEntry['run'] = () => {
  throw new FuseErrno(Errno.EROFS);
};

/** The settings both sides agreed on at INIT. */
export interface Negotiated {
  minor: number;
  flags: number;
  maxRead: number;
  maxReadahead: number;
}

/** Serves one FUSE connection: call handle() for every request read from /dev/fuse. */
export class FuseProtocol {
  readonly fs: RawFileSystem;
  readonly entryTimeoutMs: number;
  readonly attrTimeoutMs: number;
  readonly negativeTimeoutMs: number;
  readonly maxReadBytes: number;
  /** See ProtocolOptions.noOpen. */
  readonly noOpen: boolean;
  readonly dirs = new DirHandles();
  negotiated: Negotiated | undefined;
  /** Set when DESTROY arrived (the kernel then ends the connection and the readers see ENODEV). */
  destroyed = false;
  private readonly options: ProtocolOptions;
  private readonly inflight = new Map<number, InFlight>();
  private readonly table: ReadonlyMap<number, OpcodeEntry>;

  constructor(fs: RawFileSystem, options: ProtocolOptions = {}) {
    this.fs = fs;
    this.options = options;
    this.entryTimeoutMs = options.entryTimeoutMs ?? 1000;
    this.attrTimeoutMs = options.attrTimeoutMs ?? 1000;
    this.negativeTimeoutMs = options.negativeTimeoutMs ?? 0;
    this.noOpen = options.noOpen ?? false;
    const pages = Math.min(256, Math.max(1, Math.ceil((options.maxReadBytes ?? 1 << 20) / PAGE_SIZE)));
    this.maxReadBytes = pages * PAGE_SIZE;
    this.table = buildTable();
  }

  /** Handle one request; resolves to the reply bytes, or null when the opcode takes no reply. Never rejects. */
  async handle(request: Buffer): Promise<Buffer | null> {
    const parts = await this.handleParts(request);
    return parts === null ? null : Buffer.concat(parts);
  }

  /** Like handle(), but the reply as a list of buffers for writev (avoids copying read data). */
  async handleParts(request: Buffer): Promise<Buffer[] | null> {
    if (request.length < IN_HEADER_SIZE) return null; // cannot even name the request to answer it
    const header = decodeInHeader(request);
    const entry = this.table.get(header.opcode);
    const name = entry?.name ?? `opcode ${header.opcode}`;
    const flight = new InFlight(header.uid, header.gid, header.pid);
    // request extensions (total_extlen, 8-byte units) follow the arguments; none are negotiated, skip any
    const end = Math.min(request.length, header.len) - header.totalExtlen * 8;
    const req: Request = {
      header,
      body: request.subarray(IN_HEADER_SIZE, Math.max(IN_HEADER_SIZE, end)),
      ctx: flight,
    };
    this.inflight.set(header.unique, flight);
    try {
      if (!entry) throw new FuseErrno(Errno.ENOSYS);
      if (!this.negotiated && header.opcode !== Opcode.INIT) throw new FuseErrno(Errno.EIO, 'request before INIT');
      const payload = await entry.run(this, req);
      return payload === null ? null : reply(header.unique, 0, payload);
    } catch (e) {
      const verdict = errnoOf(e);
      if (!verdict.expected) this.reportError(e, name);
      if (header.opcode === Opcode.FORGET || header.opcode === Opcode.BATCH_FORGET) return null;
      return reply(header.unique, -verdict.errno, []);
    } finally {
      this.inflight.delete(header.unique);
    }
  }

  /** True when OPEN/OPENDIR (per `flag`) are to be answered ENOSYS: noOpen set and the kernel agreed. */
  zeroMessage(flag: number): boolean {
    return this.noOpen && ((this.negotiated?.flags ?? 0) & flag) !== 0;
  }

  /** Abort the request with this unique id (INTERRUPT); false when it is not in flight. */
  interrupt(unique: number): boolean {
    const f = this.inflight.get(unique);
    if (!f) return false;
    f.interrupt();
    return true;
  }

  /** Number of requests being handled right now. */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /** INIT: agree on version, flags, read size and readahead. */
  async init(req: Request): Promise<Payload> {
    const k = decodeInitIn(req.body);
    if (k.major < FUSE_KERNEL_VERSION) throw new FuseErrno(Errno.EPROTO, `kernel FUSE ${k.major}.${k.minor} too old`);
    const minor = Math.min(k.minor, FUSE_KERNEL_MINOR_VERSION);
    if (k.major > FUSE_KERNEL_VERSION) return [encodeInitOut(initOut(FUSE_KERNEL_MINOR_VERSION, 0, 0, 0, 0, 0))];
    const flags = this.wantedFlags() & k.flags;
    this.negotiated = { minor, flags, maxRead: this.maxReadBytes, maxReadahead: k.maxReadahead };
    const info: InitInfo = { major: k.major, minor: k.minor, maxReadahead: k.maxReadahead, maxRead: this.maxReadBytes };
    await this.fs.init?.(info);
    const bg = this.options.maxBackground ?? 64;
    const maxPages = this.maxReadBytes / PAGE_SIZE;
    return [encodeInitOut(initOut(minor, k.maxReadahead, flags, bg, maxPages, MAX_WRITE))];
  }

  private wantedFlags(): number {
    const plus = this.options.readdirplus ?? 'always';
    let f = InitFlag.ASYNC_READ | InitFlag.PARALLEL_DIROPS | InitFlag.MAX_PAGES | InitFlag.CACHE_SYMLINKS | InitFlag.INIT_EXT;
    if (plus !== 'never') f |= InitFlag.DO_READDIRPLUS;
    if (this.noOpen) f |= InitFlag.NO_OPEN_SUPPORT | InitFlag.NO_OPENDIR_SUPPORT;
    if (plus === 'auto') f |= InitFlag.READDIRPLUS_AUTO;
    return f;
  }

  private reportError(e: unknown, op: string): void {
    if (this.options.onError) return this.options.onError(e, op);
    const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
    console.error(`ctr-remote fuse: ${op} failed, answered EIO: ${msg}`);
  }
}

function initOut(minor: number, readahead: number, flags: number, bg: number, maxPages: number, maxWrite: number) {
  return {
    major: FUSE_KERNEL_VERSION, minor, maxReadahead: readahead, flags, maxBackground: bg,
    congestionThreshold: Math.floor((bg * 3) / 4), maxWrite, timeGran: 1, maxPages, flags2: 0,
  };
}

/** Prepend a fuse_out_header to the payload parts. */
function reply(unique: number, error: number, payload: Buffer[]): Buffer[] {
  const h = Buffer.allocUnsafe(OUT_HEADER_SIZE);
  let len = OUT_HEADER_SIZE;
  const parts: Buffer[] = [h];
  for (const p of payload) {
    len += p.length;
    // an empty part would cost a write(2) of its own: libuv writes what a writev left over, and the device refuses an empty write
    if (p.length > 0) parts.push(p);
  }
  writeOutHeader(h, { len, error, unique });
  return parts;
}

/** The opcode table: every opcode this server answers, and how. Anything missing is ENOSYS. */
function buildTable(): ReadonlyMap<number, OpcodeEntry> {
  const rows: [number, OpcodeEntry][] = [
    [Opcode.INIT, { name: 'INIT', run: (p, r) => p.init(r) }],
    [Opcode.DESTROY, { name: 'DESTROY', run: destroy }],
    [Opcode.INTERRUPT, { name: 'INTERRUPT', run: interrupt }],
    // nothing to flush on a read-only fs; ENOSYS makes the kernel stop sending FLUSH on every close
    [Opcode.FLUSH, { name: 'FLUSH', run: enosys }],
    ...fileOps(),
    ...dirOps(),
    ...xattrOps(),
  ];
  const writes: [number, string][] = [
    [Opcode.SETATTR, 'SETATTR'], [Opcode.SYMLINK, 'SYMLINK'], [Opcode.MKNOD, 'MKNOD'], [Opcode.MKDIR, 'MKDIR'],
    [Opcode.UNLINK, 'UNLINK'], [Opcode.RMDIR, 'RMDIR'], [Opcode.RENAME, 'RENAME'], [Opcode.LINK, 'LINK'],
    [Opcode.WRITE, 'WRITE'], [Opcode.SETXATTR, 'SETXATTR'], [Opcode.REMOVEXATTR, 'REMOVEXATTR'],
    [Opcode.CREATE, 'CREATE'], [Opcode.FALLOCATE, 'FALLOCATE'], [Opcode.RENAME2, 'RENAME2'],
    [Opcode.COPY_FILE_RANGE, 'COPY_FILE_RANGE'], [Opcode.TMPFILE, 'TMPFILE'],
  ];
  for (const [op, name] of writes) rows.push([op, { name, run: readOnly }]);
  return new Map(rows);
}

function enosys(): never {
  throw new FuseErrno(Errno.ENOSYS);
}

async function destroy(p: FuseProtocol): Promise<Payload> {
  p.destroyed = true;
  await p.fs.destroy?.();
  return [];
}

/**
 * A request being handled: its context for the handler, and what INTERRUPT finds. Its abort signal is made
 * only when the handler asks for it (READ does; a metadata walk sends thousands of requests that never do,
 * and making a signal for each took a tenth of the serving thread's time in a stat walk of a root filesystem).
 */
class InFlight implements RequestContext {
  private controller: AbortController | undefined;
  private interrupted = false;

  constructor(
    readonly uid: number,
    readonly gid: number,
    readonly pid: number,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.interrupted) this.controller.abort();
    }
    return this.controller.signal;
  }

  interrupt(): void {
    this.interrupted = true;
    this.controller?.abort();
  }
}

/**
 * INTERRUPT: abort the target request's signal and send no reply. If the target is not in flight yet (it
 * may still be on its way from another reader), answer EAGAIN so the kernel queues the interrupt again.
 */
function interrupt(p: FuseProtocol, req: Request): Payload {
  if (p.interrupt(decodeInterruptIn(req.body).unique)) return null;
  throw new FuseErrno(Errno.EAGAIN);
}
