import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { type Kafka, Kafka as KafkaClient, logLevel } from 'kafkajs';
import { CONSUMERS } from '../../infra/consumers.ts';
import { type LocalAws, sentEmails, startLocalAws } from '../../infra/local/aws/index.ts';
import { type RunningKafka, startKafka } from '../../infra/local/kafka/broker.ts';
import { type RunningCluster, startCluster } from '../../infra/local/kafka/cluster.ts';
import { freePort } from '../../infra/local/kafka/free-port.ts';
import { LOCAL_DIR, REPO_ROOT } from '../../infra/local/kafka/jvm.ts';
import { type DlqEntry, listKafkaDeadLetters, listSqsDeadLetters } from '../../infra/ops/dlq.ts';
import { DEAD_LETTER_QUEUE, TABLES } from '../../infra/resources.ts';
import { catalogTopics, DLQ_TOPIC, topicSpecs } from '../../shared/events/index.ts';
import { provisionTopics } from '../../shared/kafka/admin.ts';
import { CLIENT_DEFAULTS } from '../../shared/kafka/config.ts';
import { awsClientConfig, dynamo, ENDPOINT_ENV, resetClients } from '../../shared/lambda/clients.ts';
import type { LogTap } from './log-tap.ts';
import { type FaultProxy, startProxy } from './proxy.ts';

export const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

/** Polls `check` until it returns true; false when `timeoutMs` passed first. */
export const waitFor = async (check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 250) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
};

/**
 * The real local stack of a fault run: a Kafka broker (our own, which may be killed, or the run's one from
 * KAFKA_BROKERS), dynalite, the SES server and ElasticMQ, with TCP proxies in front of dynalite and SES.
 * The ESM child sees the proxies; this process reads the stores directly, so it can count while they are cut.
 */
export interface FaultStack {
  brokers: string[];
  /** Present when the stack started its own broker (broker kills need one). */
  broker?: RunningKafka;
  /** Present when the stack started its own three-node cluster (infra/local/kafka/cluster.ts). */
  cluster?: RunningCluster;
  /** A client for this process's inspection and publishing (never the child's). */
  kafka: Kafka;
  /** What the child gets: brokers, proxied DynamoDB and SES, the SQS queue. */
  childEnv: Record<string, string>;
  sesEndpoint: string;
  sqs: { client: SQSClient; queueUrl: string };
  dynamoProxy: FaultProxy;
  sesProxy: FaultProxy;
  tap: LogTap;
  /**
   * Appended to the consumer group ids of infra/consumers.ts: every scenario on this stack uses the same groups,
   * so each one starts where the previous one stopped (the broker is fresh, the first starts at offset 0).
   */
  groupSuffix: string;
  stop(): Promise<void>;
}

export interface FaultStackOptions {
  ownBroker: boolean;
  /**
   * A three-node cluster with MSK's broker properties instead of the single broker (with `ownBroker`):
   * topics get the catalog's replication factor (3), as on MSK.
   */
  ownCluster?: boolean;
  tap: LogTap;
}

export const inspectionKafka = (brokers: string[]): Kafka =>
  new KafkaClient({
    clientId: 'faults',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { ...CLIENT_DEFAULTS.retry },
  });

