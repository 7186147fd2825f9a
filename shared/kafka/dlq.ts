import type { Message, Producer } from 'kafkajs';
import { describeError, EventBusError } from '../errors.ts';
import { DLQ_TOPIC } from '../events/topics.ts';
import type { RawRecord } from './record.ts';

/**
 * The dead-letter record on `esante.dlq`. The value keeps the seed's shape (`originalTopic`,
 * `originalMessage`, `error`, `timestamp`) and adds what redrive and diagnosis need: the original bytes
 * (base64, so non-UTF-8 input survives), key, headers, partition and offset, the error class and code,
 * the attempt count and who gave up. The Kafka key is the original key, so a redrive keeps per-key order.
 */
export interface DeadLetter {
  originalTopic: string;
  /** The original value parsed as JSON when it is JSON and small; null otherwise (the bytes are in `original`). */
  originalMessage: unknown;
  error: string;
  timestamp: number;
  errorClass: string;
  errorCode?: string;
  attempts: number;
  failedBy: string;
  original: {
    partition: number;
    offset: string;
    timestamp: string;
    key: string | null;
    value: string | null;
    headers: Record<string, string | null>;
  };
}

const PARSED_COPY_LIMIT = 64 * 1024;

const parsedCopy = (value: Buffer | null): unknown => {
  if (!value || value.byteLength > PARSED_COPY_LIMIT) return null;
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(value));
  } catch {
    return null;
  }
};

export const toDeadLetter = (
  record: RawRecord,
  error: unknown,
  attempts: number,
  failedBy: string,
): DeadLetter => ({
  originalTopic: record.topic,
  originalMessage: parsedCopy(record.value),
  error: error instanceof Error ? error.message : String(error),
  timestamp: Date.now(),
  ...describeError(error),
  attempts,
  failedBy,
  original: {
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key ? record.key.toString('base64') : null,
    value: record.value ? record.value.toString('base64') : null,
    headers: Object.fromEntries(
      Object.entries(record.headers).map(([k, v]) => [k, v === undefined ? null : v.toString('base64')]),
    ),
  },
});

export const deadLetterMessage = (letter: DeadLetter, key: Buffer | null): Message => ({
  key,
  value: JSON.stringify(letter),
  headers: {
    'event-type': DLQ_TOPIC,
    'content-type': 'application/json',
    'dlq-original-topic': letter.originalTopic,
    'dlq-original-partition': String(letter.original.partition),
    'dlq-original-offset': letter.original.offset,
    'dlq-error-class': letter.errorClass,
    ...(letter.errorCode ? { 'dlq-error-code': letter.errorCode } : {}),
  },
});

/** The original record back from a dead letter (for redrive and inspection). */
export const originalRecord = (letter: DeadLetter): RawRecord => ({
  topic: letter.originalTopic,
  partition: letter.original.partition,
  offset: letter.original.offset,
  timestamp: letter.original.timestamp,
  key: letter.original.key === null ? null : Buffer.from(letter.original.key, 'base64'),
  value: letter.original.value === null ? null : Buffer.from(letter.original.value, 'base64'),
  headers: Object.fromEntries(
    Object.entries(letter.original.headers).map(([k, v]) => [
      k,
      v === null ? undefined : Buffer.from(v, 'base64'),
    ]),
  ),
});

/** Writes dead letters with acks=all. A failure throws: the caller must then not commit the record. */
export class DeadLetterPublisher {
  constructor(
    private readonly producer: Pick<Producer, 'send'>,
    private readonly failedBy: string,
  ) {}

  async send(record: RawRecord, error: unknown, attempts: number): Promise<DeadLetter> {
    const letter = toDeadLetter(record, error, attempts, this.failedBy);
    try {
      await this.producer.send({
        topic: DLQ_TOPIC,
        acks: -1,
        messages: [deadLetterMessage(letter, record.key)],
      });
    } catch (cause) {
      throw new EventBusError('KAFKA_UNAVAILABLE', `Could not dead-letter a record of ${record.topic}`, {
        retryable: true,
        cause,
      });
    }
    return letter;
  }
}
