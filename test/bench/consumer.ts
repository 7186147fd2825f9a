import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { consumerByName } from '../../infra/consumers.ts';
import { type LambdaHandler, loadHandler, startEsm } from '../../infra/local/esm/emulator.ts';
import type { OnFailureRecord, OnFailureSink } from '../../infra/local/esm/on-failure.ts';
import type { EsmSource } from '../../infra/local/esm/source.ts';
import { KafkaConsumer } from '../../shared/kafka/consumer.ts';
import { mskConsumer } from '../../shared/lambda/consumer.ts';
import { BENCH_TOPICS, encodedFor, toMessage } from './events.ts';
import { rate, sleep } from './stats.ts';

/**
 * Row 2: records/s reading the same pre-filled topic (~1 KB consultation events), each reader with a fresh
 * consumer group from the beginning:
 * - the consumer utility (KafkaConsumer: decode + validate each record, a no-op handler, commit), beside
 *   raw kafkajs `eachBatch` (benchRawEachBatch) and Kafka's ConsumerPerformance (kafka-tools.ts);
 * - the ESM emulator driving the audit function (functions/audit/handler.ts) writing to local DynamoDB;
 * - the ESM emulator driving a no-op function built the same way (mskConsumer: middy, Powertools, decode,
 *   validate, per-record tier), which isolates our overhead from the store's.
 * Throughput runs from the first record handed to the reader (the group join is left out, for all three)
 * until the group's committed offsets reach the topic's end.
 */
const topic = BENCH_TOPICS.consumer;

export interface ReadThroughput {
  records: number;
  ms: number;
  perSecond: number;
}

/** Writes `count` encoded events to the consumer row's topic (raw kafkajs, large batches). */
export const CONSUMER_TOPIC = topic;

export const prefill = async (kafka: Kafka, count: number): Promise<number> => {
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    for (let sent = 0; sent < count; sent += 1000) {
      const n = Math.min(1000, count - sent);
      const messages = Array.from({ length: n }, (_, j) => toMessage(encodedFor(topic, sent + j)));
      await producer.sendBatch({ topicMessages: [{ topic, messages }], acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
  return endOffsets(kafka);
};

const endOffsets = async (kafka: Kafka): Promise<number> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
};

/** Polls the group's committed offsets until they sum to `total` (or `timeoutMs` passes). */
const untilCommitted = async (
  kafka: Kafka,
  groupId: string,
  total: number,
  timeoutMs: number,
): Promise<number> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const done = (t?.partitions ?? []).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
      if (done >= total) return done;
      if (Date.now() > deadline) throw new Error(`${groupId}: committed ${done} of ${total} in time`);
      await sleep(50);
    }
  } finally {
    await admin.disconnect();
  }
};

/**
 * The consumer utility's peer: raw kafkajs `eachBatch` in a fresh group from the beginning, the same
 * kafkajs client settings, each record's offset resolved (nothing decoded), kafkajs's auto-commit.
 */
export const benchRawEachBatch = async (
  kafka: Kafka,
  total: number,
  timeoutMs: number,
): Promise<ReadThroughput> => {
  const groupId = `bench-raw-${randomUUID().slice(0, 8)}`;
  let handled = 0;
  let first: number | undefined;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        first ??= performance.now();
        for (const message of batch.messages) {
          handled++;
          resolveOffset(message.offset);
        }
        await heartbeat();
      },
    });
    await untilCommitted(kafka, groupId, total, timeoutMs);
    const ms = performance.now() - (first as number);
    if (handled < total) throw new Error(`raw eachBatch handled ${handled} of ${total}`);
    return { records: total, ms, perSecond: rate(total, ms) };
  } finally {
    await consumer.disconnect();
  }
};

export const benchConsumerUtility = async (
  kafka: Kafka,
  total: number,
  timeoutMs: number,
): Promise<ReadThroughput> => {
  const groupId = `bench-consumer-${randomUUID().slice(0, 8)}`;
  let handled = 0;
  let first: number | undefined;
  const consumer = new KafkaConsumer(groupId, topic, { kafka, fromBeginning: true });
  consumer.registerHandler(topic, () => {
    first ??= performance.now();
    handled++;
  });
  await consumer.startConsuming();
  try {
    await untilCommitted(kafka, groupId, total, timeoutMs);
    const ms = performance.now() - (first as number);
    if (handled < total) throw new Error(`consumer handled ${handled} of ${total}`);
    return { records: total, ms, perSecond: rate(total, ms) };
  } finally {
    await consumer.disconnect();
  }
};

/** An on-failure sink that counts: any on-failure record means the row did not process every record. */
const countingSink = (): OnFailureSink & { records: OnFailureRecord[] } => {
  const records: OnFailureRecord[] = [];
  return {
    records,
    async send(record) {
      records.push(record);
    },
  };
};

/** The audit consumer's own definition (infra/consumers.ts), pointed at the bench topic and a fresh group. */
export const auditSource = (topics: string[]): EsmSource => {
  const base = consumerByName('audit');
  if (!base) throw new Error('infra/consumers.ts has no audit consumer');
  return { ...base, topics, groupId: `bench-audit-${randomUUID().slice(0, 8)}` };
};

export const noopHandler = (): LambdaHandler =>
  mskConsumer({ name: 'bench-noop', handlers: { [topic]: () => undefined } }) as unknown as LambdaHandler;

/**
 * The emulator reading the pre-filled topic until `target` records are committed (the whole topic by
 * default; the store-bound audit column stops earlier so a full run stays within its time budget).
 */
export const benchEsm = async (
  kafka: Kafka,
  brokers: string[],
  total: number,
  handler: LambdaHandler,
  timeoutMs: number,
  target = total,
): Promise<ReadThroughput> => {
  const source = auditSource([topic]);
  const sink = countingSink();
  let first: number | undefined;
  const esm = await startEsm({
    source,
    handler,
    onFailure: sink,
    kafka,
    bootstrapServers: brokers.join(','),
    observer: {
      invoking() {
        first ??= performance.now();
      },
    },
  });
  try {
    const records = await untilCommitted(kafka, source.groupId, Math.min(target, total), timeoutMs);
    const ms = performance.now() - (first as number);
    if (sink.records.length > 0)
      throw new Error(`${sink.records.length} on-failure record(s): not all processed`);
    return { records, ms, perSecond: rate(records, ms) };
  } finally {
    await esm.stop();
  }
};

export const auditHandler = (): Promise<LambdaHandler> => {
  const entry = consumerByName('audit')?.entry;
  if (!entry) throw new Error('infra/consumers.ts has no audit consumer');
  return loadHandler(entry);
};
