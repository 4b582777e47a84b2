// Where the registry credentials of a lazily pulled image come from when its layers are read later (run,
// image mount): recorded with the image at rpull, a place to look them up again, never the password itself.
import { resolve } from 'node:path';
import { dockerConfigDir } from './docker-config.js';
import type { RegistryOptions } from './registry-endpoint.js';

/** Where credentials come from: a place to look them up again, never the password itself. */
export type CredentialSource =
  /** `-u USER[:PASS]` at rpull: the password is not kept, so run and image mount need `-u USER` again. */
  | { kind: 'user-flag'; username: string }
  /** The Docker config (config.json `auths`, credential helpers) in this directory, read again at mount time. */
  | { kind: 'docker-config'; dir: string };

/** The credential source of rpull's registry options, to record with the image. */
export function credentialSource(opts: RegistryOptions = {}): CredentialSource {
  if (opts.username !== undefined) return { kind: 'user-flag', username: opts.username };
  return { kind: 'docker-config', dir: resolve(dockerConfigDir(opts.dockerConfigDir)) };
}

/**
 * The registry options for reading the lazy layers of an image rpulled with credentials from `src`: `given` (the flags of run or image mount);
 * without `-u` and without an explicit Docker config (option or $DOCKER_CONFIG), the Docker config the
 * rpull read (so `sudo ctr-remote run` finds the credentials of the user who rpulled).
 */
export function lazyRegistryOptions(src: CredentialSource | undefined, given: RegistryOptions = {}): RegistryOptions {
  if (given.username !== undefined || given.dockerConfigDir !== undefined || process.env['DOCKER_CONFIG'] !== undefined) return given;
  return src?.kind === 'docker-config' ? { ...given, dockerConfigDir: src.dir } : given;
}

