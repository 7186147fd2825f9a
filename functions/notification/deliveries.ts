import { randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  DeleteCommand,
  dynamo,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '../../shared/lambda/clients.ts';
import { sha256 } from '../../shared/lambda/ids.ts';
import { requireEnv } from '../../shared/lambda/settings.ts';

/** The environment variable infra/resources.ts names for the table (TABLES.deliveries.env). */
export const DELIVERIES_TABLE_ENV = 'DELIVERIES_TABLE';

export type Channel = 'in_app' | 'email';

/**
 * One row per (event, recipient, channel): `sending` (claimed, with a lease) → `sent` (the channel took
 * it) → `published` (`notification.notification.sent` acknowledged). A redelivered event finds the row and
 * resumes where the first run stopped, so nothing is delivered twice and every delivery is announced.
 *
 * The crash window: a run that dies after SES accepted an e-mail but before the row says `sent` leaves a
 * `sending` claim. Its lease (longer than any invocation can live) must expire before another run may take
 * it over and send again. SES has no idempotency key, so that window — between SES's answer and one
 * DynamoDB write — is the only place a second e-mail can come from; we accept it rather than the
 * alternative (record first, never retry) which would lose e-mails on any crash before sending. A takeover
 * is counted on the row (`takeovers`) and logged, so every e-mail that may have gone out twice is on record.
 */
export type DeliveryStatus = 'sending' | 'sent' | 'published';

export interface Delivery {
  deliveryId: string;
  status: DeliveryStatus;
  channel: Channel;
  claimToken: string;
  claimedAt: number;
  messageId?: string;
  /** An e-mail not sent because a newer event of the same resource was already notified (recordNewest). */
  superseded?: boolean;
  /** Epoch seconds: DynamoDB TTL removes rows long after Kafka retention made redelivery impossible. */
  expiresAt: number;
  /** Claims taken over after their lease ran out: each may have sent the message once before (crash window). */
  takeovers?: number;
}

/** Longer than the longest Lambda timeout a consumer has (infra/consumers.ts timeoutSeconds), doubled. */
export const CLAIM_LEASE_MS = 120_000;
const KEEP_SECONDS = 30 * 86_400;

export const deliveryId = (eventId: string, recipientId: string, channel: Channel): string =>
  sha256(eventId, recipientId, channel);

const table = () => requireEnv(DELIVERIES_TABLE_ENV);

export type Claim =
  /** `takeover`: a stale claim was taken over; the crashed run may have sent the message already. */
  | { state: 'claimed'; token: string; takeover: boolean }
  | { state: 'sent' | 'published' }
  | { state: 'busy' };

export const claimDelivery = async (id: string, channel: Channel, now = Date.now()): Promise<Claim> => {
  const token = randomUUID();
  const item: Delivery = {
    deliveryId: id,
    status: 'sending',
    channel,
    claimToken: token,
    claimedAt: now,
    expiresAt: Math.floor(now / 1000) + KEEP_SECONDS,
  };
  try {
    const out = await dynamo().send(
      new PutCommand({
        TableName: table(),
        Item: item,
        ConditionExpression: 'attribute_not_exists(deliveryId) OR (#s = :sending AND claimedAt < :stale)',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':sending': 'sending', ':stale': now - CLAIM_LEASE_MS },
        ReturnValues: 'ALL_OLD',
      }),
    );
    const stale = out.Attributes as Delivery | undefined;
    if (stale) await countTakeover(id, token, (stale.takeovers ?? 0) + 1);
    return { state: 'claimed', token, takeover: stale !== undefined };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  const existing = await getDelivery(id);
  if (!existing) return { state: 'busy' };
  return existing.status === 'sending' ? { state: 'busy' } : { state: existing.status };
};

/** The Put that took a stale claim over wrote a fresh item: carry the count of takeovers onto it. */
const countTakeover = async (id: string, token: string, takeovers: number): Promise<void> => {
  try {
    await dynamo().send(
      new UpdateCommand({
        TableName: table(),
        Key: { deliveryId: id },
        UpdateExpression: 'SET takeovers = :n',
        ConditionExpression: 'claimToken = :t',
        ExpressionAttributeValues: { ':n': takeovers, ':t': token },
      }),
    );
  } catch (error) {
    // Another run took the claim over in between: its own takeover is the one on record.
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
};

export const getDelivery = async (id: string): Promise<Delivery | undefined> => {
  const out = await dynamo().send(
    new GetCommand({ TableName: table(), Key: { deliveryId: id }, ConsistentRead: true }),
  );
  return out.Item as Delivery | undefined;
};

export const markSent = async (id: string, token: string, messageId?: string): Promise<void> => {
  await dynamo().send(
    new UpdateCommand({
      TableName: table(),
      Key: { deliveryId: id },
      UpdateExpression: messageId ? 'SET #s = :sent, messageId = :m' : 'SET #s = :sent',
      ConditionExpression: 'claimToken = :t',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':sent': 'sent', ':t': token, ...(messageId ? { ':m': messageId } : {}) },
    }),
  );
};

export const markPublished = async (id: string): Promise<void> => {
  await dynamo().send(
    new UpdateCommand({
      TableName: table(),
      Key: { deliveryId: id },
      UpdateExpression: 'SET #s = :published',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':published': 'published' },
    }),
  );
};

