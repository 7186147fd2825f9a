import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BundlingOptions } from 'aws-cdk-lib';
import { build } from 'esbuild';
import {
  BUNDLE_OPTIONS,
  functionBundler,
  LAYER_MOUNT,
  LAYER_PACKAGE,
  layerBundler,
  layerEntryPoints,
  REPO_ROOT,
  SHARED_DIR,
} from '../../infra/constructs/bundle.ts';
import { BENCH_DIR, NODE_BIN } from './env.ts';
import { median } from './stats.ts';

/**
 * Row 4: the Lambda packages. Each function is bundled exactly as the CDK construct bundles it
 * (infra/constructs/bundle.ts: esbuild, node24, ESM, minified, shared/ left to the layer, the AWS SDK
 * bundled and tree-shaken into whichever of the layer and the function imports it) — the "deployed" size —
 * and once more minified with the SDK left external. The layer likewise. Cold init runs the deployed
 * build: a fresh Node process imports the handler, with the layer's absolute /opt/nodejs/... imports
 * pointed at a local copy of the layer; median of `runs` processes, interleaved with a bare handler and each
 * function's floor, both bundled with the same options.
 */
const OUT = join(BENCH_DIR, 'lambda');
const DUMMY_BUNDLING = {} as BundlingOptions;

/** Minified like the construct, but with the AWS SDK left external and no keepNames: the size column "minified". */
const MINIFIED = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  external: ['@aws-sdk/*'],
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  legalComments: 'none',
  logLevel: 'error',
  minify: true,
} as const;

export interface PackageSize {
  name: string;
  deployedBytes: number;
  minifiedBytes: number;
}

export interface ColdInit {
  name: string;
  runs: number;
  /** Process start → handler module imported (performance.now() at that point), median. */
  initMs: number;
  /** The import alone, median. */
  importMs: number;
  /**
   * CPU time of the process (user + system) at that point, median: less moved than wall time by whatever
   * else the machine runs, so the steadier figure for ratios on a shared machine.
   */
  cpuMs?: number;
}

export interface LambdaResult {
  functions: PackageSize[];
  layer: PackageSize;
  coldInit: ColdInit[];
  bare: ColdInit;
  /** Per function, its floor: a handler bundled the same way that imports only the AWS SDK clients it uses. */
  floors?: ColdInit[];
}

/**
 * The AWS SDK packages each function's code imports (functions/<name>/ and the parts of shared/ it uses):
 * what its floor handler imports and nothing else. A function not listed has no floor.
 */
export const SDK_CLIENTS: Record<string, string[]> = {
  audit: ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb'],
  'consultation-drafts': ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb'],
  notification: ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb', '@aws-sdk/client-sesv2'],
  health: ['@aws-sdk/client-cloudwatch', '@aws-sdk/client-lambda'],
};

/**
 * A floor handler: imports the packages (kept alive by the export) and answers, bundled with the construct's
 * options (the SDK bundled, as in the deployed functions; `import *` keeps each package whole).
 */
const floorBundle = async (name: string, packages: string[]): Promise<string> => {
  const dir = join(OUT, 'floor', name);
  await mkdir(dir, { recursive: true });
  const src = join(dir, 'handler.mjs');
  await writeFile(
    src,
    `${packages.map((p, i) => `import * as sdk${i} from '${p}';`).join('\n')}
export const clients = [${packages.map((_, i) => `sdk${i}`).join(', ')}];
export const handler = async () => ({ batchItemFailures: [] });
`,
  );
  const file = join(dir, 'index.mjs');
  await build({ ...BUNDLE_OPTIONS, entryPoints: [src], outfile: file });
  return file;
};

const dirBytes = async (dir: string): Promise<number> => {
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
};

/** functions/<name>/handler.ts, every one there is. */
export const functionEntries = async (): Promise<{ name: string; entry: string }[]> => {
  const names = (await readdir(join(REPO_ROOT, 'functions'), { withFileTypes: true }))
    .filter((d) => d.isDirectory() && existsSync(join(REPO_ROOT, 'functions', d.name, 'handler.ts')))
    .map((d) => d.name)
    .sort();
  return names.map((name) => ({ name, entry: `functions/${name}/handler.ts` }));
};

/** Rewrites the layer's absolute mount in a function bundle to a local copy of the layer. */
const pointAtLocalLayer = async (file: string, layerDir: string): Promise<void> => {
  const code = await readFile(file, 'utf8');
  await writeFile(file, code.replaceAll(LAYER_MOUNT, layerDir));
};

const minifiedFunctionBytes = async (entry: string, outfile: string): Promise<number> => {
  const plugin = {
    name: 'shared-from-layer',
    setup(b: import('esbuild').PluginBuild) {
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        const target = join(args.resolveDir, args.path);
        if (!target.startsWith(`${SHARED_DIR}/`)) return undefined;
        return {
          path: `${LAYER_MOUNT}/${target.slice(SHARED_DIR.length + 1).replace(/\.ts$/, '.js')}`,
          external: true,
        };
      });
    },
  };
  await build({
    ...MINIFIED,
    external: [...MINIFIED.external],
    entryPoints: [join(REPO_ROOT, entry)],
    outfile,
    plugins: [plugin],
  });
  return (await stat(outfile)).size;
};

