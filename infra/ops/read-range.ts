import type { Kafka } from 'kafkajs';
import { normaliseHeaders, type RawRecord } from '../../shared/kafka/record.ts';

/**
 * Reads offsets `first..last` (inclusive) of one topic-partition, bytes untouched. Used to recover the payload
 * of a batch AWS discarded: its on-failure record names offsets only. Bounded in time; a record missing
 * because retention already deleted it is reported by the caller comparing counts.
 */
export const readRange = async (
  kafka: Kafka,
  range: { topic: string; partition: number; first: string; last: string },
  timeoutMs = 20_000,
): Promise<RawRecord[]> => {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(range.topic);
  await admin.disconnect();
  const bounds = offsets.find((o) => o.partition === range.partition);
  const low = BigInt(bounds?.low ?? '0');
  const high = BigInt(bounds?.high ?? '0');
  const first = BigInt(range.first) > low ? BigInt(range.first) : low;
  const last = BigInt(range.last) < high - 1n ? BigInt(range.last) : high - 1n;
  if (first > last) return [];
  const consumer = kafka.consumer({
    groupId: `esante-ops-read-${process.pid}-${Date.now()}`,
    maxWaitTimeInMs: 200,
  });
  const records: RawRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [range.topic], fromBeginning: true });
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (batch.partition !== range.partition) return;
        for (const m of batch.messages) {
          const offset = BigInt(m.offset);
          if (offset < first || offset > last) continue;
          records.push({
            topic: range.topic,
            partition: range.partition,
            offset: m.offset,
            timestamp: m.timestamp,
            key: m.key,
            value: m.value,
            headers: normaliseHeaders(m.headers),
          });
        }
        if (BigInt(batch.lastOffset()) >= last) done();
      },
    });
    consumer.seek({ topic: range.topic, partition: range.partition, offset: first.toString() });
    const timer = setTimeout(done, timeoutMs);
    await finished;
    clearTimeout(timer);
  } finally {
    await consumer.disconnect();
  }
  return records;
};
