// SRC/DST arguments of image commands: `oci:DIR[:TAG]` names an OCI image layout on disk (as written by
// skopeo or BuildKit's `type=oci`); anything else is an image reference, which a command treats as a
// name in the local store or as a registry location depending on what it does (pull: registry → store,
// push: store → registry, convert: the store when it has the name, else the registry).
import { resolve as resolvePath } from 'node:path';
import { invalidArgument, notFound } from '../errors.js';
import { formatReference, parseReference } from '../remote/reference.js';
import { openRegistryWithHosts, type RegistryEndpoint, type RegistryOptions } from '../remote/registry-endpoint.js';
import type { Context } from './context.js';
import { LayoutEndpoint, type LayoutEndpointOptions } from '../store/layout-endpoint.js';
import { openLayout } from '../store/oci-layout.js';

/** A parsed SRC/DST argument. */
export type Location =
  | { kind: 'layout'; text: string; dir: string; tag?: string }
  | { kind: 'reference'; text: string; /** Full normalized reference, e.g. docker.io/library/busybox:latest. */ name: string };

const OCI_PREFIX = 'oci:';

/** Parse `oci:DIR[:TAG]` (split at the first ':' after the prefix, like skopeo) or a reference. */
export function parseLocation(text: string): Location {
  if (!text.startsWith(OCI_PREFIX)) return { kind: 'reference', text, name: normalizeName(text) };
  const rest = text.slice(OCI_PREFIX.length);
  const colon = rest.indexOf(':');
  const dir = colon < 0 ? rest : rest.slice(0, colon);
  const tag = colon < 0 ? undefined : rest.slice(colon + 1);
  if (dir === '') throw invalidArgument(`invalid location ${JSON.stringify(text)}: missing directory after oci:`);
  if (tag !== undefined && !/^[\w][\w.-]{0,127}$/.test(tag) && !isFullName(tag)) {
    throw invalidArgument(`invalid location ${JSON.stringify(text)}: bad tag ${JSON.stringify(tag)}`);
  }
  return { kind: 'layout', text, dir: resolvePath(dir), ...(tag ? { tag } : {}) };
}

/** The store name of a reference: its full normalized form (`busybox` → `docker.io/library/busybox:latest`). */
export function normalizeName(ref: string): string {
  return formatReference(parseReference(ref));
}

function isFullName(s: string): boolean {
  try {
    parseReference(s);
    return true;
  } catch {
    return false;
  }
}

/** How a reference location is opened. */
export type ReferenceMode = 'store' | 'registry';

/** What opening endpoints needs: the root (its store) and registry flags. */
export interface EndpointContext {
  context: Context;
  registry?: RegistryOptions;
}

/** An opened endpoint and how to release it. */
export interface OpenedEndpoint {
  endpoint: LayoutEndpoint | RegistryEndpoint;
  close(): Promise<void>;
}

/** Open `loc` as an endpoint; `create` makes a missing oci: layout (for destinations). */
export async function openLocation(loc: Location, mode: ReferenceMode, ctx: EndpointContext, create = false): Promise<OpenedEndpoint> {
  if (loc.kind === 'layout') {
    const layout = await openLayout(loc.dir, { create });
    return { endpoint: new LayoutEndpoint(layout, create ? (loc.tag ?? 'latest') : loc.tag), close: async () => {} };
  }
  if (mode === 'registry') {
    const endpoint = await openRegistryWithHosts(loc.name, ctx.registry ?? {});
    return { endpoint, close: () => endpoint.close() };
  }
  return { endpoint: await openStoreImage(ctx.context, loc.name), close: async () => {} };
}

/** The image `name` (full normalized reference) in the store. */
export async function openStoreImage(ctx: Context, name: string, options: Omit<LayoutEndpointOptions, 'label'> = {}): Promise<LayoutEndpoint> {
  return new LayoutEndpoint(await ctx.store(), name, { label: name, ...options });
}

/**
 * `auto` mode for sources (convert, optimize): the store when it holds the name, else the registry, but
 * only when the text names a registry host: a mistyped local name must not turn into a Docker Hub pull.
 */
export async function sourceMode(loc: Location, ctx: EndpointContext): Promise<ReferenceMode> {
  if (loc.kind === 'layout') return 'store';
  const store = await ctx.context.store();
  if (await store.find(loc.name)) return 'store';
  if (!namesRegistryHost(loc.text)) throw notFound(`no local image ${loc.text}; to use a registry write its host (e.g. ${loc.name})`);
  return 'registry';
}

/** True when a reference's text starts with a registry host (`host.domain/`, `host:port/`, `localhost/`), as Docker decides. */
export function namesRegistryHost(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash < 0) return false;
  const first = text.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost';
}
