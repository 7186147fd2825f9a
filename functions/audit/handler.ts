import { catalogTopics } from '../../shared/events/catalog.ts';
import type { BusEvent } from '../../shared/events/envelope.ts';
import { TOPICS } from '../../shared/events/topics.ts';
import type { RecordContext } from '../../shared/kafka/process.ts';
import { mskConsumer, type TopicHandlers } from '../../shared/lambda/consumer.ts';
import { logger } from '../../shared/log.ts';
import { toAuditEntry } from './audit.ts';
import { putAuditEntry } from './store.ts';

export const recordAudit = async (event: BusEvent, { record }: RecordContext): Promise<void> => {
  const written = await putAuditEntry(toAuditEntry(event, record));
  if (!written) logger.info('Audit entry already present', { topic: record.topic, eventId: event.eventId });
};

/** Every catalog topic but the audit function's own output. */
const handlers: TopicHandlers = Object.fromEntries(
  catalogTopics()
    .filter((topic) => topic !== TOPICS.AUDIT_LOG_CREATED)
    .map((topic) => [topic, recordAudit]),
);

export const handler = mskConsumer({ name: 'audit', handlers });
