import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { VERSIONS } from '../../versions.ts';
import { exited, killOnExit, LOCAL_DIR, sleep, tail, terminate } from '../kafka/jvm.ts';

/**
 * Versity S3 Gateway (versitygw), the local S3: a Go server over a POSIX directory that implements Object
 * Lock as S3 does — a version under COMPLIANCE retention can be neither deleted (with or without
 * BypassGovernanceRetention) nor given a shorter retention, and versioning cannot be suspended on a bucket
 * with a lock configuration (test/integration/audit/anchor.test.ts shows each refusal). It is published as a
 * Go module only, so the scripts build it once with `go install` from the Go module proxy (the Go cache
 * keeps the sources; .local keeps the binary) and run it offline afterwards.
 */
export const VERSITYGW_VERSION = VERSIONS.versitygw;

const MODULE = 'github.com/versity/versitygw/cmd/versitygw';
const BIN_DIR = join(LOCAL_DIR, 'versitygw', VERSITYGW_VERSION);
const READY_TIMEOUT_MS = 30_000;

/** The local server's root credentials (any signature from these is accepted; nothing leaves the machine). */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** Builds versitygw once into .local/versitygw/<version>; returns the binary's path. */
export async function fetchVersitygw(): Promise<string> {
  const bin = join(BIN_DIR, 'versitygw');
  if (existsSync(bin)) return bin;
  const tmp = `${BIN_DIR}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  const args = ['install', `${MODULE}@${VERSITYGW_VERSION}`];
  try {
    await new Promise<void>((ok, fail) => {
      execFile(
        'go',
        args,
        { env: { ...process.env, GOBIN: tmp, GOFLAGS: '-mod=mod' }, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (!error) return ok();
          const output = `${stdout}\n${stderr}`.trim().split('\n').slice(-40).join('\n');
          fail(new Error(`go ${args.join(' ')} failed (${error.message.split('\n')[0]}):\n${output}`));
        },
      );
    });
    await mkdir(dirname(BIN_DIR), { recursive: true });
    if (!existsSync(bin)) await rename(tmp, BIN_DIR);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return bin;
}

export interface RunningS3 {
  /** e.g. http://127.0.0.1:7070 (path-style addressing). */
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts versitygw on 127.0.0.1:`port` (default 7070) over `dataDir` (objects, and their versions beside
 * them), and waits until it answers. Versioning is on, as Object Lock needs. Without `dataDir` the data is
 * thrown away on stop (the local tables are in memory too: digests of a table that is gone would only
 * report it truncated); locked objects are refused to S3 clients, not to the file system.
 */
export async function startVersitygw(opts: { port?: number; dataDir?: string } = {}): Promise<RunningS3> {
  const bin = await fetchVersitygw();
  const port = opts.port ?? 7070;
  const dir = resolve(opts.dataDir ?? join(LOCAL_DIR, 's3-data', `${port}-${process.pid}-${Date.now()}`));
  const throwAway = !opts.dataDir;
  await mkdir(join(dir, 'buckets'), { recursive: true });
  await mkdir(join(dir, 'versions'), { recursive: true });
  const logFile = join(dir, 'versitygw.log');
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      bin,
      [
        '--port',
        `127.0.0.1:${port}`,
        '--access',
        LOCAL_S3_CREDENTIALS.accessKeyId,
        '--secret',
        LOCAL_S3_CREDENTIALS.secretAccessKey,
        '--quiet',
        'posix',
        '--versioning-dir',
        join(dir, 'versions'),
        join(dir, 'buckets'),
      ],
      { cwd: dir, stdio: ['ignore', fd, fd] },
    );
    killOnExit(child);
  } finally {
    closeSync(fd);
  }
  let died = false;
  void exited(child).then(() => {
    died = true;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = '';
  while (!died && Date.now() < deadline) {
    try {
      // Unsigned: any HTTP answer (403) means the server is listening.
      const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2_000) });
      await res.text();
      const stop = async () => {
        await terminate(child, 5_000);
        if (throwAway) await rm(dir, { recursive: true, force: true });
      };
      return { endpoint, stop };
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await sleep(100);
  }
  await terminate(child, 5_000);
  const why = died ? `it exited (code ${child.exitCode})` : `no answer within ${READY_TIMEOUT_MS / 1000} s`;
  throw new Error(
    `versitygw did not come up on ${endpoint}: ${why} (last error: ${lastError})\n` +
      `--- versitygw.log ---\n${await tail(logFile)}`,
  );
}
