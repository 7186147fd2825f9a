import { describeError, EventBusError } from '../errors.ts';
import { CATALOG, isCatalogTopic } from '../events/catalog.ts';
import {
  type BusEvent,
  decodedAnomalies,
  decodeEvent,
  headersFor,
  type RecordOrigin,
} from '../events/envelope.ts';
import { logger } from '../log.ts';
import type { DeadLetter, DeadLetterPublisher } from './dlq.ts';
import { type RawRecord, recordRef } from './record.ts';
import { RetriesExhaustedError, type RetryPolicy, withRetry } from './retry.ts';

export interface RecordContext {
  record: RawRecord;
  /** 1 for the first attempt. */
  attempt: number;
}

export type Handler<E = BusEvent> = (event: E, context: RecordContext) => Promise<void> | void;

export type ProcessOutcome =
  | { status: 'processed'; eventId: string; attempts: number; anomalies?: string[] }
  | { status: 'dead-lettered'; eventId?: string; attempts: number; letter: DeadLetter }
  /**
   * The handler still failed for a transient reason (a downstream briefly unreachable, throttling) after the
   * in-function retries. Not dead-lettered: the caller keeps the record's place in its partition and retries
   * it later (the ESM, by a batch item failure; the consumer utility, by pausing the partition).
   */
  | { status: 'transient'; eventId: string; attempts: number; error: unknown };

export interface ProcessOptions {
  resolveHandler: (topic: string) => Handler | undefined;
  retry: RetryPolicy;
  deadLetters: Pick<DeadLetterPublisher, 'send'>;
  /** Decoder for the record value; the catalog's by default (tests and non-catalog topics may pass their own). */
  decode?: (topic: string, value: Buffer | null, origin: RecordOrigin) => BusEvent;
}

/**
 * The in-function failure tier for one record (design.md): decode and validate; run the handler with
 * bounded exponential backoff for transient errors; dead-letter what can never succeed (undecodable,
 * invalid, no handler, permanent error) with its original bytes and the reason. A handler still failing
 * for a transient reason (errors.ts `isTransient`) when the in-function retries run out resolves as
 * `transient`, never dead-lettered here: the caller must not commit it, and retries it in order.
 * Resolves once the record is handled, dead-lettered or judged transient; rejects only if dead-lettering
 * itself failed, in which case the caller must not commit (the record will be delivered again).
 */
export const processRecord = async (record: RawRecord, options: ProcessOptions): Promise<ProcessOutcome> => {
  let event: BusEvent;
  try {
    event = (options.decode ?? decodeEvent)(record.topic, record.value, record);
  } catch (error) {
    return deadLetter(record, error, 0, options);
  }
  const anomalies = recordAnomalies(record, event);
  if (anomalies.length > 0) {
    // The value is the contract and it is valid, so the record is processed; but a producer bypassed the
    // layer (no or wrong key: per-key order is not guaranteed for it; headers that contradict the value; a
    // value in the seed's shape, without the envelope, or with the short event type).
    logger.warn('Record metadata does not match its event', {
      ...recordRef(record),
      eventId: event.eventId,
      anomalies,
    });
  }
  const handler = options.resolveHandler(record.topic);
  if (!handler) {
    const error = new EventBusError('NO_HANDLER', `No handler registered for topic ${record.topic}`);
    return deadLetter(record, error, 0, options, event.eventId);
  }
  const outcome = await withRetry(
    (attempt) => handler(event, { record, attempt }),
    options.retry,
    (attempt, error, delayMs) =>
      logger.warn('Handler failed, retrying', {
        ...recordRef(record),
        eventId: event.eventId,
        attempt,
        delayMs,
        ...describeError(error),
      }),
  );
  if (outcome.ok) {
    return {
      status: 'processed',
      eventId: event.eventId,
      attempts: outcome.attempts,
      ...(anomalies.length > 0 ? { anomalies } : {}),
    };
  }
  if (outcome.error instanceof RetriesExhaustedError) {
    const error = outcome.error.cause;
    logger.warn('Handler failed for a transient reason; leaving the record in place for a later retry', {
      ...recordRef(record),
      eventId: event.eventId,
      attempts: outcome.attempts,
      ...describeError(error),
    });
    return { status: 'transient', eventId: event.eventId, attempts: outcome.attempts, error };
  }
  return deadLetter(record, outcome.error, outcome.attempts, options, event.eventId);
};

/**
 * What in a record's key and headers contradicts its (valid) value: names only, never values. The layer
 * always keys by the catalog's partition key and writes these headers, so any entry here means the record
 * came from elsewhere.
 */
export const recordAnomalies = (record: RawRecord, event: BusEvent): string[] => {
  const anomalies: string[] = [...decodedAnomalies(event)];
  if (isCatalogTopic(record.topic)) {
    const expectedKey = String((event as Record<string, unknown>)[CATALOG[record.topic].key]);
    if (record.key === null) anomalies.push('key-missing');
    else if (record.key.toString() !== expectedKey) anomalies.push('key-mismatch');
    // The headers the layer writes for this event (envelope.ts), compared where the record carries them.
    for (const [header, expected] of Object.entries(headersFor(event))) {
      const value = record.headers[header];
      if (value !== undefined && value.toString() !== expected) anomalies.push(`header-mismatch:${header}`);
    }
  }
  return anomalies;
};

/**
 * Dead-letters a record with the reason and logs it (no values). Exported for the consumer utility, which
 * gives up on a transient failure only once the record is older than its maximum age (RETRIES_EXHAUSTED).
 */
export const deadLetter = async (
  record: RawRecord,
  error: unknown,
  attempts: number,
  options: Pick<ProcessOptions, 'deadLetters'>,
  eventId?: string,
): Promise<ProcessOutcome & { status: 'dead-lettered' }> => {
  const letter = await options.deadLetters.send(record, error, attempts);
  logger.warn('Record dead-lettered', { ...recordRef(record), eventId, attempts, ...describeError(error) });
  return { status: 'dead-lettered', attempts, letter, ...(eventId ? { eventId } : {}) };
};
