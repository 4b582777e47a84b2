// What every use case works in: one root (its layout, store/root-layout.ts) and its image store, opened
// once. The CLI makes one per command (cli/cli-context.ts), the snapshotter service one for its life; use
// cases take it instead of a root path, and pass down only what a layer below needs (its paths, the store).
import { resolve } from 'node:path';
import type { OciLayout } from '../store/oci-layout.js';
import { openStore } from '../store/image-store.js';
import { securePrivateDirs } from '../store/private-dirs.js';
import { RootLayout } from '../store/root-layout.js';

/** One root and what is opened from it, once. */
export class Context {
  /** Where everything lives under the root. */
  readonly paths: RootLayout;
  private secured: Promise<void> | undefined;
  private opened: Promise<OciLayout> | undefined;

  /** The context of the root at `root` (made absolute against the working directory). */
  constructor(root: string) {
    this.paths = new RootLayout(resolve(root));
  }

  /** The root directory. */
  get root(): string {
    return this.paths.dir;
  }

  /** Make the root and its private directories (once): before anything is unpacked or mounted under it. */
  secure(): Promise<void> {
    this.secured ??= securePrivateDirs(this.paths);
    return this.secured;
  }

  /**
   * The image store (opened once; the first opening also removes what dead processes left). `cleanup:
   * false` skips that removal, for prune, which does it itself and reports it; it only matters on the first call.
   */
  store(options: { cleanup?: boolean } = {}): Promise<OciLayout> {
    this.opened ??= openStore(this.paths, options); // which secures the root too
    this.secured ??= this.opened.then(() => undefined);
    return this.opened;
  }
}
