import type { BusEvent } from '../../shared/events/envelope.ts';
import { TOPICS } from '../../shared/events/topics.ts';
import { producer } from '../../shared/kafka/producer.ts';
import { mskConsumer, type TopicHandlers } from '../../shared/lambda/consumer.ts';
import { applyContact } from './contacts.ts';
import { defaultDeps, deliverNotice, type NotifyDeps } from './notify.ts';
import { NOTIFYING_TOPICS, noticesFor } from './rules.ts';

/** Every notice of the event, one recipient after the other (each delivery is idempotent on its own). */
export const notify = async (event: BusEvent, deps: NotifyDeps = defaultDeps(producer)): Promise<void> => {
  for (const notice of noticesFor(event)) await deliverNotice(event, notice, deps);
};

export const handlers: TopicHandlers = {
  ...Object.fromEntries(NOTIFYING_TOPICS.map((topic) => [topic, (event: BusEvent) => notify(event)])),
  [TOPICS.USER_REGISTERED]: async (e) => {
    await applyContact(e.userId, { email: e.email, role: e.role, language: e.language }, e.timestamp);
  },
  [TOPICS.PROFILE_UPDATED]: async (e) => {
    await applyContact(e.userId, { email: e.email, language: e.language }, e.timestamp);
  },
};

export const handler = mskConsumer({ name: 'notification', handlers });
