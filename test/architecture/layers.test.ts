// The layering of src/ (docs/ARCHITECTURE.md, "The layers") as a check: every folder has a rank and a
// file may import only from its own folder or a folder of lower rank, so the folder graph is acyclic,
// nothing below image/ imports image/ or cli/, and the READ path (fuse → fs → layer → content/remote)
// crosses each folder once. A new folder, or an import that climbs, fails here with the edge named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, normalize, relative } from 'node:path';

const SRC = join(dirname(new URL(import.meta.url).pathname), '../../src');

/** Folder → rank; a file imports only from lower ranks (or its own folder). `.` is src/ itself (errors.ts). */
const RANK: Record<string, number> = {
  '.': 0,
  oci: 1,
  host: 1,
  tar: 1,
  stats: 1,
  content: 2,
  fuse: 2,
  unpack: 2,
  estargz: 3,
  remote: 3,
  store: 3,
  fs: 4,
  layer: 4,
  runtime: 4,
  snapshot: 4,
  service: 5,
  image: 6,
  cli: 7,
};

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The folder of src/ a path is in (`.` for src/ itself). */
function folderOf(path: string): string {
  const parts = relative(SRC, path).split('/');
  return parts.length > 1 ? (parts[0] as string) : '.';
}

/** Every relative import of src/ as `from → to` folder edges, with the file that makes it. */
async function importEdges(): Promise<{ from: string; to: string; file: string; spec: string }[]> {
  const edges: { from: string; to: string; file: string; spec: string }[] = [];
  for (const file of await sourceFiles(SRC)) {
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const spec = m[1] as string;
      const target = normalize(join(dirname(file), spec));
      if (relative(SRC, target).startsWith('..')) continue; // package.json (the version), not a layer
      edges.push({ from: folderOf(file), to: folderOf(target), file: relative(SRC, file), spec });
    }
  }
  return edges;
}

test('every folder of src/ has a rank', async () => {
  const folders = [...new Set((await sourceFiles(SRC)).map(folderOf))];
  assert.deepEqual(folders.filter((f) => RANK[f] === undefined), [], 'give the new folder a rank here and a place in docs/ARCHITECTURE.md');
});

test('imports only point down: no folder imports one of its own rank or above', async () => {
  const edges = await importEdges();
  assert.ok(edges.length > 500, `the import scan found the imports (${edges.length})`);
  const climbing = edges
    .filter((e) => e.from !== e.to && (RANK[e.to] ?? Infinity) >= (RANK[e.from] ?? -Infinity))
    .map((e) => `${e.file} imports ${e.spec} (${e.from} → ${e.to})`);
  assert.deepEqual(climbing, []);
});

test('the READ path: fuse/ knows no filesystem, fs/ no lazy layer, layer/ no FUSE view and no registry client', async () => {
  const edges = await importEdges();
  const forbidden: [string, string][] = [['fuse', 'fs'], ['fuse', 'layer'], ['fs', 'layer'], ['layer', 'fs'], ['layer', 'fuse'], ['layer', 'remote']];
  const found = edges.filter((e) => forbidden.some(([a, b]) => e.from === a && e.to === b)).map((e) => `${e.file} imports ${e.spec}`);
  assert.deepEqual(found, []);
});