/** Gives a claim back after the channel refused, so the retry can claim it at once. */
export const releaseClaim = async (id: string, token: string): Promise<void> => {
  try {
    await dynamo().send(
      new DeleteCommand({
        TableName: table(),
        Key: { deliveryId: id },
        ConditionExpression: 'claimToken = :t AND #s = :sending',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':t': token, ':sending': 'sending' },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
};

/**
 * Supersession of one resource's lifecycle (an appointment requested → confirmed → cancelled; a referral
 * created → … → completed). Its events are on different topics, and Kafka orders a partition, not topics:
 * with one event-source mapping per topic, a retried topic can be handled after a later event of the same
 * resource. For each (resource, recipient) one row here holds the timestamp of the newest event notified;
 * an event older than that is superseded and its e-mail is not sent (the recipient already knows a later
 * state). The key is per recipient so a recipient who has heard nothing newer still hears of the event.
 */
export const lifecycleKey = (resourceType: string, resourceId: string, recipientId: string): string =>
  sha256('lifecycle', resourceType, resourceId, recipientId);

/**
 * Records `occurredAt` (the event's own timestamp, epoch ms) as the newest notified for `key` unless a
 * newer one is recorded already, in one conditional write. Returns false when the event is superseded.
 * Idempotent: a redelivered event (same timestamp) is still the newest, so its retry may send.
 */
export const recordNewest = async (
  key: string,
  occurredAt: number,
  eventId: string,
  now = Date.now(),
): Promise<boolean> => {
  try {
    await dynamo().send(
      new UpdateCommand({
        TableName: table(),
        Key: { deliveryId: key },
        UpdateExpression: 'SET newestAt = :at, newestEventId = :e, expiresAt = :x',
        ConditionExpression: 'attribute_not_exists(newestAt) OR newestAt <= :at',
        ExpressionAttributeValues: {
          ':at': occurredAt,
          ':e': eventId,
          ':x': Math.floor(now / 1000) + KEEP_SECONDS,
        },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
};

/** Closes a claimed e-mail delivery that a newer event superseded: nothing was sent, nothing to announce. */
export const markSuperseded = async (id: string, token: string): Promise<void> => {
  await dynamo().send(
    new UpdateCommand({
      TableName: table(),
      Key: { deliveryId: id },
      UpdateExpression: 'SET #s = :published, superseded = :yes',
      ConditionExpression: 'claimToken = :t',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':published': 'published', ':yes': true, ':t': token },
    }),
  );
};
