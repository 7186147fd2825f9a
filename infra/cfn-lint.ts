import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from './constructs/bundle.ts';

/**
 * cfn-lint (PyPI, pinned) over synthesised templates. It lives in a virtualenv under node_modules/.cache, made
 * on first use (about 30 s: `python3 -m venv` + `pip install`); Python 3 is the only prerequisite.
 * `npm run lint:cfn` synthesises to cdk.out and lints it; test/infra/app.test.ts lints its own synth output.
 * Accepted findings are recorded on their resources (`Metadata.cfn-lint`, infra/stacks/nag.ts, docs/cdk.md).
 */
export const CFN_LINT_VERSION = '1.58.0';
const VENV = join(REPO_ROOT, 'node_modules', '.cache', `cfn-lint-${CFN_LINT_VERSION}`);
const BIN = join(VENV, 'bin', 'cfn-lint');

/** The cfn-lint executable, installed if needed; undefined (with the reason) when Python 3 is missing. */
export const ensureCfnLint = (): { bin?: string; reason?: string } => {
  if (existsSync(BIN)) return { bin: BIN };
  const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  if (python.status !== 0) return { reason: 'python3 is not on the PATH' };
  const steps: [string, string[]][] = [
    ['python3', ['-m', 'venv', VENV]],
    [
      join(VENV, 'bin', 'pip'),
      ['install', '--quiet', '--disable-pip-version-check', `cfn-lint==${CFN_LINT_VERSION}`],
    ],
  ];
  for (const [cmd, args] of steps) {
    const run = spawnSync(cmd, args, { encoding: 'utf8' });
    if (run.status !== 0)
      return { reason: `${cmd} ${args.join(' ')} failed: ${run.stderr.trim().slice(-500)}` };
  }
  return { bin: BIN };
};

/** Runs cfn-lint over every template in a cloud assembly directory; findings as printed, empty when clean. */
export const cfnLint = (bin: string, assemblyDir: string): { status: number; output: string } => {
  const templates = readdirSync(assemblyDir)
    .filter((f) => f.endsWith('.template.json'))
    .map((f) => join(assemblyDir, f));
  const run = spawnSync(bin, ['--format', 'parseable', '--', ...templates], { encoding: 'utf8' });
  return { status: run.status ?? 1, output: `${run.stdout}${run.stderr}`.trim() };
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { bin, reason } = ensureCfnLint();
  if (!bin) {
    console.error(`cfn-lint unavailable: ${reason}`);
    process.exit(2);
  }
  const synth = spawnSync('npx', ['cdk', 'synth', '--quiet'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (synth.status !== 0) process.exit(synth.status ?? 1);
  const { status, output } = cfnLint(bin, join(REPO_ROOT, 'cdk.out'));
  console.log(output || 'cfn-lint: no findings');
  process.exit(status);
}
