// Image labels (`images label`, `pull --label`): containerd keeps them on its image record; here they are the
// annotations of the image's index.json entry (the record of a name in an OCI layout), beside the ref.name
// annotation that is the name itself. A tag copies them with the name, a new pull of the name replaces them.
import { invalidArgument } from '../../errors.js';
import { Annotation } from '../../oci/media-types.js';
import { MAX_LABEL_BYTES } from '../../snapshot/snapshotter.js';
import type { Context } from '../context.js';
import { normalizeName } from '../location.js';

/** Throw InvalidArgument for a label this store cannot keep: an empty key, the name's own key, over the size limit. */
export function checkImageLabels(labels: Record<string, string>): void {
  for (const [k, v] of Object.entries(labels)) {
    if (k === '') throw invalidArgument('a label needs a key');
    if (k === Annotation.RefName) throw invalidArgument(`label ${k} is the image's name; use image tag to rename`);
    if (Buffer.byteLength(k) + Buffer.byteLength(v) > MAX_LABEL_BYTES) throw invalidArgument(`label ${k} is over ${MAX_LABEL_BYTES} bytes (key and value)`);
  }
}

/** Options of labelImage. */
export interface LabelImageOptions {
  /** Drop the labels not given (default false: keep them). */
  replaceAll?: boolean;
  signal?: AbortSignal;
}

/** Set `labels` on the image `ref` (an empty value removes that label); returns all its labels after. NotFound. */
export async function labelImage(ctx: Context, ref: string, labels: Record<string, string>, options: LabelImageOptions = {}): Promise<Record<string, string>> {
  checkImageLabels(labels);
  const name = normalizeName(ref);
  const store = await ctx.store();
  await store.get(name); // NotFound before taking the lock
  let after: Record<string, string> = {};
  await store.updateIndex((index) => {
    const manifests = index.manifests.map((d) => {
      const annotations = d.annotations ?? {};
      if (annotations[Annotation.RefName] !== name) return d;
      const kept = options.replaceAll ? {} : withoutName(annotations);
      after = Object.fromEntries(Object.entries({ ...kept, ...labels }).filter(([, v]) => v !== ''));
      return { ...d, annotations: { ...after, [Annotation.RefName]: name } };
    });
    return { ...index, manifests };
  }, options.signal ? { signal: options.signal } : {});
  return after;
}

/** The labels of an index.json entry's annotations (all but the name). */
export function withoutName(annotations: Record<string, string> | undefined): Record<string, string> {
  const { [Annotation.RefName]: _name, ...labels } = annotations ?? {};
  return labels;
}
