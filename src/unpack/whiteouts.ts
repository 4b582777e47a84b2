// OCI whiteouts: ".wh.NAME" hides NAME of the lower layers, ".wh..wh..opq" hides everything the lower layers
// have in its directory. Spec: https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts
// overlayfs spells them as a 0/0 character device and the trusted.overlay.opaque=y xattr:
// https://docs.kernel.org/filesystems/overlayfs.html#whiteouts-and-opaque-directories

/** Prefix of a whiteout file name. */
export const WHITEOUT_PREFIX = '.wh.';
/** Name of the opaque-directory marker. */
export const OPAQUE_MARKER = '.wh..wh..opq';
/** The overlayfs xattr that marks a directory opaque. */
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

/** What a base name means: an ordinary entry, a whiteout of `target`, the opaque marker, or aufs metadata to ignore. */
export function whiteoutKind(base: string): { kind: 'none' } | { kind: 'whiteout'; target: string } | { kind: 'opaque' } | { kind: 'ignore' } {
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: 'none' };
  if (base === OPAQUE_MARKER) return { kind: 'opaque' };
  if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return { kind: 'ignore' }; // .wh..wh.plnk and friends (aufs)
  return { kind: 'whiteout', target: base.slice(WHITEOUT_PREFIX.length) };
}
