import type { KafkaMessage } from 'kafkajs';

/**
 * A Kafka record as both tiers see it, whatever delivered it (kafkajs consumer, MSK event, emulator).
 * Bytes stay bytes until decoding, so a record that cannot be decoded is dead-lettered exactly as it came.
 */
export interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  /** Broker or producer timestamp, milliseconds since the epoch, as a string (kafkajs style). */
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | undefined>;
}

/** Where a record came from, safe to log (no payload). */
export const recordRef = (record: Pick<RawRecord, 'topic' | 'partition' | 'offset'>) => ({
  topic: record.topic,
  partition: record.partition,
  offset: record.offset,
});

/** A kafkajs message as a RawRecord (the one place the mapping lives). */
export const fromKafkaMessage = (topic: string, partition: number, message: KafkaMessage): RawRecord => ({
  topic,
  partition,
  offset: message.offset,
  timestamp: message.timestamp,
  key: message.key,
  value: message.value,
  headers: normaliseHeaders(message.headers),
});

/** kafkajs headers may be strings, Buffers or arrays of them; keep the first value of each as bytes. */
export const normaliseHeaders = (
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined,
): Record<string, Buffer | undefined> => {
  const out: Record<string, Buffer | undefined> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    out[name] = first === undefined ? undefined : Buffer.isBuffer(first) ? first : Buffer.from(first);
  }
  return out;
};
