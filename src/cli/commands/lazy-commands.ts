// The lazy-pulling commands of `image` (issue 4): rpull, mount, unmount, status.
import { mountCommand } from './mount.js';
import { rpullCommand } from './rpull.js';
import { statusCommand } from './status.js';
import { unmountCommand } from './unmount.js';

/** Constructors of the lazy-pulling image subcommands, in help order. */
export const lazyCommands = [rpullCommand, mountCommand, unmountCommand, statusCommand];
