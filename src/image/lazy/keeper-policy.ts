// Which commands the CLI's keeper (layer-keeper.ts) serves, and what of their registry flags travels to it.
// Pure: the rpull command decides with it before anything of the keeper is loaded.
import { resolve } from 'node:path';
import type { RegistryOptions } from '../../remote/registry-endpoint.js';
import type { RegistryAccess } from '../../snapshot/remote-labels.js';
import type { LazyImageRecord } from './lazy-record.js';

/** The environment variable that turns the keeper off (`off`, `0` or `false`). */
export const KEEPER_ENV = 'CTR_REMOTE_KEEPER';

/** The options of a command that decide whether its layers may be served by the keeper. */
export interface KeeperFlags {
  registry?: RegistryOptions | undefined;
  noBackgroundFetch?: boolean | undefined;
  cacheMaxBytes?: number | undefined;
  skipContentVerify?: boolean | undefined;
  readAheadBytes?: number | undefined;
  onAccess?: unknown;
}

/** Why the keeper does not serve a command with these flags, or undefined when it may. */
export function whyNoKeeper(flags: KeeperFlags, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const off = env[KEEPER_ENV]?.toLowerCase();
  if (off === 'off' || off === '0' || off === 'false') return `${KEEPER_ENV}=${env[KEEPER_ENV]}`;
  if (process.getuid?.() !== 0) return 'not root';
  const r = flags.registry ?? {};
  if (r.username !== undefined || r.password !== undefined || r.refreshToken !== undefined) return 'registry credentials given on the command line stay in this process';
  if (flags.noBackgroundFetch || flags.cacheMaxBytes !== undefined || flags.skipContentVerify || flags.readAheadBytes !== undefined || flags.onAccess) return 'the layers are served with options of this command';
  return undefined;
}

/** The registry flags that travel with the layers to the keeper (switches and files only). */
export function registryAccess(r: RegistryOptions = {}, credentials?: LazyImageRecord['credentials']): RegistryAccess {
  const dockerConfigDir = r.dockerConfigDir ?? (credentials?.kind === 'docker-config' ? credentials.dir : undefined);
  const picked: RegistryAccess = {
    // paths absolute: the keeper runs from the directory of the rpull that started it, not of this command
    plainHttp: r.plainHttp, skipVerify: r.skipVerify, tlsCaCert: abs(r.tlsCaCert), tlsCert: abs(r.tlsCert), tlsKey: abs(r.tlsKey),
    dockerConfigDir: abs(dockerConfigDir), hostsDir: abs(r.hostsDir), readTimeoutMs: r.readTimeoutMs,
  };
  return Object.fromEntries(Object.entries(picked).filter(([, v]) => v !== undefined && v !== false)) as RegistryAccess;
}

const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(p));