const coldInitSamples = async (
  name: string,
  file: string,
  runs: number,
): Promise<{ inits: number[]; imports: number[]; cpus: number[] }> => {
  const url = pathToFileURL(file).href;
  const script = `const t0 = performance.now(); const m = await import(${JSON.stringify(url)}); const t1 = performance.now();
const cpu = process.cpuUsage();
if (typeof m.handler !== 'function') throw new Error('no handler export');
console.log(JSON.stringify({ initMs: t1, importMs: t1 - t0, cpuMs: (cpu.user + cpu.system) / 1000 }));`;
  const inits: number[] = [];
  const imports: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(NODE_BIN, ['--input-type=module', '-e', script], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, AWS_REGION: 'eu-west-3', NODE_OPTIONS: '' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      child.once('error', reject);
      child.once('close', (code) =>
        code === 0
          ? resolve(stdout)
          : reject(new Error(`cold init of ${name} failed (exit ${code}): ${stderr.slice(-1500)}`)),
      );
    });
    const line = out.trim().split('\n').pop() ?? '{}';
    const r = JSON.parse(line) as { initMs: number; importMs: number; cpuMs: number };
    inits.push(r.initMs);
    imports.push(r.importMs);
    cpus.push(r.cpuMs);
  }
  return { inits, imports, cpus };
};

export const benchLambda = async (runs: number): Promise<LambdaResult> => {
  await rm(OUT, { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });

  // The layer, as deployed and minified.
  const layerOut = join(OUT, 'layer');
  layerBundler.tryBundle(layerOut, DUMMY_BUNDLING);
  const layerDir = join(layerOut, 'nodejs/node_modules', LAYER_PACKAGE);
  const layerMin = join(OUT, 'layer-min');
  await build({
    ...MINIFIED,
    external: [...MINIFIED.external],
    entryPoints: layerEntryPoints(),
    outbase: SHARED_DIR,
    outdir: layerMin,
    splitting: true,
    chunkNames: '_chunks/[name]-[hash]',
  });
  const layer: PackageSize = {
    name: 'layer (shared/ + deps)',
    deployedBytes: await dirBytes(layerDir),
    minifiedBytes: await dirBytes(layerMin),
  };

  const functions: PackageSize[] = [];
  const coldInits: ColdInit[] = [];
  for (const { name, entry } of await functionEntries()) {
    const dir = join(OUT, 'functions', name);
    functionBundler(entry).tryBundle(dir, DUMMY_BUNDLING);
    const file = join(dir, 'index.mjs');
    functions.push({
      name,
      deployedBytes: (await stat(file)).size,
      minifiedBytes: await minifiedFunctionBytes(entry, join(OUT, 'functions-min', name, 'index.mjs')),
    });
    await pointAtLocalLayer(file, layerDir);
  }

  // A bare handler, bundled with the same settings.
  const bareSrc = join(OUT, 'bare', 'handler.mjs');
  await mkdir(join(OUT, 'bare'), { recursive: true });
  await writeFile(bareSrc, 'export const handler = async () => ({ batchItemFailures: [] });\n');
  const bareFile = join(OUT, 'bare', 'index.mjs');
  await build({ ...BUNDLE_OPTIONS, entryPoints: [bareSrc], outfile: bareFile });

  const floors = await Promise.all(
    functions
      .filter((f) => SDK_CLIENTS[f.name])
      .map(async (f) => ({
        name: `floor:${f.name}`,
        file: await floorBundle(f.name, SDK_CLIENTS[f.name] ?? []),
      })),
  );

  // Interleaved rounds, so drift on a noisy machine spreads over every package alike.
  const targets = [
    { name: 'bare', file: bareFile },
    ...functions.map((f) => ({ name: f.name, file: join(OUT, 'functions', f.name, 'index.mjs') })),
    ...floors,
  ];
  const samples = new Map(
    targets.map((t) => [t.name, { inits: [] as number[], imports: [] as number[], cpus: [] as number[] }]),
  );
  const perRound = Math.max(1, Math.ceil(runs / 5));
  for (let done = 0; done < runs; done += perRound) {
    for (const t of targets) {
      const got = await coldInitSamples(t.name, t.file, Math.min(perRound, runs - done));
      const into = samples.get(t.name);
      into?.inits.push(...got.inits);
      into?.imports.push(...got.imports);
      into?.cpus.push(...got.cpus);
    }
  }
  const combine = (name: string): ColdInit => {
    const s = samples.get(name) ?? { inits: [], imports: [], cpus: [] };
    return {
      name,
      runs: s.inits.length,
      initMs: median(s.inits),
      importMs: median(s.imports),
      cpuMs: median(s.cpus),
    };
  };
  for (const f of functions) coldInits.push(combine(f.name));
  return {
    functions,
    layer,
    coldInit: coldInits,
    bare: combine('bare'),
    floors: floors.map((f) => ({ ...combine(f.name), name: f.name.slice('floor:'.length) })),
  };
};
