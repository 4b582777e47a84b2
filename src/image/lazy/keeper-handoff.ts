// rpull's side of the CLI's keeper (layer-keeper.ts): start it (or find it) as an rpull begins, tell it the
// prefetch regions as soon as the TOCs' texts are verified, and hand it the lazy layers once they are
// recorded. Loaded before anything else of rpull, and small (the fuse manager's client, not the layer
// service), so the keeper's ~0.2 s start overlaps the rest of rpull's start-up.
import { chmod, mkdir } from 'node:fs/promises';
import type { PrefetchSpan } from '../../estargz/prefetch-span.js';
import { FuseManagerClient, type ManagerCommand } from '../../service/fuse-manager-client.js';
import type { MountItem } from '../../service/fuse-manager-protocol.js';
import type { RemoteLayerRef } from '../../snapshot/remote-labels.js';
import type { RootLayout } from '../../store/root-layout.js';

/**
 * How long a hint waits for a keeper that is still starting (it answers ~0.15-0.25 s after its spawn; the
 * hint of a small image's first TOC comes about then). Longer, and rpull ends later than the keeper's start.
 */
const HINT_WAIT_MS = 250;

/** Make sure the keeper's mount points lie in a directory only root enters. */
export async function prepareKeptLayers(paths: RootLayout): Promise<void> {
  await mkdir(paths.keptLayers, { recursive: true, mode: 0o700 });
  await chmod(paths.snapshotter, 0o700);
  await chmod(paths.keptLayers, 0o700);
}

/** A client of the root's keeper, the fuse manager program on the CLI's root (nothing is started or connected yet). */
export function keeperClient(paths: RootLayout, command?: ManagerCommand): FuseManagerClient {
  return new FuseManagerClient({ root: paths.dir, warmUp: 'none' }, command);
}

/**
 * rpull's side: the keeper is started (or found) as soon as the handoff is made, while the rpull fetches
 * the manifest and the TOCs; `hint` has it request prefetch regions, `hand` gives it the layers to mount.
 */
export class KeeperHandoff {
  private readonly client: FuseManagerClient;
  /** Settles once the keeper answers (started now when none does). */
  private readonly started: Promise<void>;
  /** And its mount points' directory is ready: what a handoff waits for. */
  private readonly connected: Promise<void>;
  /** Connected: a hint is written at once (the caller goes on to parse a TOC, which holds the event loop). */
  private ready = false;
  private handed = false;
  private closed = false;

  constructor(paths: RootLayout) {
    this.client = keeperClient(paths);
    // started now, before this process goes on loading rpull's modules (the start does nothing asynchronous
    // when no keeper runs); the mount points' directory is ready before anything is handed over
    this.started = this.client.connect();
    this.connected = Promise.all([prepareKeptLayers(paths), this.started]).then(() => undefined);
    this.connected.then(() => (this.ready = true), () => undefined); // hand() reports a failure
  }

  /**
   * Have the keeper request a layer's prefetch region now, before the layer is decided and handed over (a
   * guess from its TOC's text: the mount checks it against the region it names). Settles once the hint is
   * written, or the keeper failed, or after HINT_WAIT_MS without an answer from a keeper still starting: a
   * caller about to parse a large TOC (a root filesystem's holds the event loop for ~0.1 s) awaits it, as a
   * keeper that connects meanwhile would be told only after the parse (and the prefetch region is the
   * longest download of a cold start).
   */
  async hint(layer: RemoteLayerRef, span: PrefetchSpan): Promise<void> {
    if (this.closed) return; // a hint after close would connect again, and start a keeper
    if (this.ready) return this.client.prefetch(layer, span);
    let timer: NodeJS.Timeout | undefined;
    const told = this.connected.then(() => this.client.prefetch(layer, span), () => undefined);
    await Promise.race([told, new Promise<void>((resolve) => (timer = setTimeout(resolve, HINT_WAIT_MS).unref()))]);
    clearTimeout(timer);
  }

  /**
   * Have the keeper serve `items`; its pid. Resolves once the keeper has taken them, before they are mounted:
   * their TOCs are parsed and mounted while the caller ends and `run` starts, whose mount joins the one under
   * way (a layer the keeper fails to mount, `run` serves itself and reports).
   */
  async hand(items: readonly MountItem[]): Promise<number> {
    this.handed = true;
    await this.connected;
    return this.client.hand(items);
  }

  /** Disconnect (the keeper and its mounts stay); a keeper started for nothing (no lazy layer, a failed rpull) that serves nothing ends. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.started; // a keeper started while its directory could not be made still ends below
      const st = !this.handed ? await this.client.status() : undefined;
      if (st && st.served.length === 0 && (st.mounting ?? []).length === 0) await this.client.shutdown(); // another rpull's mounts under way keep it
    } catch {
      // nothing to end, or it ended
    } finally {
      this.client.close();
    }
  }
}
