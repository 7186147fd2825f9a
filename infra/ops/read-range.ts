import type { Kafka } from 'kafkajs';
import { fromKafkaMessage, type RawRecord } from '../../shared/kafka/record.ts';

export interface OffsetRange {
  topic: string;
  partition: number;
  /** Inclusive, as strings (Kafka offsets are 64-bit). */
  first: string;
  last: string;
}

/**
 * Reads offsets `first..last` (inclusive) of one topic-partition, bytes untouched. Used to recover the payload
 * of a batch AWS discarded: its on-failure record names offsets only. Bounded in time; a record missing
 * because retention already deleted it is reported by the caller comparing counts.
 */
export const readRange = (kafka: Kafka, range: OffsetRange, timeoutMs = 60_000): Promise<RawRecord[]> =>
  readRanges(kafka, [range], timeoutMs);

/**
 * Reads several ranges of ONE topic with one consumer (one group join instead of one per partition), in
 * partition then offset order. The ranges are first clamped to what the partitions still hold. The
 * throw-away consumer group never commits and is deleted afterwards.
 */
export const readRanges = async (
  kafka: Kafka,
  ranges: OffsetRange[],
  timeoutMs = 60_000,
): Promise<RawRecord[]> => {
  const topic = ranges[0]?.topic;
  if (topic === undefined) return [];
  if (ranges.some((r) => r.topic !== topic)) throw new Error('readRanges reads one topic at a time');
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `esante-ops-read-${process.pid}-${Date.now()}`;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const wanted = new Map<number, { first: bigint; last: bigint }>();
    for (const range of ranges) {
      const bounds = offsets.find((o) => o.partition === range.partition);
      const low = BigInt(bounds?.low ?? '0');
      const high = BigInt(bounds?.high ?? '0');
      const first = BigInt(range.first) > low ? BigInt(range.first) : low;
      const last = BigInt(range.last) < high - 1n ? BigInt(range.last) : high - 1n;
      if (first > last) continue;
      const known = wanted.get(range.partition);
      wanted.set(range.partition, {
        first: known && known.first < first ? known.first : first,
        last: known && known.last > last ? known.last : last,
      });
    }
    if (wanted.size === 0) return [];
    const inRange = (partition: number, offset: bigint) =>
      ranges.some((r) => r.partition === partition && offset >= BigInt(r.first) && offset <= BigInt(r.last));
    const records: RawRecord[] = [];
    const pending = new Set(wanted.keys());
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      let done!: () => void;
      let fail!: (error: Error) => void;
      const finished = new Promise<void>((resolve, reject) => {
        done = resolve;
        fail = reject;
      });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const want = wanted.get(batch.partition);
          if (!want || !pending.has(batch.partition)) return;
          for (const m of batch.messages) {
            const offset = BigInt(m.offset);
            if (!inRange(batch.partition, offset)) continue;
            records.push(fromKafkaMessage(topic, batch.partition, m));
          }
          if (BigInt(batch.lastOffset()) >= want.last) {
            pending.delete(batch.partition);
            if (pending.size === 0) done();
          }
        },
      });
      for (const [partition, { first }] of wanted)
        consumer.seek({ topic, partition, offset: first.toString() });
      // A partial answer would look like a complete one to an operator: fail loudly instead.
      const timer = setTimeout(
        () =>
          fail(
            new Error(
              `Timed out after ${timeoutMs} ms reading ${topic} partition(s) ${[...pending].join(', ')}; nothing was changed, try again`,
            ),
          ),
        timeoutMs,
      );
      await finished;
      clearTimeout(timer);
    } finally {
      await consumer.disconnect();
    }
    // A record may come twice if a fetch was in flight when the seek landed: keep the first of each offset.
    const seen = new Set<string>();
    return records
      .filter((r) => {
        const id = `${r.partition}:${r.offset}`;
        if (seen.has(id)) return false;
        seen.add(id);
        return true;
      })
      .sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
};
