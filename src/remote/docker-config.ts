// Credentials from the Docker CLI configuration: `$DOCKER_CONFIG/config.json` (default ~/.docker),
// `auths` (base64 user:pass), `credsStore` and per-registry `credHelpers` run as `docker-credential-<x> get`.
// https://docs.docker.com/reference/cli/docker/login/#credential-stores
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { invalidArgument, isCtrError, unauthorized } from '../errors.js';
import { DOCKER_HUB } from './reference.js';

/** A username and secret for one registry. */
export interface Credentials {
  username: string;
  password: string;
}

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

const DOCKER_HUB_KEYS = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];

/** The directory of config.json: the explicit option, else $DOCKER_CONFIG, else ~/.docker. */
export function dockerConfigDir(explicit?: string): string {
  return explicit ?? process.env['DOCKER_CONFIG'] ?? join(homedir(), '.docker');
}

/** Look up credentials for `registry` (as in references: `docker.io`, `host:port`); undefined when none are configured. */
export async function loadDockerCredentials(registry: string, dir?: string, signal?: AbortSignal): Promise<Credentials | undefined> {
  const file = join(dockerConfigDir(dir), 'config.json');
  let cfg: DockerConfigFile;
  try {
    cfg = JSON.parse(await readFile(file, 'utf8')) as DockerConfigFile;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalidArgument(`cannot read docker config ${file}: ${(e as Error).name === 'SyntaxError' ? 'malformed JSON' : (e as Error).message}`);
  }
  const keys = registry === DOCKER_HUB ? DOCKER_HUB_KEYS : [registry, `https://${registry}`, `http://${registry}`];
  const serverUrl = registry === DOCKER_HUB ? DOCKER_HUB_KEYS[0]! : registry;
  const hostHelper = keys.map((k) => cfg.credHelpers?.[k]).find((h) => h !== undefined);
  if (hostHelper) {
    // A helper configured for this very registry must work: its failure is an error.
    const fromHelper = await runCredentialHelper(hostHelper, serverUrl, signal);
    if (fromHelper) return fromHelper;
  } else if (cfg.credsStore) {
    // The default store (often `desktop`, absent on servers) is only a hint: a missing binary falls back to auths.
    const fromStore = await runCredentialHelper(cfg.credsStore, serverUrl, signal).catch((e: unknown) => {
      if (helperMissing(e)) return undefined;
      throw e;
    });
    if (fromStore) return fromStore;
  }
  for (const k of keys) {
    const entry = cfg.auths?.[k];
    if (!entry) continue;
    if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
    if (entry.auth) return decodeAuth(entry.auth, file, k);
  }
  return undefined;
}

function decodeAuth(auth: string, file: string, key: string): Credentials {
  const plain = Buffer.from(auth, 'base64').toString('utf8');
  const colon = plain.indexOf(':');
  if (colon < 0) throw invalidArgument(`docker config ${file}: auths[${JSON.stringify(key)}].auth is not base64 of user:password`);
  return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
}

/** True when `e` says that the credential helper program does not exist (its cause is spawn's ENOENT). */
function helperMissing(e: unknown): boolean {
  return isCtrError(e, 'Unauthorized') && (e.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** Run `docker-credential-<helper> get` with the server URL on stdin; undefined when it has no entry. */
export function runCredentialHelper(helper: string, serverUrl: string, signal?: AbortSignal): Promise<Credentials | undefined> {
  const bin = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = execFile(bin, ['get'], { timeout: 30_000, ...(signal ? { signal } : {}) }, (err, stdout) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return reject(unauthorized(`credential helper ${bin} not found on PATH`, err));
        if (/credentials not found/i.test(stdout)) return resolve(undefined);
        return reject(unauthorized(`credential helper ${bin} failed for ${serverUrl} (exit ${String((err as { code?: unknown }).code)})`));
      }
      try {
        const out = JSON.parse(stdout) as { Username?: string; Secret?: string };
        if (!out.Secret) return resolve(undefined);
        resolve({ username: out.Username ?? '', password: out.Secret });
      } catch {
        reject(unauthorized(`credential helper ${bin} printed malformed JSON for ${serverUrl}`));
      }
    });
    // A helper may exit without reading stdin (a missing program, or one that fails at once): the write
    // then fails with EPIPE, which is not an error of its own; the exit status above decides.
    child.stdin?.on('error', () => {});
    child.stdin?.end(serverUrl);
  });
}
