import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { VERSIONS } from '../../versions.ts';
import { freePort } from './free-port.ts';
import {
  exited,
  javaBin,
  killOnExit,
  LOCAL_DIR,
  mavenCopyDependencies,
  REPO_ROOT,
  sleep,
  spawnJava,
  tail,
  terminate,
} from './jvm.ts';

/** The Kafka version of the local mirror (and, major.minor, of MSK): infra/versions.ts. */
export const KAFKA_VERSION = VERSIONS.kafka;

const POM = join(REPO_ROOT, 'infra/local/kafka/pom.xml');
const HOME = join(LOCAL_DIR, 'kafka', KAFKA_VERSION);
export const LIBS = join(HOME, 'libs');
const HEAP = ['-Xms256m', '-Xmx512m'];
export const READY_TIMEOUT_MS = 60_000;

/** Downloads (once; ~/.m2 caches) the jars of the broker, kafka-tools and log4j2; returns the libs folder. */
export function fetchKafka(): Promise<string> {
  return mavenCopyDependencies(POM, LIBS, {
    'kafka.version': KAFKA_VERSION,
    'log4j.version': VERSIONS.log4j,
  });
}

export interface StartKafkaOptions {
  /** PLAINTEXT port on 127.0.0.1 (default 9092). */
  port?: number;
  /** KRaft controller port (default 9093 with the default port, else a free one). */
  controllerPort?: number;
  /** Broker data (the KRaft log dirs); kept across restarts. Default `.local/kafka-data/<port>`. */
  dataDir?: string;
  /** Where server.log and the JVM's stdout go. Default `<dataDir>/logs`. */
  logDir?: string;
  /**
   * Port the broker advertises to clients (default `port`): a proxy in front of the broker (the bench's
   * delayed round trips) listens there, so every request after the bootstrap goes through it too.
   */
  advertisedPort?: number;
}

export interface RunningKafka {
  brokers: string[];
  /** Pid of the current JVM (changes on restart). */
  readonly pid: number;
  dataDir: string;
  logDir: string;
  /** SIGTERM, waits for a clean exit (SIGKILL after 20 s). */
  stop(): Promise<void>;
  /** SIGKILL at once, for fault tests; `restart()` brings it back on the same port and data. */
  kill(): void;
  /** Stops the broker if it's running, starts it again on the same port and data dir, waits until ready. */
  restart(): Promise<void>;
}

/** Log4j2 config: everything to one rolling file, nothing to the console. */
export function brokerLog4j(logDir: string): string {
  return [
    'status = warn',
    'appender.file.type = RollingFile',
    'appender.file.name = file',
    `appender.file.fileName = ${join(logDir, 'server.log')}`,
    `appender.file.filePattern = ${join(logDir, 'server.log.%i')}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'appender.file.policies.type = Policies',
    'appender.file.policies.size.type = SizeBasedTriggeringPolicy',
    'appender.file.policies.size.size = 20MB',
    'appender.file.strategy.type = DefaultRolloverStrategy',
    'appender.file.strategy.max = 3',
    'rootLogger.level = info',
    'rootLogger.appenderRef.file.ref = file',
    // The per-request and state-change chatter is of no use locally.
    'logger.request.name = kafka.request.logger',
    'logger.request.level = warn',
    'logger.state.name = state.change.logger',
    'logger.state.level = warn',
    '',
  ].join('\n');
}

/** Log4j2 config for command-line tools: results stay on stdout, warnings and errors go to stderr. */
export const TOOLS_LOG4J = [
  'status = warn',
  'appender.err.type = Console',
  'appender.err.name = err',
  'appender.err.target = SYSTEM_ERR',
  'appender.err.layout.type = PatternLayout',
  'appender.err.layout.pattern = [%d] %p %m (%c)%n',
  'rootLogger.level = warn',
  'rootLogger.appenderRef.err.ref = err',
  '',
].join('\n');

function serverProperties(
  port: number,
  controllerPort: number,
  dataDir: string,
  advertisedPort = port,
): string {
  return [
    '# Written by infra/local/kafka/broker.ts: a single-node KRaft broker+controller for local runs and tests.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${advertisedPort}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${join(dataDir, 'kraft-logs')}`,
    // Topics come from the event catalog (shared/kafka/admin.ts), as on MSK: no accidental topics.
    'auto.create.topics.enable=false',
    'num.partitions=3',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=5',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    // After a SIGKILL (fault tests) the restarted broker can only register once its old session expires.
    'broker.session.timeout.ms=4000',
    'broker.heartbeat.interval.ms=1000',
    'num.network.threads=2',
    'num.io.threads=4',
    'log.retention.hours=24',
    '',
  ].join('\n');
}

/**
 * A Kafka Uuid is 16 random bytes in URL-safe base64 without padding. It may start with '-', which the
 * tool's argument parser would take for an option (1 run in 64 failed so): it is passed as --cluster-id=<id>.
 */
export const newClusterId = (): string => randomBytes(16).toString('base64url');

/** Formats the KRaft storage unless it already is (a restart keeps the data and the cluster id). */
export async function formatStorage(
  dataDir: string,
  propsFile: string,
  logDir: string,
  clusterId = newClusterId(),
): Promise<void> {
  if (existsSync(join(dataDir, 'kraft-logs', 'meta.properties'))) return;
  const result = await runJava(
    ['kafka.tools.StorageTool', 'format', '--ignore-formatted', `--cluster-id=${clusterId}`, '-c', propsFile],
    join(logDir, 'tools-log4j2.properties'),
  );
  if (result.code !== 0) {
    throw new Error(
      `Kafka StorageTool format failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`,
    );
  }
}

