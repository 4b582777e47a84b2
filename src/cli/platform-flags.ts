// --platform and --all-platforms, shared by pull, push and (later) convert.
import type { Command } from 'commander';
import type { CopyOptions } from '../image/copy-image.js';
import { parsePlatform } from '../image/platform.js';

/** Add the platform flags to `cmd`. */
export function addPlatformFlags(cmd: Command): Command {
  return cmd
    .option('--platform <os/arch[/variant]>', 'pull content for this platform (default: this host)')
    .option('--all-platforms', 'copy every platform of a multi-platform image');
}

/** CopyOptions fields from parsed flags. */
export function platformOptions(flags: { platform?: string; allPlatforms?: boolean }): Pick<CopyOptions, 'platform' | 'allPlatforms'> {
  return {
    ...(flags.platform !== undefined ? { platform: parsePlatform(flags.platform) } : {}),
    ...(flags.allPlatforms ? { allPlatforms: true } : {}),
  };
}
