// Parsing of WWW-Authenticate challenges (RFC 9110 §11.6.1), as sent by registries:
// `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:x:pull"`.
// https://distribution.github.io/distribution/spec/auth/token/

/** One challenge: its scheme (lowercased) and parameters (keys lowercased). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parse a WWW-Authenticate header value into challenges; tolerant of odd spacing, never throws. */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipWs = () => {
    while (i < s.length && /[\s,]/.test(s[i] ?? '')) i++;
  };
  const token = () => {
    const m = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(s.slice(i));
    if (!m) return '';
    i += m[0].length;
    return m[0];
  };
  while (i < s.length) {
    skipWs();
    const scheme = token();
    if (!scheme) break;
    const ch: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(ch);
    for (;;) {
      while (i < s.length && /[\s]/.test(s[i] ?? '')) i++;
      const save = i;
      const key = token();
      while (i < s.length && s[i] === ' ') i++;
      if (!key || s[i] !== '=') {
        i = save;
        break;
      }
      i++;
      while (i < s.length && s[i] === ' ') i++;
      ch.params[key.toLowerCase()] = readValue();
      while (i < s.length && /[\s]/.test(s[i] ?? '')) i++;
      if (s[i] === ',') i++;
      else break;
    }
  }
  return out;

  function readValue(): string {
    if (s[i] !== '"') return token();
    i++;
    let v = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\') i++;
      v += s[i] ?? '';
      i++;
    }
    i++;
    return v;
  }
}
