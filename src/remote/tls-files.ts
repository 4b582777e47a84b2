// The TLS settings of one registry host as files (the flags --tlscacert, --tlscert/--tlskey and a
// hosts.toml's `ca` and `client`), read into what Node's TLS takes, with errors that name the file; and what
// a TLS alert from the registry means in words (it refused or wanted our client certificate).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { invalidArgument } from '../errors.js';

/**
 * node:tls, loaded when TLS files are read, not with this module: loading it costs 6-10 ms of every process
 * that loads the registry client, most of which talk to no TLS file (undici loads it itself for https).
 */
const tls = (): typeof import('node:tls') => createRequire(import.meta.url)('node:tls') as typeof import('node:tls');

/** A client certificate: a PEM certificate file and its key file (no key: the certificate file holds the key too). */
export interface ClientCertificate {
  cert: string;
  key?: string;
}

/** TLS files of one host. */
export interface TlsFiles {
  /** `--tlscacert FILE`: a PEM CA bundle trusted in addition to the system roots. */
  tlsCaCert?: string;
  /** More PEM CA files (a hosts.toml `ca`), also in addition to the system roots. */
  tlsCaFiles?: readonly string[];
  /** Client certificates presented when the registry asks for one (`--tlscert/--tlskey`, a hosts.toml `client`). */
  tlsClientCerts?: readonly ClientCertificate[];
}

/** What undici's connector takes from TlsFiles. */
export interface TlsConnectOptions {
  ca?: string[];
  cert?: string[];
  key?: string[];
}

/** Read the files of `files` (throws InvalidArgument naming a file that cannot be read or a key that does not fit its certificate). */
export function readTlsFiles(files: TlsFiles): TlsConnectOptions {
  const out: TlsConnectOptions = {};
  const cas = [
    ...(files.tlsCaCert !== undefined ? [{ path: files.tlsCaCert, what: '--tlscacert' }] : []),
    ...(files.tlsCaFiles ?? []).map((path) => ({ path, what: 'TLS CA file' })),
  ];
  if (cas.length > 0) out.ca = [...tls().rootCertificates, ...cas.map((c) => readPem(c.path, c.what))];
  for (const c of files.tlsClientCerts ?? []) {
    const cert = readPem(c.cert, 'TLS client certificate');
    const key = c.key === undefined ? cert : readPem(c.key, 'TLS client key');
    try {
      tls().createSecureContext({ cert, key });
    } catch (e) {
      const pair = c.key === undefined ? `TLS client certificate ${c.cert} (certificate and key in one file)` : `TLS client certificate ${c.cert} with key ${c.key}`;
      throw invalidArgument(`${pair}: ${certProblem(e)}`, e);
    }
    (out.cert ??= []).push(cert);
    (out.key ??= []).push(key);
  }
  return out;
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw invalidArgument(`cannot read ${what} ${path}: ${(e as Error).message}`, e);
  }
}

function certProblem(e: unknown): string {
  const code = (e as { code?: string }).code ?? '';
  if (/KEY_VALUES_MISMATCH/.test(code)) return 'the key does not belong to the certificate';
  if (/NO_START_LINE|BAD_BASE64|BAD_END_LINE|PEM/.test(code)) return 'not a PEM certificate and key';
  return (e as Error).message;
}

/** True for an error that is a TLS alert the registry sent us (OpenSSL's `ERR_SSL_..._ALERT_...`). */
export function isTlsAlert(e: unknown): e is Error & { code: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^ERR_SSL_.*ALERT/.test(code);
}

/** One line on what a TLS alert from the registry means; `hasClientCert`: we offered a client certificate. */
export function tlsAlertHint(code: string, hasClientCert: boolean): string {
  const clientCertAlert = /BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|HANDSHAKE_FAILURE|ACCESS_DENIED/.test(code);
  if (!clientCertAlert) return `the registry ended the TLS session (${code})`;
  if (!hasClientCert) return `the registry requires a TLS client certificate (${code}); pass --tlscert FILE --tlskey FILE or set client in hosts.toml`;
  return `the registry refused our TLS client certificate (${code}); check --tlscert/--tlskey or the client of hosts.toml`;
}
