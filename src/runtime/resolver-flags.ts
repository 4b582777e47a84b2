// The values of the resolver flags (`--dns-nameservers`, `--dns-search-domains`, `--dns-options`,
// `--add-hosts`): comma-separated lists as the reference takes them, each item checked so that a typo is a
// usage error naming it rather than a broken /etc/resolv.conf or /etc/hosts inside the container.
import { isIP } from 'node:net';
import { invalidArgument } from '../errors.js';
import type { ExtraHost } from './etc-files.js';

/** The items of a comma-separated flag value (spaces around items dropped, empty items skipped). */
export function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** `--dns-nameservers`: IP addresses (v4 or v6). */
export function parseNameservers(text: string): string[] {
  return splitList(text).map((ip) => {
    if (isIP(ip) === 0) throw invalidArgument(`nameserver ${JSON.stringify(ip)} is not an IP address`);
    return ip;
  });
}

/** `--dns-search-domains` / `--dns-options`: words without spaces (resolv.conf(5) separates them by spaces). */
export function parseResolverWords(text: string, what: 'search domain' | 'DNS option'): string[] {
  return splitList(text).map((w) => {
    if (/\s|#|;/.test(w)) throw invalidArgument(`${what} ${JSON.stringify(w)} may not contain spaces, '#' or ';'`);
    return w;
  });
}

/** `--add-hosts host:IP[,host:IP...]`: the host is before the first ':', the address after it (so IPv6 works). */
export function parseExtraHosts(text: string): ExtraHost[] {
  return splitList(text).map((item) => {
    const colon = item.indexOf(':');
    const host = colon < 0 ? '' : item.slice(0, colon);
    const ip = colon < 0 ? '' : item.slice(colon + 1);
    if (!/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(host) || isIP(ip) === 0) {
      throw invalidArgument(`--add-hosts ${JSON.stringify(item)}: expected host:IP, e.g. registry.local:10.0.0.5`);
    }
    return { host, ip };
  });
}
