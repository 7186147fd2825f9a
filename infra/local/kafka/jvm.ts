import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repo root, found from this file so the scripts work from any working directory. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Git-ignored home of everything the local mirror downloads or writes. */
export const LOCAL_DIR = join(REPO_ROOT, '.local');

/** `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` from PATH. */
export function javaBin(): string {
  const home = process.env.JAVA_HOME;
  return home ? join(home, 'bin', 'java') : 'java';
}

/**
 * Copies the runtime dependencies of `pom` into `libsDir` with Maven (~/.m2 is the cache). Skipped when
 * `libsDir` exists; the copy goes to a temporary folder renamed at the end, so a half-done copy (Ctrl-C, two
 * runs at once) never looks finished. Maven's output is kept quiet unless it fails.
 */
export async function mavenCopyDependencies(
  pom: string,
  libsDir: string,
  properties: Record<string, string>,
): Promise<string> {
  if (existsSync(libsDir)) return libsDir;
  const tmp = `${libsDir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(dirname(libsDir), { recursive: true });
  const args = [
    '-q',
    '-B',
    '-f',
    pom,
    'dependency:copy-dependencies',
    `-DoutputDirectory=${tmp}`,
    ...Object.entries(properties).map(([k, v]) => `-D${k}=${v}`),
  ];
  try {
    await new Promise<void>((ok, fail) => {
      execFile('mvn', args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (!error) return ok();
        const output = `${stdout}\n${stderr}`.trim().split('\n').slice(-60).join('\n');
        fail(new Error(`mvn ${args.join(' ')} failed (${error.message.split('\n')[0]}):\n${output}`));
      });
    });
    if (!existsSync(libsDir)) await rename(tmp, libsDir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return libsDir;
}

/**
 * Spawns `java` with stdin closed and stdout/stderr appended to `outFile` (not our stdout: the JVM keeps its
 * own log, and keeps writing if we exit).
 */
export function spawnJava(args: string[], outFile: string, cwd: string): ChildProcess {
  mkdirSync(dirname(outFile), { recursive: true });
  const fd = openSync(outFile, 'a');
  try {
    const child = spawn(javaBin(), args, { cwd, stdio: ['ignore', fd, fd] });
    killOnExit(child);
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Last `lines` lines of a log file, for error messages when a process doesn't come up. */
export async function tail(file: string, lines = 40): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${file})`;
  }
}

/** Resolves when `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => child.once('exit', () => ok()));
}

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`; resolves once it has exited. */
export async function terminate(child: ChildProcess, graceMs = 20_000): Promise<void> {
  const done = exited(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((ok) => {
    timer = setTimeout(() => ok('timeout'), graceMs);
  });
  const first = await Promise.race([done.then(() => 'exited' as const), timeout]);
  clearTimeout(timer);
  if (first === 'timeout') {
    child.kill('SIGKILL');
    await done;
  }
}

/**
 * Kills the children still running when this Node process exits (a crashed test run, an uncaught error), so no
 * JVM is ever left behind; `exit` handlers must be synchronous, hence SIGKILL.
 */
const live = new Set<ChildProcess>();
let hooked = false;
export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/** Sleeps `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));
