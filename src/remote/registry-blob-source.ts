// A lazy layer's BlobSource over a registry blob: each batch of ranges is one multi-range request
// (Repository.blobRanges falls back to a covering range or a full body when the registry wants that, and
// retries transient failures). A registry that refuses the reads for lack of credentials makes every read of
// the layer an I/O error; the user is told so once, in one line naming the registry and what to do.

import { isCtrError } from '../errors.js';
import { credentialsRejected } from './auth.js';
import type { BlobSource } from '../content/blob-source.js';
import type { Repository } from './repository.js';
import type { CredentialSource } from './credential-source.js';

/** Options of registryBlobSource. */
export interface RegistryBlobSourceOptions {
  /** Receives the line saying the registry refuses lazy reads for lack of credentials: once per registry and callback. Default: none. */
  onWarning?: ((line: string) => void) | undefined;
  /** Where the image's credentials were taken from at rpull, for the advice in that line. */
  credentials?: CredentialSource | undefined;
}

/** Registries already warned about, per warning callback (one line per registry per command). */
const warned = new WeakMap<(line: string) => void, Set<string>>();

/** Read ranges of blob `digest` (of `size` bytes) from `repository`. */
export function registryBlobSource(repository: Repository, digest: string, size: number, options: RegistryBlobSourceOptions = {}): BlobSource {
  return {
    size,
    readRanges: async (ranges, readOptions) => {
      try {
        return await repository.blobRanges(digest, ranges, readOptions?.signal);
      } catch (e) {
        if (isCtrError(e, 'Unauthorized')) warnRefused(repository, credentialsRejected(e), options);
        throw e;
      }
    },
    streamRange: async (range, onBytes, readOptions) => {
      try {
        await repository.blobRangeStream(digest, range.offset, range.length, onBytes, readOptions?.signal);
      } catch (e) {
        if (isCtrError(e, 'Unauthorized')) warnRefused(repository, credentialsRejected(e), options);
        throw e;
      }
    },
  };
}

function warnRefused(repository: Repository, rejected: boolean, options: RegistryBlobSourceOptions): void {
  const { onWarning } = options;
  if (!onWarning) return;
  const registry = repository.client.registry;
  const seen = warned.get(onWarning) ?? new Set<string>();
  warned.set(onWarning, seen);
  if (seen.has(registry)) return;
  seen.add(registry);
  onWarning(refusedLine(registry, repository.label, rejected, options.credentials));
}

/** The line telling the user that `registry` refuses lazy reads of `repo` and what to do about it. */
export function refusedLine(registry: string, repo: string, rejected: boolean, source: CredentialSource | undefined): string {
  const head = `registry ${registry} refuses lazy reads of ${repo} (unauthorized): `;
  const tail = '; until then files of its lazy layers fail with I/O errors';
  if (rejected) return `${head}it rejected the credentials given; pass the right ones with -u USER, or docker login ${registry}${tail}`;
  const user = source?.kind === 'user-flag' ? `-u ${source.username} (rpull's password is not stored)` : '-u USER';
  return `${head}credentials are needed; pass ${user} to run or image mount, or docker login ${registry}${tail}`;
}
