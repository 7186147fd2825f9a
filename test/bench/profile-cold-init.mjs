// Where a cold init's CPU goes: `node test/bench/profile-cold-init.mjs FILE [runs]` imports FILE (a bundled
// handler, e.g. one of .local/bench/lambda-layouts/not-minified/) in `runs` fresh processes under --cpu-prof and
// prints the mean time per process by bucket: V8 compiling the ES modules, GC, Node's own code, each bundle or
// layer chunk file, and, in a build that is not minified, each bundled CommonJS module (esbuild names its
// wrapper after the file; time counts for the innermost one, so a module's requires are listed apart, and
// the lazy compilation of a required module counts for the module requiring it, marked as such).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const file = process.argv[2];
const runs = Number(process.argv[3] ?? 15);
const dir = mkdtempSync(join(tmpdir(), 'cold-init-prof-'));
for (let i = 0; i < runs; i++) {
  const run = spawnSync(
    process.execPath,
    ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', dir, '--input-type=module', '-e'].concat(
      `await import(${JSON.stringify(pathToFileURL(file).href)})`,
    ),
    { env: { ...process.env, AWS_REGION: 'eu-west-3', NODE_OPTIONS: '' }, encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(run.stderr);
}
const CJS_MODULE = /^node_modules\//;
// esbuild's lazy module wrappers (__commonJS, __esm): time in them, not in the module below, is V8 compiling
// the module's function on its first call.
const HELPER = /^__(require|init)\d*$/;
const buckets = new Map();
/** Per package, everything under its CommonJS modules' frames (their requires of Node built-ins too). */
const packages = new Map();
let total = 0;
for (const name of readdirSync(dir)) {
  const profile = JSON.parse(readFileSync(join(dir, name), 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    total += ms;
    const leaf = byId.get(id).callFrame;
    let bucket;
    if (leaf.functionName === 'compileSourceTextModule') bucket = '(V8 compiling ES modules)';
    else if (leaf.functionName.startsWith('(')) bucket = leaf.functionName;
    let inHelper = false;
    for (let at = id; !bucket && at != null; at = parent.get(at)) {
      const { functionName, url } = byId.get(at).callFrame;
      if (HELPER.test(functionName) && !inHelper) inHelper = true;
      else if (CJS_MODULE.test(functionName)) bucket = functionName;
      else if (url.startsWith('file:') && !url.includes('[eval')) bucket = url.split('/').slice(-2).join('/');
      if (bucket && inHelper) bucket = `(compiling a module it requires) ${bucket}`;
    }
    bucket ??= '(Node internals)';
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + ms);
    const inPackages = new Set();
    for (let at = id; at != null; at = parent.get(at)) {
      const { functionName } = byId.get(at).callFrame;
      if (CJS_MODULE.test(functionName)) {
        const parts = functionName.split('/');
        inPackages.add(parts.slice(1, parts[1].startsWith('@') ? 3 : 2).join('/'));
      }
    }
    for (const pkg of inPackages) packages.set(pkg, (packages.get(pkg) ?? 0) + ms);
  });
}
rmSync(dir, { recursive: true, force: true });
console.log(`${runs} processes, ${(total / runs).toFixed(1)} ms sampled each (mean); top buckets:`);
for (const [bucket, ms] of [...buckets].sort((a, b) => b[1] - a[1]).slice(0, 30))
  console.log(`${(ms / runs).toFixed(1).padStart(7)} ms  ${bucket}`);
console.log(
  '\nbundled CommonJS packages: their modules evaluating, compiling what they require, and what they call:',
);
for (const [pkg, ms] of [...packages].sort((a, b) => b[1] - a[1]).slice(0, 8))
  console.log(`${(ms / runs).toFixed(1).padStart(7)} ms  ${pkg}`);
