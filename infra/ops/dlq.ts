import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Kafka } from 'kafkajs';
import { isCatalogTopic } from '../../shared/events/catalog.ts';
import { phiFieldsOf } from '../../shared/events/envelope.ts';
import { DLQ_TOPIC } from '../../shared/events/topics.ts';
import { type DeadLetter, originalRecord } from '../../shared/kafka/dlq.ts';
import type { RawRecord } from '../../shared/kafka/record.ts';
import { type OffsetRange, readRanges } from './read-range.ts';

/**
 * Dead letters from both tiers, in one shape:
 *  - `kafka:<partition>:<offset>`: a record the in-function tier put on esante.dlq (payload included);
 *  - `sqs:<messageId>`: an on-failure record AWS (or the emulator) sent to the SQS queue after the ESM gave
 *    up on a batch. It carries offsets only, so the records are re-read from Kafka.
 */
export interface DlqEntry {
  id: string;
  source: 'kafka' | 'sqs';
  reason: string;
  /** Function or consumer that gave up. */
  failedBy: string;
  timestamp: string;
  /** topic-partition → offset range. */
  ranges: OffsetRange[];
  letter?: DeadLetter;
  /** The queue message; `body` is absent when the message is not an on-failure record. */
  sqs?: { messageId: string; receiptHandle: string; body?: OnFailureBody };
  /** Earlier replays of this entry, oldest first (replay markers on esante.dlq). */
  replays?: ReplayMarker[];
}

/**
 * What a replay leaves on esante.dlq beside the dead letters: which entry, when, by whom, where to. The
 * topic is append-only, so this is how `npm run dlq -- list` and the console know an entry was replayed.
 */
export interface ReplayMarker {
  replayOf: string;
  at: string;
  by: string;
  target: string;
}

const isReplayMarker = (value: unknown): value is ReplayMarker => {
  const v = value as Partial<ReplayMarker> | null;
  return typeof v?.replayOf === 'string' && typeof v.at === 'string' && typeof v.by === 'string';
};

/** Writes a replay marker for an entry on esante.dlq (keyed by the entry id). */
export const markReplayed = async (kafka: Kafka, marker: ReplayMarker): Promise<void> => {
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    await producer.send({
      topic: DLQ_TOPIC,
      acks: -1,
      messages: [
        {
          key: marker.replayOf,
          value: JSON.stringify(marker),
          headers: { 'event-type': `${DLQ_TOPIC}.replay`, 'content-type': 'application/json' },
        },
      ],
    });
  } finally {
    await producer.disconnect();
  }
};

interface OnFailureBody {
  requestContext: { functionArn: string; condition: string; approximateInvokeCount: number };
  responseContext: { functionError?: string } | null;
  timestamp: string;
  KafkaBatchInfo: {
    recordsInfo: Record<string, { firstRecordOffset: string; lastRecordOffset: string }>;
  };
}

export const PHI_HIDDEN = '[PHI hidden: --show-phi]';

/** "topic-partition" keys: the partition is after the last dash (topic names may contain dashes). */
export const splitPartitionKey = (key: string): { topic: string; partition: number } => {
  const at = key.lastIndexOf('-');
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
};

const isDeadLetter = (value: unknown): value is DeadLetter => {
  const v = value as Partial<DeadLetter> | null;
  return (
    typeof v?.originalTopic === 'string' &&
    typeof v.original === 'object' &&
    v.original !== null &&
    typeof v.original.offset === 'string'
  );
};

/**
 * Every dead letter on esante.dlq (all partitions, one consumer), each with its replays; `replays` also
 * holds the markers of SQS entries (by entry id). Records not written by the bus are skipped.
 */
export const readDeadLetterTopic = async (
  kafka: Kafka,
  timeoutMs = 60_000,
): Promise<{ entries: DlqEntry[]; replays: Map<string, ReplayMarker[]> }> => {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(DLQ_TOPIC).finally(() => admin.disconnect());
  const ranges = offsets
    .filter(({ low, high }) => BigInt(high) > BigInt(low))
    .map(({ partition, low, high }) => ({
      topic: DLQ_TOPIC,
      partition,
      first: low,
      last: (BigInt(high) - 1n).toString(),
    }));
  const entries: DlqEntry[] = [];
  const replays = new Map<string, ReplayMarker[]>();
  for (const record of await readRanges(kafka, ranges, timeoutMs)) {
    let letter: unknown;
    try {
      letter = JSON.parse(String(record.value));
    } catch {
      continue; // not ours: never written by DeadLetterPublisher
    }
    if (isReplayMarker(letter)) {
      replays.set(letter.replayOf, [...(replays.get(letter.replayOf) ?? []), letter]);
      continue;
    }
    if (!isDeadLetter(letter)) continue;
    entries.push({
      id: `kafka:${record.partition}:${record.offset}`,
      source: 'kafka',
      reason: `${letter.errorCode ?? letter.errorClass}: ${letter.error}`,
      failedBy: letter.failedBy,
      timestamp: new Date(letter.timestamp).toISOString(),
      ranges: [
        {
          topic: letter.originalTopic,
          partition: letter.original.partition,
          first: letter.original.offset,
          last: letter.original.offset,
        },
      ],
      letter,
    });
  }
  for (const entry of entries) {
    const seen = replays.get(entry.id);
    if (seen) entry.replays = seen;
  }
  return { entries, replays };
};

export const listKafkaDeadLetters = async (kafka: Kafka, timeoutMs = 60_000): Promise<DlqEntry[]> =>
  (await readDeadLetterTopic(kafka, timeoutMs)).entries;

