// OCI whiteouts: ".wh.NAME" hides NAME of the lower layers, ".wh..wh..opq" hides everything the lower layers
// have in its directory. Shared by unpacking and the TOC filesystem, so both read a layer the same way.
// Spec: https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts
// overlayfs spells them as a 0/0 character device and the trusted.overlay.opaque=y xattr:
// https://docs.kernel.org/filesystems/overlayfs.html#whiteouts-and-opaque-directories
import { invalidArgument } from '../errors.js';

/** Prefix of a whiteout file name. */
export const WHITEOUT_PREFIX = '.wh.';
/** Name of the opaque-directory marker. */
export const OPAQUE_MARKER = '.wh..wh..opq';
/** The overlayfs xattr that marks a directory opaque. */
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

/**
 * True for xattrs that are overlayfs's own metadata (opaque, redirect, origin, metacopy...): never taken
 * from a layer, which could otherwise steer the overlay stacked on it. Opaque directories come from the
 * ".wh..wh..opq" marker only.
 */
export function isOverlayXattr(name: string): boolean {
  return name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.');
}

/** What an entry's base name means. */
export type WhiteoutKind = { kind: 'none' } | { kind: 'whiteout'; target: string } | { kind: 'opaque' } | { kind: 'ignore' };

/**
 * What a base name means: an ordinary entry, a whiteout of `target`, the opaque marker, or aufs metadata
 * (".wh..wh.plnk" and friends) to ignore. A whiteout of "", "." or ".." names no file: InvalidArgument.
 */
export function whiteoutKind(base: string): WhiteoutKind {
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: 'none' };
  if (base === OPAQUE_MARKER) return { kind: 'opaque' };
  if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return { kind: 'ignore' };
  const target = base.slice(WHITEOUT_PREFIX.length);
  if (target === '' || target === '.' || target === '..') throw invalidArgument(`whiteout ${JSON.stringify(base)} names no file`);
  return { kind: 'whiteout', target };
}
