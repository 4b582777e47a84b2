// Image references: `[registry[:port]/]repo[:tag][@sha256:hex]`, normalized the way docker/containerd do
// (docker.io default registry, `library/` prefix for one-component Docker Hub names, `latest` tag).
// Grammar: https://github.com/distribution/reference/blob/main/reference.go
import { invalidArgument } from '../errors.js';
import { isDigest } from '../oci/digest.js';

/** A parsed, normalized image reference. */
export interface Reference {
  /** Registry as written by users: `docker.io`, `127.0.0.1:5000`, `localhost`, `ghcr.io`. */
  registry: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  repository: string;
  /** Tag, when given (or `latest` when neither tag nor digest was given). */
  tag?: string;
  /** `sha256:<hex>` when the reference pins a digest. */
  digest?: string;
}

/** The default registry of unqualified references. */
export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_HOST = 'registry-1.docker.io';

const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DOMAIN_RE = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;

/** Parse and normalize an image reference; throws InvalidArgument naming the bad part. */
export function parseReference(ref: string): Reference {
  const bad = (why: string) => invalidArgument(`invalid reference ${JSON.stringify(ref)}: ${why}`);
  if (ref === '' || ref.length > 4096 || /\s/.test(ref)) throw bad('empty or contains whitespace');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw bad(`digest must be sha256:<64 lowercase hex>`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw bad(`tag ${JSON.stringify(tag)} is not valid`);
  }
  const { registry, path } = splitDomain(rest);
  if (!DOMAIN_RE.test(registry)) throw bad(`registry ${JSON.stringify(registry)} is not a valid host[:port]`);
  const repository = registry === DOCKER_HUB && !path.includes('/') ? `library/${path}` : path;
  for (const c of repository.split('/')) {
    if (!COMPONENT_RE.test(c)) throw bad(`repository component ${JSON.stringify(c)} must be lowercase [a-z0-9] separated by . _ __ -`);
  }
  if (repository.length > 255) throw bad('repository name longer than 255 characters');
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

function splitDomain(name: string): { registry: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const isDomain = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['));
  if (!isDomain) return { registry: DOCKER_HUB, path: name };
  const registry = first === 'index.docker.io' ? DOCKER_HUB : first;
  return { registry, path: name.slice(slash + 1) };
}

/** The canonical string of a reference: `registry/repo[:tag][@digest]`. */
export function formatReference(r: Reference): string {
  return `${r.registry}/${r.repository}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

/** What to ask the registry's manifest endpoint for: the digest when pinned, else the tag. */
export function referenceTarget(r: Reference): string {
  return r.digest ?? r.tag ?? 'latest';
}

/** The host[:port] that serves the registry API (`registry-1.docker.io` for docker.io). */
export function registryHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_HOST : registry;
}

/** True for hosts containerd talks to over plain HTTP by default (localhost and loopback addresses). */
export function isLocalHost(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, '').replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
