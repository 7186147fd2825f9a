import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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
 * [--layout NAME]... [--source DIR --label NAME]...` (every layout unless some are named). Each layout bundles
 * the layer and every function of a source tree with the construct's esbuild options
 * (infra/constructs/bundle.ts) and one change, and each function's floor (a handler importing only the AWS
 * SDK packages it uses, SDK_CLIENTS) with the same options, so every ratio is a function against a floor
 * bundled its own way. One fresh Node process per cold init, every package once
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
    layout: { type: 'string', multiple: true, default: [] },
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
  /** Cold inits with NODE_COMPILE_CACHE set to a directory of the layout's own, warmed first. */
  compileCache?: boolean;
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
/**
 * What kafkajs costs the functions that publish, and what parts of it would save (diagnostic layouts: a
 * function built this way cannot do everything the deployed one does). kafkajs is CommonJS, which esbuild
 * keeps whole: its entry requires the consumer and the admin with the producer, and its request table every
 * protocol request. `stubbed` replaces a module with an empty one, so neither its code nor its imports are
 * in the layer.
 */
const KAFKAJS_DIR = join(REPO_ROOT, 'node_modules/kafkajs/');
/** The protocol requests only kafkajs's consumer and admin send (the producer sends Produce, Metadata,
 * ApiVersions, InitProducerId, the SASL ones, and the transaction ones we never use). */
const CONSUMER_ADMIN_REQUESTS = [
  'fetch',
  'joinGroup',
  'syncGroup',
  'heartbeat',
  'leaveGroup',
  'offsetCommit',
  'offsetFetch',
  'listGroups',
  'describeGroups',
  'deleteGroups',
  'createTopics',
  'deleteTopics',
  'createPartitions',
  'describeConfigs',
  'alterConfigs',
  'createAcls',
  'describeAcls',
  'deleteAcls',
  'deleteRecords',
  'alterPartitionReassignments',
  'listPartitionReassignments',
  'txnOffsetCommit',
  'addOffsetsToTxn',
  'listOffsets',
];
/** Enough of kafkajs's exports for the layer's modules to import (nothing can connect). */
const KAFKAJS_STUB = `module.exports = { Kafka: class {}, Partitioners: { DefaultPartitioner: () => () => 0 },
  logLevel: {}, CompressionTypes: {}, CompressionCodecs: {}, errorCodes: [] }`;
const stubbed = (name: string, matches: (path: string, importer: string) => boolean): Plugin => ({
  name,
  setup(b) {
    b.onResolve({ filter: /.*/ }, (a) => {
      const path = a.path.startsWith('.') ? resolve(a.resolveDir, a.path) : a.path;
      return matches(path, a.importer) ? { path, namespace: 'stubbed' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'stubbed' }, () => ({ contents: KAFKAJS_STUB, loader: 'js' }));
  },
});
const lazyKafkajsRequires: Plugin = {
  name: 'kafkajs-lazy-requires',
  setup(b) {
    b.onLoad({ filter: /kafkajs\/src\/(index|protocol\/requests\/index)\.js$/ }, async (a) => {
      const code = await readFile(a.path, 'utf8');
      const contents = a.path.endsWith('requests/index.js')
        ? code.replace(/^ {2}(\w+): require\(('[^']+')\),$/gm, '  get $1() { return require($2) },')
        : code.replace(
            /^const (createConsumer|createAdmin) = require\(('[^']+')\)$/gm,
            'const $1 = (o) => require($2)(o)',
          );
      if (contents === code) throw new Error(`kafkajs-lazy-requires: nothing rewritten in ${a.path}`);
      return { contents, loader: 'js' };
    });
  },
};
const inKafkajs = (importer: string) => importer.startsWith(KAFKAJS_DIR);
const consumerOrAdmin = (path: string) => /kafkajs\/src\/(consumer|admin)$/.test(path);
const producerSide = stubbed(
  'producer-side',
  (p, i) =>
    inKafkajs(i) &&
    (consumerOrAdmin(p) ||
      (i.endsWith('protocol/requests/index.js') && CONSUMER_ADMIN_REQUESTS.some((r) => p.endsWith(`/${r}`)))),
);
LAYOUTS.push(
  // The upper bound: no kafkajs at all (the layer's Kafka modules import an empty stub).
  {
    name: 'no-kafkajs',
    options: { plugins: [stubbed('no-kafkajs', (p) => p === 'kafkajs' || p.startsWith('kafkajs/'))] },
    root: REPO_ROOT,
  },
  // kafkajs without its consumer and admin (the health function's admin would not work).
  {
    name: 'kafkajs-no-consumer-admin',
    options: { plugins: [stubbed('no-consumer-admin', (p, i) => inKafkajs(i) && consumerOrAdmin(p))] },
    root: REPO_ROOT,
  },
  // ... and without the requests only they send: the producer side alone.
  {
    name: 'kafkajs-producer-side',
    options: {
      plugins: [producerSide],
    },
    root: REPO_ROOT,
  },
  // kafkajs whole, but its entry requiring the consumer and the admin when first created, and its request
  // table each request's module when first looked up: code kept, its evaluation deferred until used.
  { name: 'kafkajs-lazy-requires', options: { plugins: [lazyKafkajsRequires] }, root: REPO_ROOT },
  // The deployed layout with Node's compile cache (V8 code cache on disk), warmed by one import of each
  // package before the rounds, for the functions and the floors alike.
  { name: 'compile-cache', options: {}, root: REPO_ROOT, compileCache: true },
);
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

interface Target {
  label: string;
  file: string;
  cacheDir?: string;
}

const buildLayout = async (layout: Layout): Promise<Target[]> => {
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
  const targets: Target[] = [];
  const cacheDir = layout.compileCache ? join(dir, 'compile-cache') : undefined;
  for (const name of await functionNames(layout.root)) {
    const file = join(dir, name, 'index.mjs');
    await build({
      ...options,
      entryPoints: [join(layout.root, 'functions', name, 'handler.ts')],
      outfile: file,
      plugins: [...(options.plugins ?? []), sharedFrom(shared, layerDir)],
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
      { label: `${layout.name}|${name}`, file, cacheDir },
      { label: `${layout.name}|floor:${name}`, file: floorFile, cacheDir },
    );
  }
  return targets;
};

const { NODE_COMPILE_CACHE: _, ...inherited } = process.env;
const env = { ...inherited, AWS_REGION: 'eu-west-3', NODE_OPTIONS: '' };

const coldInit = ({ file, cacheDir }: Target): { wall: number; cpu: number } => {
  const script = `const m = await import(${JSON.stringify(pathToFileURL(file).href)});
const wall = performance.now(); const c = process.cpuUsage();
if (typeof m.handler !== 'function') throw new Error('no handler export');
console.log(JSON.stringify({ wall, cpu: (c.user + c.system) / 1000 }));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...env, ...(cacheDir ? { NODE_COMPILE_CACHE: cacheDir } : { NODE_DISABLE_COMPILE_CACHE: '1' }) },
  });
  if (run.status !== 0) throw new Error(`cold init of ${file} failed: ${run.stderr.slice(-1500)}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}');
};

await rm(OUT, { recursive: true, force: true });
const chosen = args.layout.length ? LAYOUTS.filter((l) => args.layout.includes(l.name)) : LAYOUTS;
const targets = (await Promise.all(chosen.map(buildLayout))).flat();
// Fills each compile cache (written when the process exits).
for (const t of targets.filter((t) => t.cacheDir)) coldInit(t);
const samples = new Map(targets.map((t) => [t.label, { wall: [] as number[], cpu: [] as number[] }]));
for (let round = 0; round < RUNS; round++) {
  // Alternate the order, so no package always runs right after the same one.
  for (const t of round % 2 ? [...targets].reverse() : targets) {
    const r = coldInit(t);
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