const sqsEntry = (messageId: string, receiptHandle: string, text: string | undefined): DlqEntry => {
  let body: OnFailureBody | undefined;
  try {
    body = JSON.parse(text ?? '') as OnFailureBody;
  } catch {
    // reported below as unreadable; never dropped from the queue by a listing
  }
  const ranges = Object.entries(body?.KafkaBatchInfo?.recordsInfo ?? {}).map(([key, info]) => ({
    ...splitPartitionKey(key),
    first: info.firstRecordOffset,
    last: info.lastRecordOffset,
  }));
  const context = body?.requestContext;
  return {
    id: `sqs:${messageId}`,
    source: 'sqs',
    reason:
      body && context
        ? `${context.condition} after ${context.approximateInvokeCount} invocation(s)${
            body.responseContext?.functionError ? ` (${body.responseContext.functionError})` : ''
          }`
        : 'unreadable message: not a Lambda on-failure record',
    failedBy: context?.functionArn ?? 'unknown',
    timestamp: body?.timestamp ?? '',
    ranges,
    sqs: { messageId, receiptHandle, ...(body ? { body } : {}) },
  };
};

/**
 * Reads every on-failure record in the queue without consuming it. Each message is received (hidden for the
 * duration of the listing, so the loop sees it once) and then made visible again, even if the listing fails
 * half-way. Long polling (1 s) asks every SQS server, where short polling samples a subset and may miss
 * messages: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html
 */
export const listSqsDeadLetters = async (sqs: SQSClient, queueUrl: string): Promise<DlqEntry[]> => {
  const entries = new Map<string, DlqEntry>();
  try {
    for (;;) {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 60,
          WaitTimeSeconds: 1,
        }),
      );
      const fresh = (out.Messages ?? []).filter((m) => m.MessageId && !entries.has(`sqs:${m.MessageId}`));
      // Nothing new: the queue is empty, or only messages already seen came back (a very long listing).
      if (fresh.length === 0) break;
      for (const message of fresh) {
        const entry = sqsEntry(message.MessageId as string, message.ReceiptHandle as string, message.Body);
        entries.set(entry.id, entry);
      }
    }
  } finally {
    await Promise.allSettled(
      [...entries.values()].map((e) =>
        sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: e.sqs?.receiptHandle,
            VisibilityTimeout: 0,
          }),
        ),
      ),
    );
  }
  return [...entries.values()];
};

/** The original records of an entry: from the dead letter itself, or re-read from Kafka for SQS entries. */
export const recordsOf = async (kafka: Kafka, entry: DlqEntry): Promise<RawRecord[]> => {
  if (entry.letter) return [originalRecord(entry.letter)];
  const records: RawRecord[] = [];
  for (const topic of new Set(entry.ranges.map((r) => r.topic))) {
    records.push(
      ...(await readRanges(
        kafka,
        entry.ranges.filter((r) => r.topic === topic),
      )),
    );
  }
  return records;
};

const parseJson = (value: Buffer | null): unknown => {
  if (value === null) return undefined;
  try {
    return JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
};

const stringsIn = (value: unknown): string[] => {
  if (typeof value === 'string') return value.length >= 3 ? [value] : [];
  if (typeof value === 'number') return [];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
};

/**
 * The PHI values of these records (every string under a catalog PHI field), to scrub from free text such as
 * an error message: errors must not quote payloads, but a careless handler's might.
 */
export const phiValuesOf = (records: RawRecord[]): string[] =>
  records.flatMap((r) => {
    const event = parseJson(r.value);
    if (!event || typeof event !== 'object') return [];
    return phiFieldsOf(r.topic).flatMap((field) => stringsIn((event as Record<string, unknown>)[field]));
  });

/** `text` with every occurrence of the given values replaced by the PHI placeholder. */
export const scrub = (text: string, values: string[]): string =>
  [...new Set(values)]
    .sort((a, b) => b.length - a.length)
    .reduce((out, value) => out.split(value).join(PHI_HIDDEN), text);

/**
 * An entry's records for display: values parsed, PHI fields replaced unless `showPhi`. A record of a topic
 * outside the catalog has no known PHI fields, so its whole value is hidden.
 */
export const describeRecords = (records: RawRecord[], showPhi: boolean) =>
  records.map((r) => {
    const parsed = parseJson(r.value);
    let value: unknown = r.value === null ? null : `<${r.value.byteLength} bytes, not JSON>`;
    if (parsed !== undefined) {
      if (showPhi) value = parsed;
      else if (!isCatalogTopic(r.topic)) value = `${PHI_HIDDEN} (not a catalog topic)`;
      else value = typeof parsed === 'object' && parsed !== null ? redact(r.topic, parsed) : parsed;
    }
    return {
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      key: r.key?.toString() ?? null,
      value,
    };
  });

const redact = (topic: string, event: object) => {
  const phi = new Set(phiFieldsOf(topic));
  return Object.fromEntries(Object.entries(event).map(([k, v]) => [k, phi.has(k) ? PHI_HIDDEN : v]));
};

/**
 * Removes a replayed on-failure record from the queue. A receipt handle is only valid until the message is
 * received again (another listing may have happened meanwhile), so a refused handle is refreshed by
 * finding the message again by its id.
 */
export const acknowledgeSqs = async (sqs: SQSClient, queueUrl: string, entry: DlqEntry): Promise<void> => {
  if (!entry.sqs) return;
  try {
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: entry.sqs.receiptHandle }));
  } catch (error) {
    const again = (await listSqsDeadLetters(sqs, queueUrl)).find((e) => e.id === entry.id);
    if (!again?.sqs) throw error;
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: again.sqs.receiptHandle }));
  }
};
