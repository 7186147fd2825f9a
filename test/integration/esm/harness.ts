import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type Admin, Kafka, logLevel, type Producer } from 'kafkajs';
import { consumerByName } from '../../../infra/consumers.ts';
import { type EsmOptions, type RunningEsm, startEsm } from '../../../infra/local/esm/emulator.ts';
import { type OnFailureSink, sqsOnFailureSink } from '../../../infra/local/esm/on-failure.ts';
import type { EsmSource } from '../../../infra/local/esm/source.ts';
import { freePort } from '../../../infra/local/kafka/free-port.ts';
import { type RunningElasticMq, startElasticMq } from '../../../infra/local/sqs/elasticmq.ts';

/**
 * Real parts for the ESM tests: the run's Kafka broker (global setup), one ElasticMQ per file, a fresh topic,
 * consumer group and SQS queue per test. Everything started here is stopped by `close()`.
 */
export interface EsmHarness {
  brokers: string[];
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  sqs: SQSClient;
  elasticMq: RunningElasticMq;
  close(): Promise<void>;
}

export const startHarness = async (): Promise<EsmHarness> => {
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
  const kafka = new Kafka({ clientId: 'esm-test', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  const dataDir = await mkdtemp(join(tmpdir(), 'esm-sqs-'));
  const elasticMq = await startElasticMq({ port: await freePort(), dataDir });
  const sqs = new SQSClient({
    endpoint: elasticMq.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return {
    brokers,
    kafka,
    admin,
    producer,
    sqs,
    elasticMq,
    async close() {
      await Promise.allSettled([admin.disconnect(), producer.disconnect()]);
      await elasticMq.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
};

export interface EsmCase {
  topic: string;
  queueUrl: string;
  sink: OnFailureSink;
  source: EsmSource;
  esm?: RunningEsm;
  start(options: Partial<EsmOptions> & Pick<EsmOptions, 'handler'>): Promise<RunningEsm>;
  produce(values: string[], partition?: number): Promise<void>;
  committed(partition?: number): Promise<string | undefined>;
  /** Reads every message now in the queue (and deletes them). */
  onFailureRecords(waitSeconds?: number): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

/** A fresh topic/group/queue and a definition from consumers.ts with test-only overrides. */
export const newCase = async (
  h: EsmHarness,
  overrides: Partial<EsmSource> = {},
  partitions = 1,
): Promise<EsmCase> => {
  const run = randomUUID().slice(0, 8);
  const topic = `esm-test-${run}`;
  await h.admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  const { QueueUrl } = await h.sqs.send(new CreateQueueCommand({ QueueName: `esm-dlq-${run}` }));
  const queueUrl = QueueUrl as string;
  const sink = sqsOnFailureSink({ ESM_DLQ_URL: queueUrl, SQS_ENDPOINT: h.elasticMq.endpoint });
  const base = consumerByName('audit');
  if (!base) throw new Error('consumers.ts has no audit definition');
  const source: EsmSource = { ...base, topics: [topic], groupId: `esm-test-${run}`, ...overrides };
  const c: EsmCase = {
    topic,
    queueUrl,
    sink,
    source,
    async start(options) {
      c.esm = await startEsm({
        source,
        onFailure: sink,
        kafka: h.kafka,
        bootstrapServers: h.brokers.join(','),
        windowScale: 0.1,
        retryDelayMs: 10,
        ...options,
      });
      return c.esm;
    },
    async produce(values, partition = 0) {
      await h.producer.send({
        topic,
        messages: values.map((value, i) => ({
          partition,
          key: `k${i}`,
          value,
          headers: { 'event-type': 'test', trace: Buffer.from([0, 1, 255]) },
        })),
      });
    },
    async committed(partition = 0) {
      const [t] = await h.admin.fetchOffsets({ groupId: source.groupId, topics: [topic] });
      const offset = t?.partitions.find((p) => p.partition === partition)?.offset;
      return offset === undefined || offset === '-1' ? undefined : offset;
    },
    async onFailureRecords(waitSeconds = 1) {
      const out: Record<string, unknown>[] = [];
      for (;;) {
        const { Messages = [] } = await h.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: waitSeconds,
          }),
        );
        if (Messages.length === 0) return out;
        for (const m of Messages) {
          out.push(JSON.parse(m.Body ?? '{}') as Record<string, unknown>);
          await h.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
        }
        waitSeconds = 0;
      }
    },
    async stop() {
      await c.esm?.stop();
      // Topics stay: kafkajs clients keep a deleted topic in their metadata targets and then fail every
      // refresh. The run's broker and its data dir are thrown away by the global setup's teardown.
      await h.admin.deleteGroups([source.groupId]).catch(() => undefined);
    },
  };
  return c;
};

/** Polls `check` until it returns a value other than undefined/false (fails after `timeoutMs`). */
export const eventually = async <T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 30_000,
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** Records an invocation's offsets, per partition key, in call order. */
export const offsetsOf = (event: { records: Record<string, { offset: number }[]> }): number[] =>
  Object.values(event.records)
    .flat()
    .map((r) => r.offset);
