// `image convert SRC DST` over names: SRC is a store name, a registry reference (read directly when the
// store lacks it) or `oci:DIR[:TAG]`; DST is a store name or `oci:DIR[:TAG]`. A new oci: directory is
// written into a staging sibling and renamed into place only on success, so a failed conversion leaves
// nothing at DST; into the store, the new blobs are written under a lease and collected when the
// conversion fails (or is interrupted). Spools go to `<root>/tmp` (store/root-layout.ts).
import { readFile, stat } from 'node:fs/promises';
import { invalidArgument } from '../../errors.js';
import type { RegistryOptions } from '../../remote/registry-endpoint.js';
import { LayoutEndpoint } from '../../store/layout-endpoint.js';
import { openLayout } from '../../store/oci-layout.js';
import { writeOrCollect } from '../../store/gc.js';
import { convertImage, type ConvertImageOptions, type ConvertImageResult } from './convert.js';
import { parseRecordFile } from './convert-record.js';
import { openLocation, openStoreImage, parseLocation, sourceMode, type EndpointContext } from '../location.js';
import { writeNewLayout } from './new-layout.js';
import type { Context } from '../context.js';

/** Options of convertLocations: the image options plus registry flags and the record file. */
export interface ConvertLocationsOptions extends Omit<ConvertImageOptions, 'prioritizedFiles'> {
  registry?: RegistryOptions;
  /** `--estargz-record-in`: NDJSON file of accessed paths to prioritize. */
  recordIn?: string;
}

/** Convert SRC into DST (see module comment); returns the result and DST's name as printed. */
export async function convertLocations(ctx: Context, srcText: string, dstText: string, opts: ConvertLocationsOptions): Promise<ConvertImageResult & { name: string }> {
  const prioritizedFiles = opts.recordIn ? parseRecordFile(await readRecord(opts.recordIn), opts.recordIn) : undefined;
  const endpoints: EndpointContext = { context: ctx, ...(opts.registry ? { registry: opts.registry } : {}) };
  const srcLoc = parseLocation(srcText);
  const dstLoc = parseLocation(dstText);
  const src = await openLocation(srcLoc, await sourceMode(srcLoc, endpoints), endpoints);
  try {
    const imageOpts = { tmpDir: ctx.paths.tmp, ...opts, ...(prioritizedFiles ? { prioritizedFiles } : {}) };
    if (dstLoc.kind === 'reference') {
      const dst = await openStoreImage(ctx, dstLoc.name);
      return { ...(await writeOrCollect(dst.layout, () => convertImage(src.endpoint, dst, imageOpts))), name: dstLoc.name };
    }
    const tag = dstLoc.tag ?? 'latest';
    if (await exists(dstLoc.dir)) {
      const dst = new LayoutEndpoint(await openLayout(dstLoc.dir, { create: true }), tag);
      return { ...(await convertImage(src.endpoint, dst, imageOpts)), name: dstLoc.text };
    }
    return { ...(await writeNewLayout(dstLoc.dir, tag, (dst) => convertImage(src.endpoint, dst, imageOpts))), name: dstLoc.text };
  } finally {
    await src.close();
  }
}

async function readRecord(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw invalidArgument(`cannot read record file ${path}: ${(e as Error).message}`, e);
  }
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
