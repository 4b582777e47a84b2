// The CRI keychain: registry credentials kubelet passed in PullImage, kept per repository so that the lazy
// reads of that image's layers use them. Persisted (0600, atomically replaced) under the service's root, so
// a restart of the service or of its fuse manager can still read private layers (the reference keeps them
// in memory and loses them). Never logged.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../host/atomic-file.js';
import { parseReference } from '../remote/reference.js';
import type { RootLayout } from '../store/root-layout.js';

/** User and password for a repository. */
export interface Credentials {
  username: string;
  password: string;
}

/** The keychain file of a root. */
export const keychainFile = (paths: RootLayout): string => join(paths.snapshotter, 'cri-credentials.json');

/** `registry/repository` of an image reference: what credentials are kept by. */
function keyOf(ref: string): string | undefined {
  try {
    const r = parseReference(ref);
    return `${r.registry}/${r.repository}`;
  } catch {
    return undefined;
  }
}

/** The credentials kept in a keychain file. */
export class CriKeychain {
  private chain: Promise<void> = Promise.resolve();
  constructor(readonly file: string) {}

  /** Keep `creds` for the repository of `image` (replacing older ones). */
  remember(image: string, creds: Credentials): Promise<void> {
    const key = keyOf(image);
    if (!key) return Promise.resolve();
    // one write at a time, each over the latest document
    this.chain = this.chain.then(async () => {
      const all = await this.read();
      if (all[key]?.username === creds.username && all[key]?.password === creds.password) return;
      all[key] = creds;
      await writeFileAtomic(this.file, `${JSON.stringify(all)}\n`, { mode: 0o600 });
    });
    return this.chain;
  }

  /** The credentials kept for the repository of `ref`, if any. */
  async lookup(ref: string): Promise<Credentials | undefined> {
    const key = keyOf(ref);
    return key ? (await this.read())[key] : undefined;
  }

  private async read(): Promise<Record<string, Credentials>> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as Record<string, Credentials>;
    } catch {
      return {};
    }
  }
}
