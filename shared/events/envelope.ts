import { randomUUID } from 'node:crypto';
import { type ZodError, z } from 'zod';
import { EventValidationError, type FieldIssue, MalformedRecordError, UnknownTopicError } from '../errors.ts';
import { CATALOG, type EventOf, isCatalogTopic, type PayloadOf, type Topic } from './catalog.ts';
import { type Actor, actor, id } from './fields.ts';

/**
 * The value on the wire is the seed's flat JSON (`eventType`, the payload fields, `timestamp`, `service`)
 * plus `eventId` (the idempotency key), `schemaVersion`, `correlationId`/`causationId` and `actor`.
 * Headers carry `event-type`, `content-type` and the CloudEvents Kafka binding (binary mode, `ce_` prefix):
 * https://github.com/cloudevents/spec/blob/main/cloudevents/bindings/kafka-protocol-binding.md
 */
export const envelopeSchema = z.object({
  eventType: z.string().min(1),
  eventId: id,
  schemaVersion: z.number().int().positive(),
  timestamp: z.number().int().nonnegative(),
  service: z.string().min(1).max(100),
  actor,
  correlationId: id,
  causationId: id.optional(),
});
export type Envelope = z.infer<typeof envelopeSchema>;

export type EventMeta = {
  /** Who did it: required, so no event is published without an accountable actor. */
  actor: Actor;
  /** Defaults to the eventId (this event starts the chain). */
  correlationId?: string;
  /** The eventId of the event that caused this one. */
  causationId?: string;
  eventId?: string;
  /** Milliseconds since the epoch; defaults to now. */
  timestamp?: number;
  /** Defaults to SERVICE_NAME from the environment, then 'unknown' (the seed's behaviour). */
  service?: string;
};

/** A decoded, validated event: envelope fields and the topic's payload fields, flat as on the wire. */
export type BusEvent<T extends Topic = Topic> = Envelope & EventOf<T> & { eventType: T };

export const MAX_EVENT_BYTES = 1_000_000;
const SPEC_VERSION = '1.0';

const strictSchemas = new Map<Topic, z.ZodObject>();
const lenientSchemas = new Map<Topic, z.ZodObject>();

/** Publishing is strict (unknown fields are a mistake); consuming tolerates fields added by newer producers. */
const fullSchema = (topic: Topic, strict: boolean): z.ZodObject => {
  const cache = strict ? strictSchemas : lenientSchemas;
  let schema = cache.get(topic);
  if (!schema) {
    const merged = CATALOG[topic].schema.extend(envelopeSchema.shape);
    schema = strict ? merged.strict() : merged;
    cache.set(topic, schema);
  }
  return schema;
};

export const toFieldIssues = (error: ZodError): FieldIssue[] =>
  error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));

export interface EncodedEvent {
  key: string;
  value: string;
  headers: Record<string, string>;
  timestamp: string;
  event: BusEvent;
}

/**
 * Validates `payload` against the catalog and builds the Kafka message. Throws EventValidationError listing
 * every bad field path (never the values); nothing is built for an invalid payload.
 */
export const encodeEvent = <T extends Topic>(
  topic: T,
  payload: PayloadOf<T>,
  meta: EventMeta,
): EncodedEvent => {
  if (!isCatalogTopic(topic)) throw new UnknownTopicError(String(topic));
  const definition = CATALOG[topic];
  const eventId = meta.eventId ?? randomUUID();
  const candidate = {
    ...(payload as object),
    eventType: topic,
    eventId,
    schemaVersion: definition.schemaVersion,
    timestamp: meta.timestamp ?? Date.now(),
    service: meta.service ?? process.env.SERVICE_NAME ?? 'unknown',
    actor: meta.actor,
    correlationId: meta.correlationId ?? eventId,
    ...(meta.causationId === undefined ? {} : { causationId: meta.causationId }),
  };
  const parsed = fullSchema(topic, true).safeParse(candidate);
  if (!parsed.success) throw new EventValidationError(topic, toFieldIssues(parsed.error));
  const { eventType, timestamp, service, ...rest } = parsed.data as BusEvent;
  // Seed order: eventType, payload fields, timestamp, service; then the envelope additions.
  const event = { eventType, ...rest, timestamp, service } as BusEvent;
  const value = JSON.stringify(event);
  if (Buffer.byteLength(value) > MAX_EVENT_BYTES) {
    throw new EventValidationError(topic, [{ path: '', message: `event exceeds ${MAX_EVENT_BYTES} bytes` }]);
  }
  const key = String((event as Record<string, unknown>)[definition.key]);
  return { key, value, headers: headersFor(event), timestamp: String(event.timestamp), event };
};

export const headersFor = (event: BusEvent): Record<string, string> => ({
  'event-type': event.eventType,
  'content-type': 'application/json',
  ce_specversion: SPEC_VERSION,
  ce_id: event.eventId,
  ce_source: `/esante/${event.service}`,
  ce_type: event.eventType,
  ce_time: new Date(event.timestamp).toISOString(),
});

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes and validates a record's value. Every failure is permanent (a retry cannot fix bytes):
 * MalformedRecordError for a null value (tombstone), oversized, non-UTF-8 or non-JSON bytes;
 * UnknownTopicError for a topic outside the catalog; EventValidationError (code VALIDATION_FAILED, or
 * UNKNOWN_EVENT_TYPE when `eventType` is not the topic's) for schema violations.
 */
export const decodeEvent = (topic: string, value: Uint8Array | null | undefined): BusEvent => {
  if (!isCatalogTopic(topic)) throw new UnknownTopicError(topic);
  if (value == null) throw new MalformedRecordError(`Record on ${topic} has a null value (tombstone)`);
  if (value.byteLength > MAX_EVENT_BYTES) {
    throw new MalformedRecordError(
      `Record on ${topic} is ${value.byteLength} bytes, over ${MAX_EVENT_BYTES}`,
    );
  }
  let text: string;
  try {
    text = utf8.decode(value);
  } catch (cause) {
    throw new MalformedRecordError(`Record on ${topic} is not valid UTF-8`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The parser's own message quotes the input, which may be health data: keep it out.
    throw new MalformedRecordError(`Record on ${topic} is not valid JSON`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new MalformedRecordError(`Record on ${topic} is not a JSON object`);
  }
  const eventType = (json as { eventType?: unknown }).eventType;
  if (eventType !== topic) {
    throw new EventValidationError(
      topic,
      [{ path: 'eventType', message: `expected "${topic}", got ${describeEventType(eventType)}` }],
      { code: 'UNKNOWN_EVENT_TYPE' },
    );
  }
  const parsed = fullSchema(topic, false).safeParse(json);
  if (!parsed.success) throw new EventValidationError(topic, toFieldIssues(parsed.error));
  return parsed.data as BusEvent;
};

/** Event types are catalog names, safe to echo; anything else is summarised by its JS type only. */
const describeEventType = (value: unknown): string =>
  typeof value === 'string' && /^[a-z_]+(\.[a-z_]+){1,3}$/.test(value) && value.length < 100
    ? `"${value}"`
    : typeof value;

/** Returns the catalog's PHI fields of `topic` (empty for unknown topics). */
export const phiFieldsOf = (topic: string): readonly string[] =>
  isCatalogTopic(topic) ? CATALOG[topic].phi : [];

/** A copy of the event with the topic's PHI fields removed (for audit metadata and `dlq show`). */
export const withoutPhi = (topic: string, event: Record<string, unknown>): Record<string, unknown> => {
  const phi = new Set(phiFieldsOf(topic));
  return Object.fromEntries(Object.entries(event).filter(([field]) => !phi.has(field)));
};