export const startFaultStack = async (options: FaultStackOptions): Promise<FaultStack> => {
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch(() => undefined);
  };
  const savedEnv = { ...process.env };
  stops.push(async () => {
    await resetClients();
    process.env = savedEnv;
  });
  try {
    let broker: RunningKafka | undefined;
    let cluster: RunningCluster | undefined;
    if (options.ownBroker && options.ownCluster) {
      const started = await startCluster();
      cluster = started;
      stops.push(async () => {
        await started.stop();
        await rm(started.dataDir, { recursive: true, force: true });
      });
    } else if (options.ownBroker) {
      const port = await freePort();
      const dataDir = join(LOCAL_DIR, 'kafka-data', `faults-${port}`);
      await rm(dataDir, { recursive: true, force: true });
      broker = await startKafka({ port, dataDir });
      const started = broker;
      stops.push(async () => {
        await started.stop();
        started.kill();
        await rm(dataDir, { recursive: true, force: true });
      });
    }
    const brokers =
      cluster?.brokers ?? broker?.brokers ?? (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
    if (brokers.length === 0) throw new Error('No broker: pass ownBroker or set KAFKA_BROKERS');
    const kafka = inspectionKafka(brokers);
    if (cluster) await provisionOnCluster(kafka);
    else await provisionTopics(kafka);
    await waitForLeaders(kafka);

    const aws: LocalAws = await startLocalAws({ dynamoPort: 0, sesPort: 0, sqsPort: 0, env: {} });
    stops.push(() => aws.stop());
    const dynamoDirect = aws.env[ENDPOINT_ENV.dynamodb] as string;
    const sesDirect = aws.env[ENDPOINT_ENV.ses] as string;
    const dynamoProxy = await startProxy(dynamoDirect);
    const sesProxy = await startProxy(sesDirect);
    stops.push(
      () => dynamoProxy.close(),
      () => sesProxy.close(),
    );

    // This process talks to the stores directly (counting goes on while a proxy is cut).
    await resetClients();
    Object.assign(process.env, aws.env, { KAFKA_BROKERS: brokers.join(',') });
    const queueUrl = aws.env[DEAD_LETTER_QUEUE.env] as string;
    const sqsClient = new SQSClient(awsClientConfig('sqs', aws.env));
    stops.push(async () => sqsClient.destroy());
    return {
      brokers,
      ...(broker ? { broker } : {}),
      ...(cluster ? { cluster } : {}),
      kafka,
      childEnv: {
        ...aws.env,
        KAFKA_BROKERS: brokers.join(','),
        [ENDPOINT_ENV.dynamodb]: dynamoProxy.endpoint,
        [ENDPOINT_ENV.ses]: sesProxy.endpoint,
        POWERTOOLS_LOG_LEVEL: 'DEBUG',
      },
      sesEndpoint: sesDirect,
      sqs: { client: sqsClient, queueUrl },
      dynamoProxy,
      sesProxy,
      tap: options.tap,
      groupSuffix: `-faults-${randomUUID().slice(0, 8)}`,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
};

/**
 * The catalog's topics with their replication factor (3), as on MSK. Right after creating them, a node that
 * has not applied the new metadata yet answers UNKNOWN_TOPIC_OR_PARTITION to kafkajs's wait for leaders;
 * provisioning is idempotent, so it is simply asked again.
 */
const provisionOnCluster = async (kafka: Kafka): Promise<void> => {
  for (let attempt = 1; ; attempt++) {
    try {
      await provisionTopics(kafka, topicSpecs());
      return;
    } catch (error) {
      if (attempt >= 10 || (error as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw error;
      await sleep(1_000);
    }
  }
};

/** Waits until every catalog topic's partitions have a leader (a fresh broker takes a moment after creating them). */
export const waitForLeaders = async (kafka: Kafka, timeoutMs = 60_000): Promise<void> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = [...catalogTopics(), DLQ_TOPIC];
    const ok = await waitFor(
      async () => {
        try {
          const { topics: meta } = await admin.fetchTopicMetadata({ topics });
          return meta.length === topics.length && meta.every((t) => t.partitions.every((p) => p.leader >= 0));
        } catch {
          return false;
        }
      },
      timeoutMs,
      500,
    );
    if (!ok) throw new Error('topics have no leader after provisioning');
  } finally {
    await admin.disconnect();
  }
};

/** Consumer groups of a run: the definitions' groups with a per-run suffix, so runs never share offsets. */
export const runGroups = (suffix: string) =>
  CONSUMERS.map((c) => ({
    name: c.name,
    groupId: `${c.groupId}${suffix}`,
    topics: [...c.topics] as string[],
  }));

/** Records not yet committed by the run's groups on `topics` (0 = everything processed or dead-lettered). */
export const lag = async (kafka: Kafka, suffix: string, topics: string[]): Promise<number> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let total = 0;
    const ends = new Map<string, Map<number, bigint>>();
    for (const topic of topics) {
      ends.set(
        topic,
        new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)])),
      );
    }
    for (const group of runGroups(suffix)) {
      const mine = topics.filter((t) => group.topics.includes(t));
      if (mine.length === 0) continue;
      for (const { topic, partitions } of await admin.fetchOffsets({
        groupId: group.groupId,
        topics: mine,
      })) {
        for (const p of partitions) {
          const end = ends.get(topic)?.get(p.partition) ?? 0n;
          const committed = p.offset === '-1' ? 0n : BigInt(p.offset);
          if (end > committed) total += Number(end - committed);
        }
      }
    }
    return total;
  } finally {
    await admin.disconnect();
  }
};

/** Waits until the run's groups have committed everything on `topics`; the time it took, or null. */
export const waitCaughtUp = async (
  kafka: Kafka,
  suffix: string,
  topics: string[],
  timeoutMs: number,
): Promise<number | null> => {
  const started = Date.now();
  const ok = await waitFor(
    async () => (await lag(kafka, suffix, topics).catch(() => 1)) === 0,
    timeoutMs,
    500,
  );
  return ok ? Date.now() - started : null;
};

