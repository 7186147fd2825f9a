import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { fromKafkaMessage, type RawRecord } from '../../../shared/kafka/record.ts';

/**
 * Reads `topic` from the beginning (or from `since`, the offsets `topicOffsets` took before the act) with a
 * throw-away consumer group until `count` records match, then stops (or fails after `timeoutMs`). The
 * records come back as the bus's RawRecords, bytes intact. Pass `since` for a topic every test file writes
 * to (esante.dlq): on the shared broker its backlog grows with the run, and reading it all is what a
 * loaded machine then waits on.
 */
export const fetchRecords = async (
  kafka: Kafka,
  topic: string,
  match: (record: RawRecord) => boolean,
  count: number,
  timeoutMs = 30_000,
  since?: PartitionOffsets,
): Promise<RawRecord[]> => {
  const consumer = kafka.consumer({ groupId: `it-${randomUUID()}`, maxWaitTimeInMs: 200 });
  const found: RawRecord[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Only ${found.length}/${count} matching record(s) on ${topic}`)),
        timeoutMs,
      );
      void consumer
        .run({
          eachMessage: async ({ topic: t, partition, message }) => {
            const record = fromKafkaMessage(t, partition, message);
            if (match(record)) found.push(record);
            if (found.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
      for (const { partition, offset } of since ?? []) consumer.seek({ topic, partition, offset });
    });
  } finally {
    await consumer.disconnect();
  }
  return found;
};

export type PartitionOffsets = { partition: number; offset: string }[];

/** The next offset of each partition of `topic`: what `fetchRecords(…, since)` starts from. */
export const topicOffsets = async (kafka: Kafka, topic: string): Promise<PartitionOffsets> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).map(({ partition, offset }) => ({ partition, offset }));
  } finally {
    await admin.disconnect();
  }
};

export const json = (record: RawRecord): Record<string, unknown> =>
  JSON.parse(record.value?.toString('utf8') ?? 'null') as Record<string, unknown>;
