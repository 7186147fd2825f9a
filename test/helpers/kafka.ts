import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { provisionTopics } from '../../shared/kafka/admin.ts';
import { registerCodecs } from '../../shared/kafka/codecs.ts';
import { CLIENT_DEFAULTS } from '../../shared/kafka/config.ts';

/** A kafkajs client on the run's broker (the global setup's, or KAFKA_BROKERS). */
export const testKafka = (clientId = 'test'): Kafka => {
  registerCodecs();
  return new Kafka({
    clientId,
    brokers: (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(','),
    logLevel: logLevel.NOTHING,
    retry: { ...CLIENT_DEFAULTS.retry },
  });
};

/** Unique names so tests sharing the broker never see each other's groups or ids. */
export const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

let provisioned: Promise<unknown> | undefined;
/** Catalog topics exist once per worker (provisioning is idempotent). */
export const ensureCatalogTopics = (): Promise<unknown> => {
  provisioned ??= provisionTopics(testKafka('provision'));
  return provisioned;
};

/** Sum of the end offsets of a topic's partitions. */
export const endOffset = async (kafka: Kafka, topic: string): Promise<number> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
};

export interface Collected {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * Reads `topics` from the beginning with a fresh group until `until(records)` holds or the time runs out,
 * and returns what it read. For assertions on what actually reached the broker.
 */
export const collect = async (
  kafka: Kafka,
  topics: string[],
  until: (records: Collected[]) => boolean,
  timeoutMs = 30_000,
  /** Start here instead of the beginning (topicEnds before the act): a shared topic's backlog is not read. */
  since?: TopicEnds,
): Promise<Collected[]> => {
  const consumer = kafka.consumer({ groupId: unique('collect'), maxWaitTimeInMs: 200 });
  const records: Collected[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.headers ?? {}))
          headers[k] = String(Array.isArray(v) ? v[0] : v);
        records.push({
          topic: batch.topic,
          partition: batch.partition,
          offset: m.offset,
          key: m.key?.toString() ?? null,
          value: m.value,
          headers,
        });
      }
      if (until(records)) done();
    },
  });
  for (const [topic, ends] of Object.entries(since ?? {}))
    for (const { partition, offset } of ends) consumer.seek({ topic, partition, offset });
  const timer = setTimeout(done, timeoutMs);
  await finished;
  clearTimeout(timer);
  await consumer.disconnect();
  return records;
};

export type TopicEnds = Record<string, { partition: number; offset: string }[]>;

/** Each partition's next offset for `topics`: where `collect(…, since)` starts reading. */
export const topicEnds = async (kafka: Kafka, topics: string[]): Promise<TopicEnds> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends: TopicEnds = {};
    for (const topic of topics)
      ends[topic] = (await admin.fetchTopicOffsets(topic)).map(({ partition, offset }) => ({
        partition,
        offset,
      }));
    return ends;
  } finally {
    await admin.disconnect();
  }
};

/**
 * Polls `fn` until it returns a truthy value, and returns it; when the time runs out, throws an error naming
 * what was awaited (`what`, or the condition's source when a caller passes only a timeout).
 */
export async function eventually<T>(
  fn: () => Promise<T> | T,
  what: string,
  timeoutMs?: number,
  everyMs?: number,
): Promise<T>;
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs?: number): Promise<T>;
export async function eventually<T>(
  fn: () => Promise<T> | T,
  whatOrTimeout?: string | number,
  timeoutMs = typeof whatOrTimeout === 'number' ? whatOrTimeout : 20_000,
  everyMs = 100,
): Promise<T> {
  const what = typeof whatOrTimeout === 'string' ? whatOrTimeout : `\`${String(fn)}\``;
  const deadline = Date.now() + timeoutMs;
  let value = await fn();
  while (!value) {
    if (Date.now() >= deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
    value = await fn();
  }
  return value;
}