/** Audit entries written for events of `service`, as eventId → number of entries. */
export const auditEntries = async (service: string): Promise<Map<string, number>> => {
  const counts = new Map<string, number>();
  let start: Record<string, unknown> | undefined;
  do {
    const out = await dynamo().send(
      new ScanCommand({
        TableName: TABLES.audit.name,
        FilterExpression: 'sk = :audit AND service = :service',
        ProjectionExpression: 'eventId',
        ExpressionAttributeValues: { ':audit': 'AUDIT', ':service': service },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of out.Items ?? []) {
      const id = String(item.eventId);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return counts;
};

/**
 * How many audit entries a run's events have so far (events.ts faultActor), by the byActor index: a count
 * that stays cheap however large the table has grown, unlike auditEntries' scan.
 */
export const auditCount = async (actorId: string): Promise<number> => {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await dynamo().send(
      new QueryCommand({
        TableName: TABLES.audit.name,
        IndexName: 'byActor',
        KeyConditionExpression: 'performedBy = :a',
        ExpressionAttributeValues: { ':a': actorId },
        Select: 'COUNT',
        ExclusiveStartKey: start,
      }),
    );
    count += out.Count ?? 0;
    start = out.LastEvaluatedKey;
  } while (start);
  return count;
};

/** How many times each event of `ids` is on `topics` (reads them from the beginning with a fresh group). */
export const kafkaCopies = async (kafka: Kafka, topics: string[], ids: Set<string>) => {
  const admin = kafka.admin();
  await admin.connect();
  const remaining = new Map<string, bigint>();
  for (const topic of topics)
    for (const p of await admin.fetchTopicOffsets(topic))
      if (BigInt(p.high) > BigInt(p.low)) remaining.set(`${topic}:${p.partition}`, BigInt(p.high));
  await admin.disconnect();
  const copies = new Map<string, number>();
  if (remaining.size === 0) return copies;
  const consumer = kafka.consumer({ groupId: `faults-read-${randomUUID()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  let done!: () => void;
  const finished = new Promise<void>((ok) => {
    done = ok;
  });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const id = eventIdOf(m.value);
        if (id && ids.has(id)) copies.set(id, (copies.get(id) ?? 0) + 1);
      }
      const key = `${batch.topic}:${batch.partition}`;
      const end = remaining.get(key);
      if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end) remaining.delete(key);
      if (remaining.size === 0) done();
    },
  });
  const timer = setTimeout(done, 120_000);
  await finished;
  clearTimeout(timer);
  await consumer.disconnect();
  return copies;
};

export const eventIdOf = (value: Buffer | null | undefined): string | undefined => {
  if (!value) return undefined;
  try {
    const id = (JSON.parse(value.toString('utf8')) as { eventId?: unknown }).eventId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
};

/** Dead letters on esante.dlq whose original record is one of `ids` (or matches `match`). */
export const kafkaDeadLetters = async (
  kafka: Kafka,
  match: (entry: DlqEntry, eventId: string | undefined) => boolean,
): Promise<DlqEntry[]> => {
  const all = await listKafkaDeadLetters(kafka);
  return all.filter((e) => {
    const value = e.letter?.original.value;
    return match(e, value ? eventIdOf(Buffer.from(value, 'base64')) : undefined);
  });
};

export const sqsDeadLetters = (stack: FaultStack) => listSqsDeadLetters(stack.sqs.client, stack.sqs.queueUrl);

/** E-mails the SES server accepted, per recipient address, for the addresses in `to`. */
export const emailsPerAddress = async (stack: FaultStack, to: Set<string>) => {
  const counts = new Map<string, number>();
  for (const email of await sentEmails(stack.sesEndpoint))
    for (const address of email.destination.to)
      if (to.has(address)) counts.set(address, (counts.get(address) ?? 0) + 1);
  return counts;
};

/** E-mails the SES server accepted for the addresses in `to`, in the order it accepted them. */
export const sentEmailsTo = async (stack: FaultStack, to: Set<string>) =>
  (await sentEmails(stack.sesEndpoint)).filter((e) => e.destination.to.some((a) => to.has(a)));

/**
 * The ESM child process (test/faults/esm-child.ts): started, SIGKILLed and restarted by the scenarios.
 * Its stdout and stderr go through the stack's log tap. An exit the scenario did not cause is a crash.
 */
export class EsmChild {
  #child: ChildProcess | undefined;
  #expectingExit = false;
  starts = 0;
  kills = 0;
  crashes: string[] = [];

  constructor(
    private readonly stack: FaultStack,
    readonly suffix: string,
    private readonly windowScale = 0.2,
  ) {}

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  async start(timeoutMs = 90_000): Promise<void> {
    this.starts += 1;
    const n = this.starts;
    this.#expectingExit = false;
    const child = spawn(
      join(REPO_ROOT, 'node_modules/.bin/node'),
      ['--import', 'tsx', 'test/faults/esm-child.ts'],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          ...this.stack.childEnv,
          FAULTS_GROUP_SUFFIX: this.suffix,
          FAULTS_WINDOW_SCALE: String(this.windowScale),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.#child = child;
    const ready = new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error('the ESM child did not get ready in time')), timeoutMs);
      const outSink = this.stack.tap.sink(`esm-child#${n}:stdout`);
      child.stdout?.on('data', (chunk: Buffer) => {
        outSink(chunk);
        if (chunk.toString().includes('"faultsChild":"ready"')) {
          clearTimeout(timer);
          ok();
        }
      });
      child.stderr?.on('data', this.stack.tap.sink(`esm-child#${n}:stderr`));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (!this.#expectingExit) {
          this.crashes.push(`esm-child#${n} exited (code ${code}, signal ${signal})`);
          fail(new Error(`the ESM child exited (code ${code}, signal ${signal})`));
        }
      });
    });
    await ready;
  }

  /** SIGKILL: no shutdown hook runs, in-flight invocations die half-way. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    this.kills += 1;
    this.#expectingExit = true;
    const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    this.#expectingExit = true;
    const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}
