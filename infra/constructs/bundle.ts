import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ILocalBundling } from 'aws-cdk-lib';
import { type BuildOptions, buildSync } from 'esbuild';

/**
 * esbuild bundling for the producer layer and the functions, run in-process at synth time (no Docker).
 * The layer holds shared/ (and its dependencies: kafkajs, zod, the MSK IAM signer, Powertools logger) as
 * ES modules under /opt/nodejs/node_modules/@esante/bus, one output file per shared/ module with common
 * chunks split out, so module state (the producer, the logger) is one instance per process. Function bundles
 * rewrite every import that lands in shared/ to that absolute layer path and leave it out.
 *
 * Absolute paths rather than the bare `@esante/bus`: Node's ES-module resolver ignores NODE_PATH, so a bare
 * specifier from /var/task would not find /opt/nodejs/node_modules.
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED_DIR = join(REPO_ROOT, 'shared');
export const LAYER_PACKAGE = '@esante/bus';
export const LAYER_MOUNT = `/opt/nodejs/node_modules/${LAYER_PACKAGE}`;

/**
 * Node 24 on arm64, as the functions run. Nothing is left external: the Node.js runtime ships an AWS SDK v3,
 * but not every package the MSK IAM signer needs at run time (`@aws-sdk/credential-providers`,
 * `@aws-sdk/util-format-url`, `@aws-crypto/*`'s `@aws-sdk/util-utf8-browser`, ...) and not at the versions
 * package-lock.json pins, so the bundles carry every SDK module they import (bundling the SDK clients a
 * function uses is also AWS's advice for cold start: only the code used is loaded). Functions reach the SDK
 * through shared/ (shared/lambda/clients.ts and its neighbours re-export the commands they send), so the
 * layer holds the one copy a process loads (the hourly audit anchor bundles its own S3 client: nothing
 * else uses S3, and its cold start is on no event's path). test/infra/layer.test.ts loads the bundles from
 * a directory with no node_modules to prove it, and fails if a consumer's or the health function's bundle
 * carries SDK code of its own.
 */
export const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  // The ES module build of a package that has one (the AWS SDK's `module` entry, dist-es) before its CommonJS
  // `main`, esbuild's only choice for platform node otherwise: esbuild tree-shakes ES modules, while a
  // CommonJS file is kept whole. A function then loads the SDK commands it sends, not every command and
  // schema of the client: 15–20 % off each function's cold init CPU (test/bench/methods.md).
  mainFields: ['module', 'main'],
  // Half the bytes to load at cold start (the layer: 1.68 MB → 0.83 MB, docs/benchmarks.md); names kept so
  // error classes and stack frames stay readable in logs.
  minify: true,
  keepNames: true,
  // CommonJS dependencies (kafkajs) call require() on Node built-ins; ESM output needs a require.
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  legalComments: 'none',
  logLevel: 'error',
};

/** shared/ folders of build-time tools (the AsyncAPI and JSON Schema writers): nothing at run time imports them. */
const BUILD_TIME = ['asyncapi', 'schemas'];

/** shared/ modules that ship in the layer: everything but the build-time tools. */
export const layerEntryPoints = (): string[] =>
  readdirSync(SHARED_DIR, { recursive: true, encoding: 'utf8' })
    .filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.split(sep).some((d) => BUILD_TIME.includes(d)),
    )
    .map((f) => join(SHARED_DIR, f))
    .sort();

/** Where a shared/ source file lives in the layer. */
export const layerPathOf = (sourceFile: string): string =>
  `${LAYER_MOUNT}/${relative(SHARED_DIR, sourceFile).split(sep).join('/').replace(/\.ts$/, '.js')}`;

export const layerBundler: ILocalBundling = {
  tryBundle(outputDir) {
    const outdir = join(outputDir, 'nodejs/node_modules', LAYER_PACKAGE);
    buildSync({
      ...BUNDLE_OPTIONS,
      entryPoints: layerEntryPoints(),
      outbase: SHARED_DIR,
      outdir,
      splitting: true,
      chunkNames: '_chunks/[name]-[hash]',
    });
    writeFileSync(
      join(outdir, 'package.json'),
      `${JSON.stringify({ name: LAYER_PACKAGE, private: true, type: 'module' }, null, 2)}\n`,
    );
    return true;
  },
};

/**
 * Bundles one function entry into index.mjs (handler `index.handler`), shared/ left to the layer. esbuild
 * plugins need its async API and ILocalBundling is synchronous, so the build runs in a child Node process
 * (esbuild-function.mjs, plain JS so it needs no TypeScript loader).
 */
export const functionBundler = (entry: string): ILocalBundling => ({
  tryBundle(outputDir) {
    const job = {
      options: {
        ...BUNDLE_OPTIONS,
        entryPoints: [join(REPO_ROOT, entry)],
        outfile: join(outputDir, 'index.mjs'),
      },
      sharedDir: SHARED_DIR,
      layerMount: LAYER_MOUNT,
    };
    const run = spawnSync(process.execPath, [BUNDLER_SCRIPT, JSON.stringify(job)], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`esbuild failed for ${entry}: ${run.stderr || run.error?.message}`);
    return true;
  },
});

const BUNDLER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'esbuild-function.mjs');
