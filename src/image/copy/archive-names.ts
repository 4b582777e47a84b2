// How images are named inside OCI layout archives, following containerd's `ctr image export/import`:
// `org.opencontainers.image.ref.name` carries the tag (what `skopeo ... oci-archive:FILE:TAG` matches) and
// `io.containerd.image.name` the full name.
import { invalidArgument } from '../../errors.js';
import { Annotation } from '../../oci/media-types.js';
import { parseReference } from '../../remote/reference.js';
import { normalizeName } from '../location.js';

/** Annotation with the full image name in archives written by containerd and by us. */
export const CONTAINERD_IMAGE_NAME = 'io.containerd.image.name';

/** Annotations of an exported image named `name` (a full normalized reference). */
export function archiveAnnotations(name: string): Record<string, string> {
  const ref = parseReference(name);
  return { [CONTAINERD_IMAGE_NAME]: name, [Annotation.RefName]: ref.tag ?? ref.digest ?? 'latest' };
}

/**
 * The store name for an archive entry: its containerd full name, else its ref.name when that is a full
 * reference, else `<baseName>:<ref.name>`. Undefined for unnamed entries.
 */
export function importedName(annotations: Record<string, string> | undefined, baseName?: string): string | undefined {
  const full = annotations?.[CONTAINERD_IMAGE_NAME];
  if (full !== undefined) return normalizeName(full);
  const refName = annotations?.[Annotation.RefName];
  if (refName === undefined) return undefined;
  if (baseName !== undefined) return normalizeName(`${baseName}:${refName}`);
  if (refName.includes('/') || refName.includes(':')) return normalizeName(refName);
  throw invalidArgument(`archive image is named only by tag ${JSON.stringify(refName)}; give --base-name NAME to import it as NAME:${refName}`);
}
