// Usage errors: a flag value or a combination of flags the command cannot take. They are reported in
// one line like every error but exit 2 (README), so a script can tell "called wrongly" from "failed".
// Values are checked while commander parses (argParser), before any I/O; combinations in the action.
import { InvalidArgumentError } from 'commander';
import { CtrError, isCtrError } from '../errors.js';

/** A usage error found in an action (a flag combination): exit code 2. */
export class UsageError extends CtrError {
  constructor(message: string) {
    super('InvalidArgument', message);
    this.name = 'UsageError';
  }
}

/** A UsageError with `message`. */
export const usageError = (message: string): UsageError => new UsageError(message);

/** True when `e`, or an error it wraps, is a UsageError. */
export function isUsageError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 8; cur = cur.cause, depth++) if (cur instanceof UsageError) return true;
  return false;
}

/**
 * A commander argParser from a parse function: an InvalidArgument it throws becomes commander's
 * invalid-argument error (printed as "option '--x <v>' argument 'bad' is invalid. <why>", exit 2).
 */
export function flagParser<T, P>(parse: (text: string, previous: P) => T): (text: string, previous: P) => T {
  return (text, previous) => {
    try {
      return parse(text, previous);
    } catch (e) {
      if (isCtrError(e, 'InvalidArgument')) throw new InvalidArgumentError(e.message);
      throw e;
    }
  };
}
