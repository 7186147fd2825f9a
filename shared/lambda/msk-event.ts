import type { MSKEvent, MSKRecord } from 'aws-lambda';
import * as z from 'zod';
import { MalformedRecordError } from '../errors.ts';
import type { RawRecord } from '../kafka/record.ts';

/**
 * The MSK event Lambda receives (https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html): records
 * grouped under "topic-partition" keys, key and value base64-encoded, headers as a list of one-entry
 * objects whose value is an array of byte values, offsets and timestamps as numbers. A null key or value
 * is sent without the field.
 */
export type MskRecord = Omit<MSKRecord, 'key' | 'value'> & { key?: string; value?: string | null };
export type MskEvent = Omit<MSKEvent, 'records'> & { records: Record<string, MskRecord[]> };

/** The identifier AWS expects in `batchItemFailures` for a Kafka record: `{ partition: "topic-partition", offset }`. */
export interface KafkaItemIdentifier {
  partition: string;
  offset: number;
}

export interface KafkaBatchResponse {
  batchItemFailures: { itemIdentifier: KafkaItemIdentifier }[];
}

export const partitionKey = (topic: string, partition: number): string => `${topic}-${partition}`;

/** MSK record → the bus's RawRecord (bytes, headers as Buffers, offset as a string). */
export const fromMskRecord = (record: MskRecord): RawRecord => {
  const headers: Record<string, Buffer | undefined> = {};
  for (const header of record.headers ?? []) {
    for (const [name, bytes] of Object.entries(header)) {
      if (!(name in headers)) headers[name] = Buffer.from(bytes);
    }
  }
  return {
    topic: record.topic,
    partition: record.partition,
    offset: String(record.offset),
    timestamp: String(record.timestamp),
    key: record.key == null ? null : Buffer.from(record.key, 'base64'),
    value: record.value == null ? null : Buffer.from(record.value, 'base64'),
    headers,
  };
};

/** Every record of the event, in the order AWS lists them (partition groups, then offsets). */
export const fromMskEvent = (event: MskEvent): RawRecord[] =>
  Object.values(event.records).flat().map(fromMskRecord);

/** RawRecord → MSK record, as the ESM builds it (used by the local emulator and test fixtures). */
export const toMskRecord = (
  record: RawRecord,
  timestampType: MSKRecord['timestampType'] = 'CREATE_TIME',
): MskRecord => ({
  topic: record.topic,
  partition: record.partition,
  offset: Number(record.offset),
  timestamp: Number(record.timestamp),
  timestampType,
  ...(record.key === null ? {} : { key: record.key.toString('base64') }),
  ...(record.value === null ? {} : { value: record.value.toString('base64') }),
  headers: Object.entries(record.headers)
    .filter((entry): entry is [string, Buffer] => entry[1] !== undefined)
    .map(([name, bytes]) => ({ [name]: [...bytes] })),
});

export const toMskEvent = (
  records: RawRecord[],
  source: { eventSourceArn: string; bootstrapServers: string },
): MskEvent => {
  const grouped: Record<string, MskRecord[]> = {};
  for (const record of records) {
    const key = partitionKey(record.topic, record.partition);
    grouped[key] ??= [];
    grouped[key].push(toMskRecord(record));
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: source.eventSourceArn,
    bootstrapServers: source.bootstrapServers,
    records: grouped,
  };
};

const mskRecordSchema = z.object({
  topic: z.string().min(1),
  partition: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
  timestamp: z.number(),
  timestampType: z.enum(['CREATE_TIME', 'LOG_APPEND_TIME']),
  key: z.string().nullish(),
  value: z.string().nullish(),
  headers: z.array(z.record(z.string(), z.array(z.number().int().min(0).max(255)))).default([]),
});

const mskEventSchema = z.object({
  eventSource: z.enum(['aws:kafka', 'SelfManagedKafka']),
  eventSourceArn: z.string().optional(),
  bootstrapServers: z.string().optional(),
  records: z.record(z.string(), z.array(mskRecordSchema)),
});

/**
 * Checks that an invocation payload is an MSK (or self-managed Kafka) event before any record is touched.
 * The shape is AWS's; a payload that is not one is a wrong trigger, not a bad record: the invocation fails
 * with a MalformedRecordError naming the bad paths (never the values).
 */
export const parseMskEvent = (event: unknown): MskEvent => {
  const parsed = mskEventSchema.safeParse(event);
  if (!parsed.success) {
    const paths = parsed.error.issues.map((i) => i.path.map(String).join('.') || '(root)');
    throw new MalformedRecordError(`Not a Kafka event (bad: ${[...new Set(paths)].slice(0, 10).join(', ')})`);
  }
  return parsed.data as MskEvent;
};
