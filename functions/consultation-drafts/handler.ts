import type { BusEvent } from '../../shared/events/envelope.ts';
import { TOPICS } from '../../shared/events/topics.ts';
import type { KafkaProducer } from '../../shared/kafka/producer.ts';
import { producer as sharedProducer } from '../../shared/kafka/producer.ts';
import { type HandlersFor, mskConsumer } from '../../shared/lambda/consumer.ts';
import { logger } from '../../shared/log.ts';
import { createdMeta, toDraft } from './draft.ts';
import { markPublished, putDraft } from './store.ts';
import { CONSULTATION_DRAFTS_TOPICS } from './topics.ts';

/**
 * Seed flow 2: a completed appointment gets a consultation draft, then `medical.consultation.created`.
 * Store first, publish second, mark published third: a crash in between leaves a draft without
 * `publishedAt`, and the redelivered event publishes it again with the same eventId.
 */
export const draftConsultation = async (
  event: BusEvent<typeof TOPICS.APPOINTMENT_COMPLETED>,
  publisher: Pick<KafkaProducer, 'publish'> = sharedProducer,
): Promise<void> => {
  const draft = toDraft(event);
  const stored = await putDraft({
    ...draft,
    sourceEventId: event.eventId,
    createdAt: new Date().toISOString(),
  });
  if (stored.publishedAt) {
    logger.info('Consultation draft already published', { eventId: event.eventId });
    return;
  }
  await publisher.publish(TOPICS.CONSULTATION_CREATED, draft, createdMeta(event, stored.consultationId));
  await markPublished(stored.consultationId);
};

/** A handler for each topic the function reads (topics.ts): the type refuses a missing one. */
export const handlers: HandlersFor<typeof CONSULTATION_DRAFTS_TOPICS> = {
  [TOPICS.APPOINTMENT_COMPLETED]: (event) => draftConsultation(event),
};

export const handler = mskConsumer({
  name: 'consultation-drafts',
  topics: CONSULTATION_DRAFTS_TOPICS,
  handlers,
});
