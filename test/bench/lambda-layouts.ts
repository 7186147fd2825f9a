import { spawnSync } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type BuildOptions, build, type Plugin } from 'esbuild';
import { BUNDLE_OPTIONS, REPO_ROOT } from '../../infra/constructs/bundle.ts';
import { BENCH_DIR } from './env.ts';
import { SDK_CLIENTS } from './lambda.ts';
import { median } from './stats.ts';

/**
 * Row 4's layouts side by side: `node --import tsx test/bench/lambda-layouts.ts [--runs 15]
 * [--source DIR --label NAME]...`. Each layout bundles the layer and every function of a source tree with the
 * construct's esbuild options (infra/constructs/bundle.ts) and one change, and each function's floor (a
 * handler importing only the AWS SDK packages it uses, SDK_CLIENTS) with the same options, so every ratio is
 * a function against a floor bundled its own way. One fresh Node process per cold init, every package once
 * per round, rounds interleaved; medians of wall time (process start → handler imported) and of the
 * process's CPU time at that point. `--source DIR` adds another checkout of the repository bundled with its
 * own construct options (e.g. `git archive <commit> | tar -x -C DIR` plus a node_modules link), for a
 * before/after in the same run.
 */
const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    source: { type: 'string', multiple: true, default: [] },
    label: { type: 'string', multiple: true, default: [] },
  },
});
const RUNS = Number(args.runs);
const OUT = join(BENCH_DIR, 'lambda-layouts');

interface Layout {
  name: string;
  /** Overrides of the construct's options, for the layer, the functions and the floors alike. */
  options: BuildOptions;
  root: string;
  /** The construct's options of another source tree (its own infra/constructs/bundle.ts). */
  base?: BuildOptions;
}

const LAYOUTS: Layout[] = [
  { name: 'deployed', options: {}, root: REPO_ROOT },
  // The SDK's CommonJS builds (esbuild's default main field for platform node): kept whole, not tree-shaken.
  { name: 'sdk-commonjs', options: { mainFields: ['main', 'module'] }, root: REPO_ROOT },
  // The SDK from the Lambda runtime (resolved from node_modules here), not bundled.
  { name: 'sdk-from-runtime', options: { external: ['@aws-sdk/*'] }, root: REPO_ROOT },
  { name: 'not-minified', options: { minify: false }, root: REPO_ROOT },
  { name: 'no-keep-names', options: { keepNames: false }, root: REPO_ROOT },
];
for (const [i, root] of args.source.entries()) {
  const bundle = (await import(pathToFileURL(join(resolve(root), 'infra/constructs/bundle.ts')).href)) as {
    BUNDLE_OPTIONS: BuildOptions;
  };
  LAYOUTS.push({
    name: args.label[i] ?? `source-${i + 1}`,
    options: {},
    root: resolve(root),
    base: bundle.BUNDLE_OPTIONS,
  });
}

const layerEntries = async (shared: string): Promise<string[]> =>
  (await readdir(shared, { recursive: true }))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !/(^|\/)(asyncapi|schemas)\//.test(f))
    .map((f) => join(shared, f))
    .sort();

/** Relative imports landing in shared/ become imports of the local layer copy (the construct's rewrite). */
const sharedFrom = (shared: string, layerDir: string): Plugin => ({
  name: 'shared-from-layer',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (a) => {
      const target = resolve(a.resolveDir, a.path);
      if (!target.startsWith(shared + sep)) return undefined;
      const inLayer = relative(shared, target).split(sep).join('/').replace(/\.ts$/, '.js');
      return { path: `${layerDir}/${inLayer}`, external: true };
    });
  },
});

const functionNames = async (root: string): Promise<string[]> =>
  (await readdir(join(root, 'functions'), { withFileTypes: true }))
    .filter((d) => d.isDirectory() && Object.hasOwn(SDK_CLIENTS, d.name))
    .map((d) => d.name)
    .sort();

