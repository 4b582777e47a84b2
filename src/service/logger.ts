// The service's log: one JSON object per line on stderr, with the reference daemon's shape (logrus' JSON
// formatter: "level", "msg", "time", then fields), so log shippers configured for containerd-stargz-grpc
// read it unchanged. Levels below the configured one are dropped.
import type { Writable } from 'node:stream';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** The levels `--log-level` accepts (the reference's names; "warning" and "fatal"/"panic" map to ours). */
export function parseLogLevel(name: string): LogLevel | undefined {
  const n = name.toLowerCase();
  if (n === 'trace') return 'debug';
  if (n === 'warning') return 'warn';
  if (n === 'fatal' || n === 'panic') return 'error';
  return n in RANK ? (n as LogLevel) : undefined;
}

/** The logger of a `--log-level` name (info when absent or unknown) writing to `out` (default stderr). */
export function loggerFor(level: string | undefined, out?: Pick<Writable, 'write'>): Logger {
  return new Logger(parseLogLevel(level ?? 'info') ?? 'info', out ?? process.stderr);
}

/** Fields of one log line. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** A leveled JSON-lines logger. */
export class Logger {
  constructor(
    private readonly level: LogLevel = 'info',
    private readonly out: Pick<Writable, 'write'> = process.stderr,
  ) {}

  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.level];
  }

  log(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    const line: Record<string, unknown> = { level: level === 'warn' ? 'warning' : level, msg, time: new Date().toISOString() };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) line[k] = v;
    this.out.write(`${JSON.stringify(line)}\n`);
  }

  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }
}
