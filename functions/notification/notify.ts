import { CATALOG, isCatalogTopic } from '../../shared/events/catalog.ts';
import type { BusEvent } from '../../shared/events/envelope.ts';
import { TOPICS } from '../../shared/events/topics.ts';
import type { KafkaProducer } from '../../shared/kafka/producer.ts';
import { deterministicUuid } from '../../shared/lambda/ids.ts';
import { logger } from '../../shared/log.ts';
import { putInboxItem, sendEmail } from './channels.ts';
import { type Contact, getContact } from './contacts.ts';
import {
  type Channel,
  claimDelivery,
  deliveryId,
  lifecycleKey,
  markPublished,
  markSent,
  markSuperseded,
  recordNewest,
  releaseClaim,
} from './deliveries.ts';
import type { Notice } from './rules.ts';
import { DEFAULT_LANGUAGE, type Language, type Rendered, render } from './templates.ts';

export interface NotifyDeps {
  publisher: Pick<KafkaProducer, 'publish'>;
  sendEmail: (to: string, message: Rendered) => Promise<string | undefined>;
  putInboxItem: typeof putInboxItem;
  getContact: (userId: string) => Promise<Contact | undefined>;
}

export const defaultDeps = (publisher: Pick<KafkaProducer, 'publish'>): NotifyDeps => ({
  publisher,
  sendEmail,
  putInboxItem,
  getContact,
});

/** Deliveries this container handed to a channel but has not yet recorded as sent (see deliverOn). */
const sentHere = new Map<string, { token: string; messageId: string | undefined }>();

export const NOTIFICATION_ACTOR = { id: 'notification-service', type: 'system' } as const;

/** Thrown when another run holds the delivery's claim: transient, the record tier retries. */
export class DeliveryBusyError extends Error {
  constructor() {
    super('Delivery is being sent by another invocation');
    this.name = 'DeliveryBusyError';
  }
}

/**
 * The supersession row of the notice: the resource the event is about, from the catalog (`resource`), and
 * the recipient. Events of one appointment (requested, confirmed, rejected, cancelled, completed, referral
 * booked) share it, as do one referral's; a topic outside the catalog has none.
 */
export const supersessionKey = (event: BusEvent, recipientId: string): string | undefined => {
  const topic = event.eventType;
  if (!isCatalogTopic(topic)) return undefined;
  const { type, idField } = CATALOG[topic].resource;
  const resourceId = (event as unknown as Record<string, unknown>)[idField];
  return typeof resourceId === 'string' ? lifecycleKey(type, resourceId, recipientId) : undefined;
};

/** Whether a newer event of the notice's resource was already notified to its recipient (see recordNewest). */
const isSuperseded = async (event: BusEvent, notice: Notice): Promise<boolean> => {
  const key = supersessionKey(event, notice.recipientId);
  return key ? !(await recordNewest(key, event.timestamp, event.eventId)) : false;
};

/**
 * Delivers one notice on both channels (in-app always; e-mail when the projection knows an address), each
 * exactly once per (event, recipient, channel), and announces each delivery on
 * `notification.notification.sent` with an eventId derived from the delivery, so a re-announcement after
 * a crash is recognisably the same event.
 */
export const deliverNotice = async (event: BusEvent, notice: Notice, deps: NotifyDeps): Promise<void> => {
  const contact = await deps.getContact(notice.recipientId);
  const language: Language = contact?.language ?? DEFAULT_LANGUAGE;
  const message = render(notice.template, language, notice.vars);
  const channels: Channel[] = contact?.email ? ['in_app', 'email'] : ['in_app'];
  if (!contact?.email) {
    logger.info('No e-mail address known for a recipient; in-app only', {
      topic: event.eventType,
      eventId: event.eventId,
      template: notice.template,
    });
  }
  // Decided before the in-app item (which carries the flag), and again when the e-mail is claimed, so a
  // newer event handled in between still stops the e-mail. Kafka orders a partition, not topics: an
  // appointment's confirmed event can be handled after its cancelled one, and must not be e-mailed then.
  const superseded = await isSuperseded(event, notice);
  for (const channel of channels) {
    await deliverOn(channel, event, notice, message, contact, deps, superseded);
  }
};

const deliverOn = async (
  channel: Channel,
  event: BusEvent,
  notice: Notice,
  message: Rendered,
  contact: Contact | undefined,
  deps: NotifyDeps,
  superseded: boolean,
): Promise<void> => {
  const id = deliveryId(event.eventId, notice.recipientId, channel);
  const notificationId = deterministicUuid('notification', id);
  // This container already got the channel's acceptance but could not record it: record it now, no resend.
  const done = sentHere.get(id);
  if (done) {
    await markSent(id, done.token, done.messageId);
    sentHere.delete(id);
  } else {
    const claim = await claimDelivery(id, channel);
    if (claim.state === 'busy') throw new DeliveryBusyError();
    if (claim.state === 'published') return;
    if (claim.state === 'claimed' && claim.takeover) {
      // A run died holding this claim; whether the channel took its message is unknown (deliveries.ts).
      logger.warn('Delivery claim taken over after its lease expired: it may be delivered twice', {
        topic: event.eventType,
        eventId: event.eventId,
        channel,
      });
    }
    if (
      claim.state === 'claimed' &&
      channel === 'email' &&
      (superseded || (await isSuperseded(event, notice)))
    ) {
      await markSuperseded(id, claim.token);
      logger.info('E-mail not sent: a newer event of the same resource was already notified', {
        topic: event.eventType,
        eventId: event.eventId,
        template: notice.template,
      });
      return;
    }
    if (claim.state === 'claimed') {
      let messageId: string | undefined;
      try {
        if (channel === 'in_app') {
          await deps.putInboxItem({
            recipientId: notice.recipientId,
            notificationId,
            template: notice.template,
            language: message.language,
            subject: message.subject,
            body: message.body,
            sourceEventId: event.eventId,
            sourceEventType: event.eventType,
            createdAt: new Date(event.timestamp).toISOString(),
            read: false,
            ...(superseded ? { superseded: true as const } : {}),
          });
        } else {
          messageId = await deps.sendEmail(contact?.email as string, message);
        }
      } catch (error) {
        // The channel refused: nothing went out, so the claim is given back for the retry.
        await releaseClaim(id, claim.token).catch(() => undefined);
        throw error;
      }
      sentHere.set(id, { token: claim.token, messageId });
      await markSent(id, claim.token, messageId);
      sentHere.delete(id);
    }
  }
  await deps.publisher.publish(
    TOPICS.NOTIFICATION_SENT,
    {
      notificationId,
      recipientId: notice.recipientId,
      channel,
      template: notice.template,
      language: message.language,
      sourceEventId: event.eventId,
      sourceEventType: event.eventType,
    },
    {
      actor: NOTIFICATION_ACTOR,
      eventId: deterministicUuid('notification-sent', id),
      causationId: event.eventId,
      correlationId: event.correlationId,
      service: 'notification-service',
    },
  );
  await markPublished(id);
};
