import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Kafka } from 'kafkajs';
import { withoutPhi } from '../../shared/events/envelope.ts';
import { DLQ_TOPIC } from '../../shared/events/topics.ts';
import { type DeadLetter, originalRecord } from '../../shared/kafka/dlq.ts';
import type { RawRecord } from '../../shared/kafka/record.ts';
import { readRange } from './read-range.ts';

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
  ranges: { topic: string; partition: number; first: string; last: string }[];
  letter?: DeadLetter;
  sqs?: { receiptHandle: string; body: OnFailureBody };
}

interface OnFailureBody {
  requestContext: { functionArn: string; condition: string; approximateInvokeCount: number };
  responseContext: { functionError?: string } | null;
  timestamp: string;
  KafkaBatchInfo: {
    recordsInfo: Record<string, { firstRecordOffset: string; lastRecordOffset: string }>;
  };
}

/** "topic-partition" keys: the partition is after the last dash (topic names may contain dashes). */
export const splitPartitionKey = (key: string): { topic: string; partition: number } => {
  const at = key.lastIndexOf('-');
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
};

export const listKafkaDeadLetters = async (kafka: Kafka, timeoutMs = 15_000): Promise<DlqEntry[]> => {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(DLQ_TOPIC);
  await admin.disconnect();
  const entries: DlqEntry[] = [];
  for (const { partition, low, high } of offsets) {
    if (BigInt(high) <= BigInt(low)) continue;
    const range = { topic: DLQ_TOPIC, partition, first: low, last: (BigInt(high) - 1n).toString() };
    for (const record of await readRange(kafka, range, timeoutMs)) {
      let letter: DeadLetter;
      try {
        letter = JSON.parse(String(record.value)) as DeadLetter;
      } catch {
        continue; // not ours: never written by DeadLetterPublisher
      }
      entries.push({
        id: `kafka:${partition}:${record.offset}`,
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
  }
  return entries;
};

/**
 * Reads every on-failure record in the queue without consuming it: each message is received (hidden for a
 * moment so the loop sees it once) and then made visible again.
 */
export const listSqsDeadLetters = async (sqs: SQSClient, queueUrl: string): Promise<DlqEntry[]> => {
  const entries: DlqEntry[] = [];
  const handles: string[] = [];
  for (;;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 30,
        WaitTimeSeconds: 0,
      }),
    );
    if (!out.Messages?.length) break;
    for (const message of out.Messages) {
      handles.push(message.ReceiptHandle as string);
      const body = JSON.parse(message.Body ?? '{}') as OnFailureBody;
      entries.push({
        id: `sqs:${message.MessageId}`,
        source: 'sqs',
        reason: `${body.requestContext?.condition} after ${body.requestContext?.approximateInvokeCount} invocation(s)${
          body.responseContext?.functionError ? ` (${body.responseContext.functionError})` : ''
        }`,
        failedBy: body.requestContext?.functionArn ?? 'unknown',
        timestamp: body.timestamp,
        ranges: Object.entries(body.KafkaBatchInfo?.recordsInfo ?? {}).map(([key, info]) => ({
          ...splitPartitionKey(key),
          first: info.firstRecordOffset,
          last: info.lastRecordOffset,
        })),
        sqs: { receiptHandle: message.ReceiptHandle as string, body },
      });
    }
  }
  await Promise.all(
    handles.map((h) =>
      sqs.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: h, VisibilityTimeout: 0 }),
      ),
    ),
  );
  return entries;
};

/** The original records of an entry: from the dead letter itself, or re-read from Kafka for SQS entries. */
export const recordsOf = async (kafka: Kafka, entry: DlqEntry): Promise<RawRecord[]> => {
  if (entry.letter) return [originalRecord(entry.letter)];
  const records: RawRecord[] = [];
  for (const range of entry.ranges) records.push(...(await readRange(kafka, range)));
  return records;
};

/** An entry's records for display: values parsed, PHI fields replaced unless `showPhi`. */
export const describeRecords = (records: RawRecord[], showPhi: boolean) =>
  records.map((r) => {
    let value: unknown = r.value === null ? null : `<${r.value.byteLength} bytes, not JSON>`;
    try {
      const parsed = JSON.parse(String(r.value));
      value = showPhi || typeof parsed !== 'object' || parsed === null ? parsed : redact(r.topic, parsed);
    } catch {
      // keep the byte count only
    }
    return {
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      key: r.key?.toString() ?? null,
      value,
    };
  });

const redact = (topic: string, event: Record<string, unknown>) => {
  const kept = withoutPhi(topic, event);
  return Object.fromEntries(
    Object.keys(event).map((k) => [k, k in kept ? event[k] : '[PHI hidden: --show-phi]']),
  );
};

/** Removes a replayed on-failure record from the queue. */
export const acknowledgeSqs = (sqs: SQSClient, queueUrl: string, entry: DlqEntry) =>
  entry.sqs
    ? sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: entry.sqs.receiptHandle }))
    : Promise.resolve();
