// Parsing and validating image manifests and indexes (OCI and Docker schema 2) from raw bytes.
// https://github.com/opencontainers/image-spec/blob/main/manifest.md
// https://github.com/opencontainers/image-spec/blob/main/image-index.md
import { invalidArgument, limitExceeded } from '../errors.js';
import { isDigest } from './digest.js';
import { isIndexType, isManifestType } from './media-types.js';
import type { Descriptor, Index, Manifest } from './types.js';

/** Largest manifest or index the tool reads (the limit containerd and distribution use). */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;

/** Largest image config the tool reads into memory. */
export const MAX_CONFIG_SIZE = 8 * 1024 * 1024;

/** A parsed manifest or index, tagged by kind. */
export type ParsedManifest = { kind: 'manifest'; manifest: Manifest } | { kind: 'index'; index: Index };

/** Parse manifest/index bytes described by `desc`; throws InvalidArgument with a clear reason when malformed. */
export function parseManifestJson(bytes: Buffer, desc: Pick<Descriptor, 'digest' | 'mediaType'>): ParsedManifest {
  if (bytes.length > MAX_MANIFEST_SIZE) {
    throw limitExceeded(`manifest ${desc.digest} is ${bytes.length} bytes, over the ${MAX_MANIFEST_SIZE}-byte limit`);
  }
  const bad = (why: string) => invalidArgument(`malformed manifest ${desc.digest}: ${why}`);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw bad(`not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) throw bad('not a JSON object');
  if (json['schemaVersion'] !== 2) throw bad(`schemaVersion is ${JSON.stringify(json['schemaVersion'])}, want 2`);
  const mt = typeof json['mediaType'] === 'string' ? json['mediaType'] : desc.mediaType;
  const looksLikeIndex = Array.isArray(json['manifests']) && !('config' in json);
  if (isIndexType(mt) || (!isManifestType(mt) && looksLikeIndex)) {
    checkDescriptors(json['manifests'], 'manifests', bad);
    return { kind: 'index', index: json as unknown as Index };
  }
  if (!isObject(json['config'])) throw bad('no config descriptor');
  checkDescriptor(json['config'], 'config', bad);
  checkDescriptors(json['layers'], 'layers', bad);
  return { kind: 'manifest', manifest: json as unknown as Manifest };
}

/** The descriptors a manifest or index points at (config first, then layers; or the index's manifests). */
export function childDescriptors(parsed: ParsedManifest): Descriptor[] {
  return parsed.kind === 'index' ? parsed.index.manifests : [parsed.manifest.config, ...parsed.manifest.layers];
}

function checkDescriptors(v: unknown, field: string, bad: (why: string) => Error): void {
  if (!Array.isArray(v)) throw bad(`${field} is not an array`);
  v.forEach((d, i) => checkDescriptor(d, `${field}[${i}]`, bad));
}

function checkDescriptor(d: unknown, field: string, bad: (why: string) => Error): void {
  if (!isObject(d)) throw bad(`${field} is not an object`);
  if (typeof d['mediaType'] !== 'string') throw bad(`${field}.mediaType is missing`);
  if (typeof d['digest'] !== 'string' || !isDigest(d['digest'])) throw bad(`${field}.digest ${JSON.stringify(d['digest'])} is not sha256:<hex>`);
  if (typeof d['size'] !== 'number' || !Number.isSafeInteger(d['size']) || d['size'] < 0) throw bad(`${field}.size is not a non-negative integer`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
