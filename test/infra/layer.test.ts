import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { functionBundler, LAYER_MOUNT, layerBundler } from '../../infra/constructs/bundle.ts';
import { CONSUMERS } from '../../infra/consumers.ts';

/**
 * The layer and the function bundles exactly as the CDK app builds them, copied into an empty directory with no
 * node_modules anywhere above it (as /opt and /var/task in the Lambda sandbox): every handler and the MSK IAM
 * signer must load from what the assets themselves carry.
 */
const root = mkdtempSync(join(tmpdir(), 'esante-clean-'));
const options = { image: lambda.Runtime.NODEJS_24_X.bundlingImage };
layerBundler.tryBundle?.(join(root, 'opt'), options);
const functions = [
  ...CONSUMERS.map((c) => ({ name: c.name, entry: c.entry })),
  { name: 'health', entry: 'functions/health/handler.ts' },
];
for (const fn of functions) {
  const dir = join(root, 'task', fn.name);
  mkdirSync(dir, { recursive: true });
  functionBundler(fn.entry).tryBundle?.(dir, options);
}
afterAll(() => rmSync(root, { recursive: true, force: true }));

// Runs in a separate Node process: /opt/… imports resolve into the clean directory, nothing else is mapped.
const PROBE = `
import { registerHooks } from 'node:module';
import { pathToFileURL } from 'node:url';
const root = process.env.CLEAN_ROOT;
registerHooks({
  resolve(specifier, context, next) {
    return next(specifier.startsWith('/opt/') ? pathToFileURL(root + specifier).href : specifier, context);
  },
});
const out = { handlers: {}, errors: {} };
for (const name of JSON.parse(process.env.FUNCTIONS)) {
  try {
    const mod = await import(pathToFileURL(root + '/task/' + name + '/index.mjs').href);
    out.handlers[name] = typeof mod.handler;
  } catch (error) {
    out.errors[name] = String(error.code ?? '') + ' ' + error.message;
  }
}
try {
  const config = await import(pathToFileURL(root + '${LAYER_MOUNT}/kafka/config.js').href);
  const token = await config.iamTokenProvider('eu-west-3')();
  out.token = token.value;
} catch (error) {
  out.errors.signer = String(error.code ?? '') + ' ' + error.message;
}
console.log(JSON.stringify(out));
`;

describe('layer and function assets in a directory without node_modules', () => {
  it('has no node_modules on the path above the clean directory', () => {
    let dir = root;
    while (dir !== parse(dir).root) {
      expect(existsSync(join(dir, 'node_modules')), dir).toBe(false);
      dir = dirname(dir);
    }
    expect(
      existsSync(join(root, 'opt', 'nodejs', 'node_modules', '@esante', 'bus', 'kafka', 'config.js')),
    ).toBe(true);
  });

  it('imports every handler and signs an MSK IAM token from the layer alone', () => {
    // Prepare
    const probe = join(root, 'probe.mjs');
    writeFileSync(probe, PROBE);
    // Act: static credentials from the environment; signing is local (no AWS call).
    const run = spawnSync(process.execPath, [probe], {
      cwd: root,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        CLEAN_ROOT: root,
        FUNCTIONS: JSON.stringify(functions.map((f) => f.name)),
        AWS_REGION: 'eu-west-3',
        AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
        POWERTOOLS_METRICS_DISABLED: 'true',
      },
    });
    // Assess
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}');
    expect(out.errors).toEqual({});
    expect(out.handlers).toEqual(Object.fromEntries(functions.map((f) => [f.name, 'function'])));
    // An MSK IAM token is a base64url presigned kafka-cluster:Connect URL.
    const url = Buffer.from(out.token, 'base64url').toString();
    expect(url).toMatch(/^https:\/\/kafka\.eu-west-3\.amazonaws\.com\/\?Action=kafka-cluster%3AConnect/);
    expect(url).toContain('X-Amz-Credential=AKIAIOSFODNN7EXAMPLE');
  });

  it('leaves the AWS SDK to the layer: no function bundle carries a copy of its own', () => {
    // A function importing an @aws-sdk package itself, not through shared/, bundles the SDK's core
    // (@smithy/core, whose code names "smithy" throughout) beside the layer's, and loads both at cold start.
    const ownSdk = functions.filter((fn) =>
      readFileSync(join(root, 'task', fn.name, 'index.mjs'), 'utf8').includes('smithy'),
    );
    expect(ownSdk.map((fn) => fn.name)).toEqual([]);
    // The marker does find the SDK where it is: in the layer.
    const layer = join(root, 'opt', 'nodejs', 'node_modules', '@esante', 'bus');
    const layerFiles = readdirSync(layer, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.js'),
    );
    expect(layerFiles.some((f) => readFileSync(join(layer, f), 'utf8').includes('smithy'))).toBe(true);
  });

  it('carries the part of zod the bus uses, not all of it', () => {
    // `import { z } from 'zod'` (or re-exporting the namespace) keeps every zod export, its ~40 locales
    // included (~370 KB of the layer, loaded at cold start); `import * as z` lets esbuild drop them. The
    // Dutch locale's message stands for all of them.
    const layer = join(root, 'opt', 'nodejs', 'node_modules', '@esante', 'bus');
    const files = readdirSync(layer, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    const code = files.map((f) => readFileSync(join(layer, f), 'utf8'));
    expect(code.some((c) => c.includes('Ongeldige invoer'))).toBe(false);
    expect(code.some((c) => c.includes('$ZodObject'))).toBe(true);
  });
});
