// The client settings of one host of a registry: the settings every host shares (the command's flags:
// credentials, timeouts, --tlscacert, --tlscert/--tlskey, -k) with the host's own from hosts.toml on top, as
// containerd layers them: its `ca` files are trusted besides --tlscacert, its `client` certificates replace
// the flag's, `skip_verify = true` skips verification, its headers go with every request to it.
import type { ClientOptions } from './client.js';
import type { RegistryHost } from './hosts-config.js';

/** The options of the client of `host`, from `shared` (the flags). */
export function hostClientOptions(host: RegistryHost, shared: ClientOptions): ClientOptions {
  return {
    ...shared,
    // a scheme written in hosts.toml is the scheme; the default origin's follows the flags
    ...(host.schemeGiven ? { plainHttp: host.plainHttp } : {}),
    skipVerify: host.skipVerify || shared.skipVerify === true,
    ...(host.ca.length > 0 ? { tlsCaFiles: [...(shared.tlsCaFiles ?? []), ...host.ca] } : {}),
    ...(host.client.length > 0 ? { tlsClientCerts: host.client } : {}),
    headers: { ...shared.headers, ...host.headers },
  };
}
