// Where images come from and go to. The local store, an `oci:DIR[:TAG]` layout and a registry all
// implement these two capabilities, so that pull, push, import, export and convert are the same copy.
import type { Descriptor } from '../oci/types.js';

/** Progress of one blob during a copy. */
export interface BlobProgress {
  digest: string;
  mediaType: string;
  /** Bytes transferred so far. */
  done: number;
  total: number;
  /** 'skipped' when the sink already had it, 'mounted' for a cross-repository mount. */
  state: 'started' | 'progress' | 'done' | 'skipped' | 'mounted';
}

/** Something images can be read from. */
export interface ImageSource {
  /** Human-readable name for messages ("127.0.0.1:5000/app:1", "oci:/tmp/x:latest", "local app:1"). */
  readonly label: string;
  /** The root descriptor (a manifest or an index) the reference points at. Throws NotFound. */
  resolve(signal?: AbortSignal): Promise<Descriptor>;
  /** The raw bytes of a blob or manifest as an async stream (the caller verifies size and digest). */
  fetch(desc: Descriptor, signal?: AbortSignal): Promise<AsyncIterable<Buffer>>;
}

/** Something images can be written to. Writes are verified and atomic: nothing half-written shows. */
export interface ImageSink {
  readonly label: string;
  /** True when the blob/manifest is already there (push skips it). */
  has(desc: Descriptor, signal?: AbortSignal): Promise<boolean>;
  /**
   * Store a blob or manifest (manifests are recognized by media type). Verifies size and digest of
   * `content` against `desc`; throws DigestMismatch without making anything visible.
   */
  put(desc: Descriptor, content: AsyncIterable<Buffer>, signal?: AbortSignal): Promise<void>;
  /** Point the sink's name/tag at `desc`, whose bytes (a manifest or index) are `bytes`. */
  tag(desc: Descriptor, bytes: Buffer, signal?: AbortSignal): Promise<void>;
}

/** What a verifying sink found for a blob: intact (skip it), absent, or a corrupt copy it removed (and why). */
export type ExistingBlob = 'intact' | 'absent' | { corrupt: string };

/**
 * Optional sink capability (the local store and oci: layouts): check a blob that is already there by
 * hashing it, and remove it when corrupt so that the copy replaces it. Found by `hasVerifiedCheck`.
 */
export interface VerifyingSink {
  checkExisting(desc: Descriptor, signal?: AbortSignal): Promise<ExistingBlob>;
}

/** True when `sink` can check existing blobs (see VerifyingSink). */
export function hasVerifiedCheck(sink: ImageSink): sink is ImageSink & VerifyingSink {
  return typeof (sink as Partial<VerifyingSink>).checkExisting === 'function';
}
