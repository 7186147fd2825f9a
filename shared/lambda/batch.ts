import { describeError } from '../errors.ts';
import { type BusEvent, decodeEvent } from '../events/envelope.ts';
import {
  type ProcessOptions,
  type ProcessOutcome,
  processRecord,
  type RecordContext,
  recordAnomalies,
} from '../kafka/process.ts';
import { type RawRecord, recordRef } from '../kafka/record.ts';
import { logger } from '../log.ts';
import {
  fromMskRecord,
  type KafkaBatchResponse,
  type KafkaItemIdentifier,
  type MskEvent,
  type MskRecord,
  parseMskEvent,
  partitionKey,
} from './msk-event.ts';

/** A partition's records, in offset order, for a handler that does the partition's work in one step. */
export type PartitionHandler<E = BusEvent> = (items: { event: E; context: RecordContext }[]) => Promise<void>;

export interface BatchOptions extends ProcessOptions {
  /**
   * A handler taking a partition's decoded records at once (the audit trail appends them as one step). The
   * per-record handler stays the path of record: when any record of the partition does not decode, or the
   * partition handler throws, the partition is handled record by record, with the per-record tier's
   * retries, dead letters and in-order stop (the partition handler must be idempotent, like every handler).
   */
  resolvePartitionHandler?: (topic: string) => PartitionHandler | undefined;
  /** Milliseconds left in the invocation (Lambda's `context.getRemainingTimeInMillis`). */
  remainingTimeMs?: () => number;
  /**
   * Records are not started with less time than this left: they are reported as failures instead, so the
   * ESM redelivers them rather than the whole batch timing out (default 5 s).
   */
  reserveMs?: number;
  /** Called once per record that reached an outcome (metrics, tests). */
  onOutcome?: (record: RawRecord, outcome: ProcessOutcome) => void;
}

export type RecordResult =
  | { record: RawRecord; outcome: ProcessOutcome }
  | { record: RawRecord; failed: 'transient' | 'dead-letter-failed' | 'not-started' | 'after-failure' };

const byOffset = (a: MskRecord, b: MskRecord): number => a.offset - b.offset;

/**
 * Runs every record of an MSK event through the per-record failure tier (`processRecord`: decode and
 * validate against the catalog, bounded retry, dead-letter to esante.dlq what can never succeed) and returns
 * the partial batch response in the Kafka shape. Partitions run concurrently; the records of one partition
 * run one after the other in offset order. A record still failing for a transient reason after the
 * in-function retries (a downstream briefly down), or one that could not even be dead-lettered (DLQ
 * unreachable), is reported with every later record of its partition: the ESM then retries that partition
 * from the lowest failed offset (MaximumRetryAttempts, MaximumRecordAgeInSeconds, bisection from
 * infra/consumers.ts), and only when those run out sends the on-failure record to the SQS queue. Nothing is
 * dropped, nothing transient is dead-lettered, and per-key order holds.
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
 */
export const processMskEvent = async (event: unknown, options: BatchOptions): Promise<KafkaBatchResponse> => {
  const results = await processMskRecords(event, options);
  return toBatchResponse(results);
};

/** Same as processMskEvent, with the per-record results. */
export const processMskRecords = async (event: unknown, options: BatchOptions): Promise<RecordResult[]> => {
  const msk: MskEvent = parseMskEvent(event);
  const partitions = Object.values(msk.records).map((records) => [...records].sort(byOffset));
  const perPartition = await Promise.all(partitions.map((records) => processPartition(records, options)));
  return perPartition.flat();
};

const processPartition = async (records: MskRecord[], options: BatchOptions): Promise<RecordResult[]> => {
  const reserveMs = options.reserveMs ?? 5_000;
  const topic = records[0]?.topic;
  const partitionHandler = topic === undefined ? undefined : options.resolvePartitionHandler?.(topic);
  if (partitionHandler && (!options.remainingTimeMs || options.remainingTimeMs() >= reserveMs)) {
    const results = await processAtOnce(records, partitionHandler, options);
    if (results) return results;
  }
  const results: RecordResult[] = [];
  let stopped: 'transient' | 'dead-letter-failed' | 'not-started' | undefined;
  for (const mskRecord of records) {
    const record = fromMskRecord(mskRecord);
    if (stopped) {
      results.push({ record, failed: stopped === 'not-started' ? 'not-started' : 'after-failure' });
      continue;
    }
    if (options.remainingTimeMs && options.remainingTimeMs() < reserveMs) {
      logger.warn('Not enough time left, leaving the rest of the partition to the ESM', recordRef(record));
      stopped = 'not-started';
      results.push({ record, failed: 'not-started' });
      continue;
    }
    try {
      const outcome = await processRecord(record, options);
      options.onOutcome?.(record, outcome);
      if (outcome.status === 'transient') {
        stopped = 'transient';
        results.push({ record, failed: 'transient' });
      } else {
        results.push({ record, outcome });
      }
    } catch (error) {
      logger.error('Record could not be dead-lettered; reporting it as a batch item failure', {
        ...recordRef(record),
        ...describeError(error),
      });
      stopped = 'dead-letter-failed';
      results.push({ record, failed: 'dead-letter-failed' });
    }
  }
  return results;
};

/**
 * A partition in one step: every record decoded and validated, then the partition handler once. Undefined
 * (nothing was done that the per-record path would not do again) when a record does not decode or has no
 * handler, or when the partition handler throws.
 */
const processAtOnce = async (
  records: MskRecord[],
  partitionHandler: PartitionHandler,
  options: BatchOptions,
): Promise<RecordResult[] | undefined> => {
  const items: { event: BusEvent; context: RecordContext }[] = [];
  for (const mskRecord of records) {
    const record = fromMskRecord(mskRecord);
    if (!options.resolveHandler(record.topic)) return undefined;
    try {
      items.push({
        event: (options.decode ?? decodeEvent)(record.topic, record.value, record),
        context: { record, attempt: 1 },
      });
    } catch {
      return undefined; // the per-record path dead-letters it, with the reason
    }
  }
  try {
    await partitionHandler(items);
  } catch (error) {
    const first = items[0]?.context.record;
    logger.warn('Partition step failed; handling its records one by one', {
      ...(first ? { topic: first.topic, partition: first.partition, offset: first.offset } : {}),
      records: items.length,
      ...describeError(error),
    });
    return undefined;
  }
  return items.map(({ event, context: { record } }) => {
    const anomalies = recordAnomalies(record, event);
    if (anomalies.length > 0) {
      logger.warn('Record metadata does not match its event', {
        ...recordRef(record),
        eventId: event.eventId,
        anomalies,
      });
    }
    const outcome: ProcessOutcome = {
      status: 'processed',
      eventId: event.eventId,
      attempts: 1,
      ...(anomalies.length > 0 ? { anomalies } : {}),
    };
    options.onOutcome?.(record, outcome);
    return { record, outcome };
  });
};

export const itemIdentifier = (
  record: Pick<RawRecord, 'topic' | 'partition' | 'offset'>,
): KafkaItemIdentifier => ({
  partition: partitionKey(record.topic, record.partition),
  offset: Number(record.offset),
});

/** `{ batchItemFailures: [{ itemIdentifier: { partition: "topic-partition", offset } }] }` */
export const toBatchResponse = (results: RecordResult[]): KafkaBatchResponse => ({
  batchItemFailures: results
    .filter((r) => 'failed' in r)
    .map((r) => ({ itemIdentifier: itemIdentifier(r.record) })),
});
