import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { cpus, freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Kafka, logLevel } from 'kafkajs';
import { provisionAws } from '../../infra/local/aws/provision.ts';
import { KAFKA_VERSION, type RunningKafka, startKafka } from '../../infra/local/kafka/broker.ts';
import { freePort } from '../../infra/local/kafka/free-port.ts';
import { killOnExit, LOCAL_DIR, REPO_ROOT } from '../../infra/local/kafka/jvm.ts';
import { startTcpProxy, type TcpProxy } from '../../infra/local/kafka/tcp-proxy.ts';
import { TABLES } from '../../infra/resources.ts';
import { provisionTopics } from '../../shared/kafka/admin.ts';
import { registerCodecs } from '../../shared/kafka/codecs.ts';
import { CLIENT_DEFAULTS } from '../../shared/kafka/config.ts';
import { awsClientConfig } from '../../shared/lambda/clients.ts';
import { sleep } from './stats.ts';

/** Where the bench keeps its broker data, payload files and bundles (git-ignored). */
export const BENCH_DIR = join(LOCAL_DIR, 'bench');

/** Node 24, as pinned by the npm `node` package: the same binary for every child process of the bench. */
export const NODE_BIN = process.execPath;

export interface BenchBroker {
  /** What clients bootstrap from: the broker itself, or the delaying proxy in front of it. */
  brokers: string[];
  /** The one-way delay every request and response crosses (0: straight to the broker on the loopback). */
  delayMs: number;
  kafka: Kafka;
  /** Stops the broker and removes its data, unless `keepData` (a failed run keeps the logs to read). */
  stop(keepData?: boolean): Promise<void>;
}

/** A kafkajs client with the project's client settings (shared/kafka/config.ts), quiet. */
export const benchKafka = (brokers: string[], clientId = 'bench'): Kafka => {
  registerCodecs();
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { ...CLIENT_DEFAULTS.retry },
    connectionTimeout: CLIENT_DEFAULTS.connectionTimeout,
    requestTimeout: CLIENT_DEFAULTS.requestTimeout,
  });
};

/**
 * The bench's own broker: a free port, a fresh data dir under .local/bench, every catalog topic. With
 * `delayMs`, a TCP proxy on the loopback (infra/local/kafka/tcp-proxy.ts) sits in front of it adding `delayMs` each
 * way, and the broker advertises the proxy's port: the bootstrap and every later request (metadata, produce,
 * fetch, commits, Kafka's own tools) cross it — an MSK-like round trip where acks=all crosses zones.
 */
export const startBenchBroker = async (opts: { delayMs?: number } = {}): Promise<BenchBroker> => {
  const delayMs = opts.delayMs ?? 0;
  const port = await freePort();
  const dataDir = join(BENCH_DIR, `kafka-${port}`);
  await rm(dataDir, { recursive: true, force: true });
  const proxy: TcpProxy | undefined =
    delayMs > 0 ? await startTcpProxy('127.0.0.1', port, 0, { delayMs }) : undefined;
  const proxyPort = proxy?.port;
  let running: RunningKafka;
  try {
    running = await startKafka({ port, dataDir, advertisedPort: proxyPort });
  } catch (error) {
    await proxy?.close();
    throw error;
  }
  const brokers = proxyPort ? [`127.0.0.1:${proxyPort}`] : running.brokers;
  const kafka = benchKafka(brokers);
  try {
    await provisionTopics(kafka);
  } catch (error) {
    running.kill();
    await proxy?.close();
    throw error;
  }
  return {
    brokers,
    delayMs,
    kafka,
    async stop(keepData = false) {
      try {
        await running.stop();
      } finally {
        running.kill();
        await proxy?.close();
        if (!keepData) await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
};

export interface BenchDynamo {
  env: Record<string, string>;
  /** Drops and recreates the audit table, so a round writes new entries rather than hitting duplicates. */
  resetAuditTable(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Local DynamoDB (dynalite, in memory) in its own process — as the real store is outside the function's
 * process — with the tables of infra/resources.ts created by infra/local/aws/provision.ts.
 */
export const startBenchDynamo = async (): Promise<BenchDynamo> => {
  const port = await freePort();
  const child: ChildProcess = spawn(
    NODE_BIN,
    [
      join(REPO_ROOT, 'node_modules/dynalite/cli.js'),
      '--port',
      String(port),
      '--createTableMs',
      '0',
      '--deleteTableMs',
      '0',
    ],
    { stdio: 'ignore' },
  );
  killOnExit(child);
  const env: Record<string, string> = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    DYNAMODB_ENDPOINT: `http://127.0.0.1:${port}`,
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await provisionAws(env);
      break;
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw error;
      }
      await sleep(200);
    }
  }
  return {
    env,
    async resetAuditTable() {
      const client = new DynamoDBClient(awsClientConfig('dynamodb', env));
      try {
        await client.send(new DeleteTableCommand({ TableName: TABLES.audit.name }));
      } finally {
        client.destroy();
      }
      await provisionAws(env);
    },
    async stop() {
      child.kill('SIGTERM');
    },
  };
};

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  freeMemoryGiB: number;
  os: string;
  node: string;
  java: string;
  kafka: string;
  kafkajs: string;
}

/** `java -version` prints on stderr. */
const javaVersion = (): string =>
  spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr?.split('\n')[0]?.trim() || 'unknown';

export const machineInfo = async (): Promise<MachineInfo> => {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const kafkajsVersion = (require('kafkajs/package.json') as { version: string }).version;
  let os = `${process.platform} ${process.arch}`;
  try {
    os = execFileSync('uname', ['-srm'], { encoding: 'utf8' }).trim();
  } catch {}
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    freeMemoryGiB: Math.round(freemem() / 2 ** 30),
    os,
    node: process.version,
    java: javaVersion(),
    kafka: KAFKA_VERSION,
    kafkajs: kafkajsVersion,
  };
};
