import type { BusEvent } from '../../shared/events/envelope.ts';
import { TOPICS } from '../../shared/events/topics.ts';
import { producer } from '../../shared/kafka/producer.ts';
import { type HandlersFor, mskConsumer } from '../../shared/lambda/consumer.ts';
import { applyContact } from './contacts.ts';
import { defaultDeps, deliverNotice, type NotifyDeps } from './notify.ts';
import { noticesFor } from './rules.ts';
import { NOTIFICATION_TOPICS, NOTIFYING_TOPICS } from './topics.ts';

/** Every notice of the event, one recipient after the other (each delivery is idempotent on its own). */
export const notify = async (event: BusEvent, deps: NotifyDeps = defaultDeps(producer)): Promise<void> => {
  for (const notice of noticesFor(event)) await deliverNotice(event, notice, deps);
};

const notifying = Object.fromEntries(
  NOTIFYING_TOPICS.map((topic) => [topic, (event: BusEvent) => notify(event)]),
) as unknown as HandlersFor<typeof NOTIFYING_TOPICS>;

/** A handler for each topic the function reads (topics.ts): the type refuses a missing one. */
export const handlers: HandlersFor<typeof NOTIFICATION_TOPICS> = {
  ...notifying,
  [TOPICS.USER_REGISTERED]: async (e) => {
    await applyContact(e.userId, { email: e.email, role: e.role, language: e.language }, e.timestamp);
  },
  [TOPICS.PROFILE_UPDATED]: async (e) => {
    await applyContact(e.userId, { email: e.email, language: e.language }, e.timestamp);
  },
};

export const handler = mskConsumer({ name: 'notification', topics: NOTIFICATION_TOPICS, handlers });
