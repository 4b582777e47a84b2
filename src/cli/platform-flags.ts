// --platform (every command that picks a platform) and --all-platforms (the copying commands). The value
// is parsed while commander parses, so a malformed platform is a usage error (exit 2), and the two flags
// together are one too. Which manifest a platform selects: image/platform.ts.
import { Option, type Command } from 'commander';
import type { Platform } from '../oci/types.js';
import { parsePlatform } from '../image/platform.js';
import { flagParser } from './usage-error.js';

/** Add `--platform` (parsed to a Platform) to `cmd`, with its own help text. */
export function addPlatformFlag(cmd: Command, description: string): Command {
  return cmd.addOption(new Option('--platform <os/arch[/variant]>', description).argParser(flagParser(parsePlatform)));
}

/** Add --platform and --all-platforms (mutually exclusive) to `cmd`. */
export function addPlatformFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--platform <os/arch[/variant]>', "platform to use from a multi-platform image; a single-platform image must match it (default: this host's)").argParser(flagParser(parsePlatform)).conflicts('allPlatforms'))
    .option('--all-platforms', 'every platform of a multi-platform image');
}

/** The options fields (`platform`, `allPlatforms`) from parsed flags. */
export function platformOptions(flags: { platform?: Platform; allPlatforms?: boolean }): { platform?: Platform; allPlatforms?: boolean } {
  return {
    ...(flags.platform !== undefined ? { platform: flags.platform } : {}),
    ...(flags.allPlatforms ? { allPlatforms: true } : {}),
  };
}
