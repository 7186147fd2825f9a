import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { VERSIONS } from '../../versions.ts';
import {
  exited,
  LOCAL_DIR,
  mavenCopyDependencies,
  REPO_ROOT,
  sleep,
  spawnJava,
  tail,
  terminate,
} from '../kafka/jvm.ts';

/** ElasticMQ (SQS-compatible, in memory) version, the same as compose's image: infra/versions.ts. */
export const ELASTICMQ_VERSION = VERSIONS.elasticmq;

const POM = join(REPO_ROOT, 'infra/local/sqs/pom.xml');
const LIBS = join(LOCAL_DIR, 'elasticmq', ELASTICMQ_VERSION, 'libs');
const READY_TIMEOUT_MS = 60_000;

/** Downloads (once; ~/.m2 caches) the ElasticMQ server jars; returns the libs folder. */
export function fetchElasticMq(): Promise<string> {
  return mavenCopyDependencies(POM, LIBS, { 'elasticmq.version': ELASTICMQ_VERSION });
}

export interface RunningElasticMq {
  /** SQS endpoint, e.g. http://127.0.0.1:9324 (queue URLs are `${endpoint}/000000000000/<name>`). */
  endpoint: string;
  pid: number;
  stop(): Promise<void>;
}

/** Binds 127.0.0.1 only, and makes queue URLs point at the port actually used. */
function config(port: number): string {
  return [
    'include classpath("application.conf")',
    `node-address { protocol = "http", host = "127.0.0.1", port = ${port}, context-path = "" }`,
    `rest-sqs { enabled = true, bind-port = ${port}, bind-hostname = "127.0.0.1", sqs-limits = strict }`,
    'rest-stats { enabled = false }',
    'aws { region = "us-east-1", accountId = "000000000000" }',
    '',
  ].join('\n');
}

function logback(logFile: string): string {
  return `<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>${logFile}</file>
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.elasticmq" level="INFO"/>
  <root level="WARN"><appender-ref ref="FILE"/></root>
</configuration>
`;
}

/** Starts ElasticMQ on 127.0.0.1:`port` (default 9324) and waits until the SQS API answers ListQueues. */
export async function startElasticMq(
  opts: { port?: number; dataDir?: string } = {},
): Promise<RunningElasticMq> {
  await fetchElasticMq();
  const port = opts.port ?? 9324;
  const dir = resolve(opts.dataDir ?? join(LOCAL_DIR, 'elasticmq-data', String(port)));
  await mkdir(dir, { recursive: true });
  const confFile = join(dir, 'elasticmq.conf');
  const logbackFile = join(dir, 'logback.xml');
  const logFile = join(dir, 'elasticmq.log');
  await writeFile(confFile, config(port));
  await writeFile(logbackFile, logback(logFile));
  const endpoint = `http://127.0.0.1:${port}`;

  const child: ChildProcess = spawnJava(
    [
      '-Xmx256m',
      `-Dconfig.file=${confFile}`,
      `-Dlogback.configurationFile=${logbackFile}`,
      '-cp',
      join(LIBS, '*'),
      'org.elasticmq.server.Main',
    ],
    join(dir, 'stdout.log'),
    dir,
  );
  let died = false;
  void exited(child).then(() => {
    died = true;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = '';
  while (!died && Date.now() < deadline) {
    try {
      const res = await fetch(`${endpoint}/?Action=ListQueues`, { signal: AbortSignal.timeout(2_000) });
      await res.text();
      if (res.ok) {
        return { endpoint, pid: child.pid ?? -1, stop: () => terminate(child, 10_000) };
      }
      lastError = `HTTP ${res.status}`;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await sleep(250);
  }
  await terminate(child, 5_000);
  const why = died
    ? `the JVM exited (code ${child.exitCode})`
    : `no answer within ${READY_TIMEOUT_MS / 1000} s`;
  throw new Error(
    `ElasticMQ did not come up on ${endpoint}: ${why} (last error: ${lastError})\n` +
      `--- elasticmq.log ---\n${await tail(logFile)}\n--- stdout.log ---\n${await tail(join(dir, 'stdout.log'), 20)}`,
  );
}
