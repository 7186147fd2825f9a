import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { fromKafkaMessage, type RawRecord } from '../../../shared/kafka/record.ts';

/**
 * Reads `topic` from the beginning with a throw-away consumer group until `count` records match, then
 * stops (or fails after `timeoutMs`). The records come back as the bus's RawRecords, bytes intact.
 */
export const fetchRecords = async (
  kafka: Kafka,
  topic: string,
  match: (record: RawRecord) => boolean,
  count: number,
  timeoutMs = 30_000,
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
    });
  } finally {
    await consumer.disconnect();
  }
  return found;
};

export const json = (record: RawRecord): Record<string, unknown> =>
  JSON.parse(record.value?.toString('utf8') ?? 'null') as Record<string, unknown>;
