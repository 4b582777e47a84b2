// Chain IDs (image-spec config.md "Layer ChainID"): the identity of a stack of layers, what a snapshotter
// names the committed snapshot of each layer by. ChainID(L0) = DiffID(L0); ChainID(L0..Ln) =
// sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)). Pure.
// https://github.com/opencontainers/image-spec/blob/main/config.md#layer-chainid
import { createHash } from 'node:crypto';

/** The chain IDs of `diffIds` (base first): element i identifies layers 0..i. */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? diffId : `sha256:${createHash('sha256').update(`${prev} ${diffId}`).digest('hex')}`);
  }
  return out;
}
