// containerd's filter syntax, as the List RPC receives it (containerd's filters package): a filter is
// selectors joined by ',' that must all match; several filters in one request match when any does.
//   selector  := fieldpath [ ("==" | "!=" | "~=") value ]     (no operator: the field is present)
//   fieldpath := field ("." field)*      field := quoted | [A-Za-z][A-Za-z0-9_]*
//   value     := quoted | a run of characters up to ',' or white space
//   quoted    := "..." | /.../ | |...|   with Go's escapes
// Fields of a snapshot: name, parent, kind (active, view, committed), labels.<key> (the rest of the path
// joined by '.'). Pure. https://github.com/containerd/containerd/blob/main/pkg/filters/parser.go
import { invalidArgument } from '../errors.js';
import type { SnapshotInfo } from './snapshotter.js';

type Operator = '==' | '!=' | '~=' | 'present';

interface Selector {
  fieldpath: string[];
  operator: Operator;
  value: string;
  re?: RegExp;
}

/** A predicate over snapshots from a List request's filters (none: everything). InvalidArgument on bad syntax. */
export function snapshotFilter(filters: readonly string[]): (info: SnapshotInfo) => boolean {
  const parsed = filters.filter((f) => f !== '').map(parseFilter);
  if (parsed.length === 0) return () => true;
  return (info) => parsed.some((selectors) => selectors.every((s) => matches(s, info)));
}

/** The selectors of one filter string. */
export function parseFilter(input: string): Selector[] {
  const p = new Parser(input);
  const out: Selector[] = [];
  for (;;) {
    out.push(p.selector());
    p.skipSpace();
    if (p.done()) return out;
    p.expect(',');
  }
}

function matches(s: Selector, info: SnapshotInfo): boolean {
  const value = fieldOf(info, s.fieldpath);
  switch (s.operator) {
    case 'present':
      return value !== undefined;
    case '==':
      return value !== undefined && value === s.value;
    case '!=':
      return value !== s.value; // containerd: an absent field is "" here
    case '~=':
      return s.re!.test(value ?? '');
  }
}

function fieldOf(info: SnapshotInfo, path: readonly string[]): string | undefined {
  switch (path[0]) {
    case 'name':
      return info.name;
    case 'parent':
      return info.parent ?? '';
    case 'kind':
      return info.kind;
    case 'labels':
      return path.length > 1 ? info.labels[path.slice(1).join('.')] : undefined;
    default:
      return undefined;
  }
}

const QUOTES = new Set(['"', '/', '|']);
const ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

class Parser {
  private pos = 0;
  constructor(private readonly input: string) {}

  done(): boolean {
    return this.pos >= this.input.length;
  }

  skipSpace(): void {
    while (!this.done() && /\s/.test(this.input[this.pos]!)) this.pos++;
  }

  expect(text: string): void {
    this.skipSpace();
    if (!this.input.startsWith(text, this.pos)) this.fail(`expected ${JSON.stringify(text)}`);
    this.pos += text.length;
  }

  selector(): Selector {
    const fieldpath = [this.field()];
    while (this.peek() === '.') {
      this.pos++;
      fieldpath.push(this.field());
    }
    this.skipSpace();
    const op = this.input.slice(this.pos, this.pos + 2);
    if (op !== '==' && op !== '!=' && op !== '~=') return { fieldpath, operator: 'present', value: '' };
    this.pos += 2;
    const value = this.value();
    if (op !== '~=') return { fieldpath, operator: op, value };
    try {
      return { fieldpath, operator: op, value, re: new RegExp(value) };
    } catch (e) {
      return this.fail(`bad regular expression ${JSON.stringify(value)}: ${(e as Error).message}`);
    }
  }

  private field(): string {
    this.skipSpace();
    const c = this.peek();
    if (c !== undefined && QUOTES.has(c)) return this.quoted();
    const m = /^[A-Za-z][A-Za-z0-9_]*/.exec(this.input.slice(this.pos));
    if (!m) return this.fail('expected a field name');
    this.pos += m[0].length;
    return m[0];
  }

  private value(): string {
    this.skipSpace();
    const c = this.peek();
    if (c !== undefined && QUOTES.has(c)) return this.quoted();
    const m = /^[^\s,]+/.exec(this.input.slice(this.pos));
    if (!m) return this.fail('expected a value');
    this.pos += m[0].length;
    return m[0];
  }

  private quoted(): string {
    const quote = this.input[this.pos++]!;
    let out = '';
    for (;;) {
      const c = this.input[this.pos++];
      if (c === undefined) return this.fail('quoted literal not terminated');
      if (c === quote) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.input[this.pos++];
      if (e === undefined) return this.fail('quoted literal not terminated');
      if (e === quote) out += quote;
      else if (ESCAPES[e] !== undefined) out += ESCAPES[e];
      else if (e === 'x' || e === 'u' || e === 'U') out += this.hexEscape(e === 'x' ? 2 : e === 'u' ? 4 : 8);
      else if (/[0-7]/.test(e)) out += this.octalEscape(e);
      else return this.fail(`unknown escape \\${e}`);
    }
  }

  private hexEscape(digits: number): string {
    const hex = this.input.slice(this.pos, this.pos + digits);
    if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex)) return this.fail('bad hex escape');
    this.pos += digits;
    return String.fromCodePoint(parseInt(hex, 16));
  }

  private octalEscape(first: string): string {
    const rest = this.input.slice(this.pos, this.pos + 2);
    if (!/^[0-7]{2}$/.test(rest)) return this.fail('bad octal escape');
    this.pos += 2;
    return String.fromCharCode(parseInt(first + rest, 8));
  }

  private peek(): string | undefined {
    return this.input[this.pos];
  }

  private fail(why: string): never {
    throw invalidArgument(`filter ${JSON.stringify(this.input)}: ${why} at position ${this.pos}`);
  }
}