/** Starts a single-node KRaft Kafka broker (fetching it first if needed) and waits until it answers. */
export async function startKafka(opts: StartKafkaOptions = {}): Promise<RunningKafka> {
  await fetchKafka();
  const port = opts.port ?? 9092;
  const controllerPort = opts.controllerPort ?? (opts.port === undefined ? 9093 : await freePort());
  const dataDir = resolve(opts.dataDir ?? join(LOCAL_DIR, 'kafka-data', String(port)));
  const logDir = resolve(opts.logDir ?? join(dataDir, 'logs'));
  const propsFile = join(dataDir, 'server.properties');
  const log4jFile = join(dataDir, 'log4j2.properties');
  const brokers = [`127.0.0.1:${port}`];

  await mkdir(logDir, { recursive: true });
  await writeFile(propsFile, serverProperties(port, controllerPort, dataDir, opts.advertisedPort));
  await writeFile(log4jFile, brokerLog4j(logDir));
  await writeFile(join(logDir, 'tools-log4j2.properties'), TOOLS_LOG4J);
  await formatStorage(dataDir, propsFile, logDir);

  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    child = spawnKafkaJvm(propsFile, log4jFile, logDir, dataDir);
    try {
      await waitReady(brokers, child, logDir);
    } catch (error) {
      await terminate(child, 5_000);
      throw error;
    }
  };
  await launch();

  const stop = async (): Promise<void> => {
    if (child) await terminate(child);
  };
  return {
    brokers,
    get pid() {
      return child?.pid ?? -1;
    },
    dataDir,
    logDir,
    stop,
    kill() {
      child?.kill('SIGKILL');
    },
    async restart() {
      await stop();
      await launch();
    },
  };
}

/** Starts the JVM of one Kafka node (kafka.Kafka with `propsFile`); its output goes to `<logDir>/stdout.log`. */
export function spawnKafkaJvm(
  propsFile: string,
  log4jFile: string,
  logDir: string,
  dataDir: string,
): ChildProcess {
  return spawnJava(
    [
      ...HEAP,
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${log4jFile}`,
      `-Dkafka.logs.dir=${logDir}`,
      '-cp',
      join(LIBS, '*'),
      'kafka.Kafka',
      propsFile,
    ],
    join(logDir, 'stdout.log'),
    dataDir,
  );
}

/**
 * Polls describeCluster on `brokers` until `ready` holds for the broker ids it lists (default: any broker);
 * fails fast with the log tail if the JVM exits first.
 */
export async function waitReady(
  brokers: string[],
  child: ChildProcess,
  logDir: string,
  ready: (brokerIds: number[]) => boolean = (ids) => ids.length > 0,
  timeoutMs = READY_TIMEOUT_MS,
): Promise<void> {
  const kafka = new Kafka({
    clientId: 'local-broker-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
    retry: { retries: 0 },
  });
  const deadline = Date.now() + timeoutMs;
  let died = false;
  void exited(child).then(() => {
    died = true;
  });
  let lastError = '';
  while (Date.now() < deadline && !died) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (ready(cluster.brokers.map((b) => b.nodeId))) return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    } finally {
      await admin.disconnect().catch(() => {});
    }
    await sleep(250);
  }
  const why = died
    ? `the broker JVM exited (code ${child.exitCode}, signal ${child.signalCode})`
    : `not ready on ${brokers.join(',')} within ${timeoutMs / 1000} s (last error: ${lastError || 'none'})`;
  const logs = `--- server.log ---\n${await tail(join(logDir, 'server.log'))}\n--- stdout.log ---\n${await tail(join(logDir, 'stdout.log'), 20)}`;
  throw new Error(`Kafka did not come up: ${why}\n${logs}`);
}

/** Runs a Java main class on the Kafka classpath, collecting its output. */
export function runJava(
  args: string[],
  log4jFile: string,
): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((ok, fail) => {
    const child = spawn(
      javaBin(),
      ['-Xmx512m', `-Dlog4j2.configurationFile=${log4jFile}`, '-cp', join(LIBS, '*'), ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    killOnExit(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('error', fail);
    child.once('close', (code, signal) => ok({ stdout, stderr, code: code ?? (signal ? 128 : 1) }));
  });
}

/**
 * Runs a Kafka tool (e.g. `org.apache.kafka.tools.ProducerPerformance`, `org.apache.kafka.tools.EndToEndLatency`)
 * on the broker's classpath; its results are on stdout, its warnings on stderr.
 */
export async function runKafkaTool(
  mainClass: string,
  args: string[],
): Promise<{ stdout: string; stderr: string; code: number }> {
  await fetchKafka();
  const log4jFile = join(HOME, 'tools-log4j2.properties');
  await writeFile(log4jFile, TOOLS_LOG4J);
  return runJava([mainClass, ...args], log4jFile);
}

/**
 * Starts a long-running Kafka tool (e.g. `org.apache.kafka.tools.VerifiableProducer`) on the broker's
 * classpath with stdout and stderr piped to the caller, who reads its output as it comes.
 */
export async function spawnKafkaTool(mainClass: string, args: string[]): Promise<ChildProcess> {
  await fetchKafka();
  const log4jFile = join(HOME, 'tools-log4j2.properties');
  await writeFile(log4jFile, TOOLS_LOG4J);
  const child = spawn(
    javaBin(),
    ['-Xmx256m', `-Dlog4j2.configurationFile=${log4jFile}`, '-cp', join(LIBS, '*'), mainClass, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  killOnExit(child);
  return child;
}
