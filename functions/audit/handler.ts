import type { BusEvent } from '../../shared/events/envelope.ts';
import type { RecordContext } from '../../shared/kafka/process.ts';
import type { PartitionHandler } from '../../shared/lambda/batch.ts';
import { mskConsumer, type PartitionHandlers, type TopicHandlers } from '../../shared/lambda/consumer.ts';
import { logger } from '../../shared/log.ts';
import { toAuditEntry } from './audit.ts';
import { putAuditEntries, putAuditEntry } from './store.ts';
import { AUDIT_TOPICS } from './topics.ts';

export const recordAudit = async (event: BusEvent, { record }: RecordContext): Promise<void> => {
  const written = await putAuditEntry(toAuditEntry(event, record));
  if (!written) logger.info('Audit entry already present', { topic: record.topic, eventId: event.eventId });
};

/** A partition's records appended to its chain in one step (store.ts putAuditEntries). */
export const recordAuditBatch: PartitionHandler = async (items) => {
  const written = await putAuditEntries(
    items.map(({ event, context }) => toAuditEntry(event, context.record)),
  );
  for (const [i, { event, context }] of items.entries()) {
    if (!written[i])
      logger.info('Audit entry already present', { topic: context.record.topic, eventId: event.eventId });
  }
};

/** One handler for every topic the function reads (topics.ts). */
export const handlers: TopicHandlers = Object.fromEntries(AUDIT_TOPICS.map((topic) => [topic, recordAudit]));

/** Every topic's partitions appended at once; the per-record handler is the fallback (shared/lambda/batch.ts). */
export const partitionHandlers: PartitionHandlers = Object.fromEntries(
  AUDIT_TOPICS.map((topic) => [topic, recordAuditBatch]),
);

export const handler = mskConsumer({ name: 'audit', topics: AUDIT_TOPICS, handlers, partitionHandlers });