const buildLayout = async (layout: Layout): Promise<{ label: string; file: string }[]> => {
  const dir = join(OUT, layout.name);
  const shared = join(layout.root, 'shared');
  const options = { ...(layout.base ?? BUNDLE_OPTIONS), ...layout.options };
  const layerDir = join(dir, 'layer');
  await build({
    ...options,
    entryPoints: await layerEntries(shared),
    outbase: shared,
    outdir: layerDir,
    splitting: true,
    chunkNames: '_chunks/[name]-[hash]',
  });
  await writeFile(join(layerDir, 'package.json'), '{ "type": "module" }\n');
  const targets: { label: string; file: string }[] = [];
  for (const name of await functionNames(layout.root)) {
    const file = join(dir, name, 'index.mjs');
    await build({
      ...options,
      entryPoints: [join(layout.root, 'functions', name, 'handler.ts')],
      outfile: file,
      plugins: [sharedFrom(shared, layerDir)],
    });
    const packages = SDK_CLIENTS[name] ?? [];
    const floorSrc = join(dir, 'floor', name, 'handler.mjs');
    await mkdir(join(dir, 'floor', name), { recursive: true });
    await writeFile(
      floorSrc,
      `${packages.map((p, i) => `import * as sdk${i} from '${p}';`).join('\n')}
export const clients = [${packages.map((_, i) => `sdk${i}`).join(', ')}];
export const handler = async () => ({ batchItemFailures: [] });
`,
    );
    const floorFile = join(dir, 'floor', name, 'index.mjs');
    await build({ ...options, entryPoints: [floorSrc], outfile: floorFile });
    targets.push(
      { label: `${layout.name}|${name}`, file },
      { label: `${layout.name}|floor:${name}`, file: floorFile },
    );
  }
  return targets;
};

const coldInit = (file: string): { wall: number; cpu: number } => {
  const script = `const m = await import(${JSON.stringify(pathToFileURL(file).href)});
const wall = performance.now(); const c = process.cpuUsage();
if (typeof m.handler !== 'function') throw new Error('no handler export');
console.log(JSON.stringify({ wall, cpu: (c.user + c.system) / 1000 }));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, AWS_REGION: 'eu-west-3', NODE_OPTIONS: '' },
  });
  if (run.status !== 0) throw new Error(`cold init of ${file} failed: ${run.stderr.slice(-1500)}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}');
};

await rm(OUT, { recursive: true, force: true });
const targets = (await Promise.all(LAYOUTS.map(buildLayout))).flat();
const samples = new Map(targets.map((t) => [t.label, { wall: [] as number[], cpu: [] as number[] }]));
for (let round = 0; round < RUNS; round++) {
  // Alternate the order, so no package always runs right after the same one.
  for (const t of round % 2 ? [...targets].reverse() : targets) {
    const r = coldInit(t.file);
    samples.get(t.label)?.wall.push(r.wall);
    samples.get(t.label)?.cpu.push(r.cpu);
  }
}
const med = (label: string) => {
  const s = samples.get(label) ?? { wall: [], cpu: [] };
  return { wall: median(s.wall), cpu: median(s.cpu) };
};
const rows = [
  `| layout | function | wall ms: function / floor | ratio | CPU ms: function / floor | ratio |`,
  '|---|---|---:|---:|---:|---:|',
];
const results: Record<string, unknown>[] = [];
for (const t of targets.filter((t) => !t.label.includes('|floor:'))) {
  const [layout, name] = t.label.split('|') as [string, string];
  const f = med(t.label);
  const floor = med(`${layout}|floor:${name}`);
  results.push({ layout, name, runs: RUNS, ...f, floorWall: floor.wall, floorCpu: floor.cpu });
  rows.push(
    `| ${layout} | ${name} | ${f.wall.toFixed(0)} / ${floor.wall.toFixed(0)} | ${(f.wall / floor.wall).toFixed(2)}× | ${f.cpu.toFixed(0)} / ${floor.cpu.toFixed(0)} | ${(f.cpu / floor.cpu).toFixed(2)}× |`,
  );
}
await writeFile(join(OUT, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(`\n${RUNS} cold inits per package, interleaved\n\n${rows.join('\n')}\n`);
