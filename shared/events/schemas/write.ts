import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkCatalog } from './guard.ts';
import { releasedFiles, SCHEMAS_DIR } from './json-schema.ts';

/**
 * `npm run schemas`: releases the catalog's JSON Schemas into schemas/<topic>/v<N>.json, after the
 * compatibility guard (guard.ts) passes; a breaking change is refused and nothing is written. A version the
 * catalog no longer accepts loses its file (retired). test/unit/events/schemas.test.ts fails when the
 * committed files differ from what this would write.
 */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const readReleased = (path: string): string | undefined => {
  const file = join(ROOT, path);
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
};

/** Released files on disk, repository-relative. */
export const filesOnDisk = (): string[] => {
  const dir = join(ROOT, SCHEMAS_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .map((f) => `${SCHEMAS_DIR}/${f.split('\\').join('/')}`)
    .sort();
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const problems = checkCatalog(readReleased);
  if (problems.length > 0) {
    console.error(`Not released: ${problems.length} incompatible change(s)\n${problems.join('\n')}`);
    process.exit(1);
  }
  const files = releasedFiles();
  let written = 0;
  for (const [path, text] of files) {
    if (readReleased(path) === text) continue;
    mkdirSync(dirname(join(ROOT, path)), { recursive: true });
    writeFileSync(join(ROOT, path), text);
    written++;
    console.log(`wrote ${path}`);
  }
  for (const path of filesOnDisk().filter((p) => !files.has(p))) {
    rmSync(join(ROOT, path));
    console.log(`retired ${path}`);
  }
  console.log(`${files.size} released schema(s), ${written} changed`);
}
