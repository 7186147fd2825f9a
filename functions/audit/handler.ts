import type { BusEvent } from '../../shared/events/envelope.ts';
import type { RecordContext } from '../../shared/kafka/process.ts';
import { mskConsumer, type TopicHandlers } from '../../shared/lambda/consumer.ts';
import { logger } from '../../shared/log.ts';
import { toAuditEntry } from './audit.ts';
import { putAuditEntry } from './store.ts';
import { AUDIT_TOPICS } from './topics.ts';

export const recordAudit = async (event: BusEvent, { record }: RecordContext): Promise<void> => {
  const written = await putAuditEntry(toAuditEntry(event, record));
  if (!written) logger.info('Audit entry already present', { topic: record.topic, eventId: event.eventId });
};

/** One handler for every topic the function reads (topics.ts). */
export const handlers: TopicHandlers = Object.fromEntries(AUDIT_TOPICS.map((topic) => [topic, recordAudit]));

export const handler = mskConsumer({ name: 'audit', topics: AUDIT_TOPICS, handlers });
