// `--http-dump`: each request and response of a registry exchange as text (start line and headers, no
// bodies), curl-style (`> ` sent, `< ` received), with secrets replaced by `<redacted>`: the credential
// headers, and the query values of pre-signed URLs (signatures, tokens). Pure.

/** Headers whose values are never shown. */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-registry-auth']);
/** Other names of request headers that carry a credential (hosts.toml `header` tables: X-Api-Key, Private-Token, X-JFrog-Art-Api, ...). */
const SECRET_HEADER_NAME = /token|secret|password|credential|session|api-?key|art-api/i;
/** Query parameters that carry a signature or a credential in pre-signed blob URLs (S3, GCS, Azure, CDN tokens). */
const SECRET_QUERY = /sig|signature|token|credential|secret|password|key|auth|policy/i;

export const REDACTED = '<redacted>';

/** The dump of a request as it is sent. */
export function dumpRequest(method: string, url: URL, headers: Record<string, string>): string {
  const lines = [`> ${method} ${redactedUrl(url)} HTTP/1.1`, `> host: ${url.host}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`> ${k}: ${SECRET_HEADER_NAME.test(k) ? REDACTED : headerShown(k, v)}`);
  return lines.join('\n');
}

/** The dump of a response's status and headers. */
export function dumpResponse(status: number, headers: Record<string, string | string[] | undefined>): string {
  const lines = [`< HTTP/1.1 ${status}`];
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) lines.push(`< ${k}: ${headerShown(k, one)}`);
  }
  return lines.join('\n');
}

function headerShown(name: string, value: string): string {
  const k = name.toLowerCase();
  if (!SECRET_HEADERS.has(k)) return k === 'location' ? redactedLocation(value) : value;
  // the scheme (Basic, Bearer) helps to debug auth and reveals nothing
  const scheme = /^[A-Za-z]+ /.exec(value)?.[0] ?? '';
  return k === 'authorization' || k === 'proxy-authorization' ? `${scheme}${REDACTED}` : REDACTED;
}

/** Path and query of `url` with secret query values redacted. */
function redactedUrl(url: URL): string {
  if (url.search === '') return url.pathname;
  const pairs = url.search.slice(1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    return eq >= 0 && SECRET_QUERY.test(name) ? `${name}=${REDACTED}` : pair;
  });
  return `${url.pathname}?${pairs.join('&')}`;
}

function redactedLocation(value: string): string {
  try {
    const u = new URL(value, 'http://relative.invalid');
    const path = redactedUrl(u);
    return u.host === 'relative.invalid' ? path : `${u.protocol}//${u.host}${path}`;
  } catch {
    return value;
  }
}
