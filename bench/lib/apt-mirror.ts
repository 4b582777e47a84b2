// The Debian mirror apt is configured with on this machine (deb822 `.sources` or one-line `sources.list`),
// so debootstrap fetches from the same place apt does.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The first `deb` URI serving `suite` in /etc/apt (default http://deb.debian.org/debian when none is found). */
export function aptMirror(suite: string, etcApt = '/etc/apt'): string {
  const files = [join(etcApt, 'sources.list')];
  const dir = join(etcApt, 'sources.list.d');
  if (existsSync(dir)) files.push(...readdirSync(dir).filter((f) => /\.(list|sources)$/.test(f)).map((f) => join(dir, f)));
  for (const f of files.filter(existsSync)) {
    const text = readFileSync(f, 'utf8');
    const found = f.endsWith('.sources') ? fromDeb822(text, suite) : fromOneLine(text, suite);
    if (found) return found;
  }
  return 'http://deb.debian.org/debian';
}

function fromDeb822(text: string, suite: string): string | undefined {
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
    if (!field('Types').includes('deb') || !field('Suites').includes(suite)) continue;
    const uri = field('URIs')[0];
    if (uri) return uri;
  }
  return undefined;
}

function fromOneLine(text: string, suite: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
    if (m && m[2] === suite) return m[1];
  }
  return undefined;
}
