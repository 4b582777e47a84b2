// Numeric flag values: every numeric flag of every command is parsed here, while commander parses the
// command line, so a bad value is a usage error (exit 2) naming the flag, the value and the range.
// Only plain decimal numbers are taken: Number() alone would accept '', ' 3', '0x10' and '1e3'.
import { InvalidArgumentError } from 'commander';

const INTEGER = /^\d+$/;
const DECIMAL = /^\d+(?:\.\d+)?$/;

/** An argParser for an integer flag in [min, max]. */
export function intArg([min, max]: [number, number]): (text: string) => number {
  return (text) => {
    const n = INTEGER.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`Expected an integer from ${min} to ${max}`);
    return n;
  };
}

/** An argParser for a number of seconds in [min, max] (decimals allowed). */
export function secondsArg([min, max]: [number, number]): (text: string) => number {
  return (text) => {
    const n = DECIMAL.test(text) ? Number(text) : NaN;
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`Expected a number of seconds from ${min} to ${max}`);
    return n;
  };
}

/** An argParser for a decimal number in [min, max] (`--cpus 1.5`); `unit` names what it counts in the error. */
export function decimalArg([min, max]: [number, number], unit: string): (text: string) => number {
  return (text) => {
    const n = DECIMAL.test(text) ? Number(text) : NaN;
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`Expected a number of ${unit} from ${min} to ${max}`);
    return n;
  };
}
