import { createHash, randomUUID } from 'node:crypto';
import * as z from 'zod';
import { EventValidationError, type FieldIssue, MalformedRecordError, UnknownTopicError } from '../errors.ts';
import {
  acceptedVersions,
  CATALOG,
  definitionOf,
  type EventOf,
  isCatalogTopic,
  type PayloadOf,
  payloadSchemaOf,
  type Topic,
} from './catalog.ts';
import { type Actor, actor, id, isoDateTime } from './fields.ts';

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

/**
 * A decoded, validated event: envelope fields and the topic's payload fields, flat as on the wire. `actor` is
 * absent only on a consumed seed-shaped record (see decodeEvent): the producer never says who did it, and no
 * one is invented. Everything this layer publishes has one.
 */
export type BusEvent<T extends Topic = Topic> = Omit<Envelope, 'actor'> & {
  actor?: Actor;
} & EventOf<T> & { eventType: T };

export const MAX_EVENT_BYTES = 1_000_000;
const SPEC_VERSION = '1.0';

const strictSchemas = new Map<Topic, z.ZodObject>();
const readSchemas = new Map<string, z.ZodObject>();
const seedEnvelope = envelopeSchema.omit({ actor: true });

/**
 * What a consumer validates a value of `version` against: that version's payload and the envelope, unknown
 * fields tolerated. A seed-shaped value has no actor: the rest of its envelope is derived, so validated as usual.
 */
const readSchema = (topic: Topic, version: number, seedShaped: boolean): z.ZodObject => {
  const id = `${topic}|${version}|${seedShaped}`;
  let schema = readSchemas.get(id);
  if (!schema) {
    const payload = payloadSchemaOf(topic, version) ?? CATALOG[topic].schema;
    schema = payload.extend((seedShaped ? seedEnvelope : envelopeSchema).shape);
    readSchemas.set(id, schema);
  }
  return schema;
};

/**
 * Publishing is strict (unknown fields are a mistake); consuming (readSchema) tolerates fields added by newer
 * producers. The shape is in the order of the value on the wire (the seed's: `eventType`, the payload fields,
 * the envelope additions, `timestamp`, `service`): zod returns its fields in that order, so what it returns is
 * serialized as is, not copied into that order first.
 */
const publishSchema = (topic: Topic): z.ZodObject => {
  let schema = strictSchemas.get(topic);
  if (!schema) {
    const { eventType, timestamp, service, ...envelope } = envelopeSchema.shape;
    schema = z.strictObject({ eventType, ...CATALOG[topic].schema.shape, ...envelope, timestamp, service });
    strictSchemas.set(topic, schema);
  }
  return schema;
};

export const toFieldIssues = (error: z.ZodError): FieldIssue[] =>
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
  const parsed = publishSchema(topic).safeParse(candidate);
  if (!parsed.success) throw new EventValidationError(topic, toFieldIssues(parsed.error));
  const event = parsed.data as BusEvent;
  const value = JSON.stringify(event);
  // A UTF-16 code unit is at most 3 bytes of UTF-8: only a long string needs its bytes counted.
  if (value.length > MAX_EVENT_BYTES / 3 && Buffer.byteLength(value) > MAX_EVENT_BYTES) {
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
  ce_time: isoTime(event.timestamp),
});

/**
 * `ce_time`: the last timestamp formatted is kept, so the events of one millisecond (tens of them under load)
 * format it once (a `Date` and `toISOString` were ≈ 0.5 µs of the ≈ 8 µs an event took to encode).
 */
let lastTime = { ms: Number.NaN, iso: '' };
const isoTime = (ms: number): string => {
  if (ms !== lastTime.ms) lastTime = { ms, iso: new Date(ms).toISOString() };
  return lastTime.iso;
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Where a record was read: what a seed-shaped record's eventId is derived from. */
export interface RecordOrigin {
  partition: number;
  offset: string;
  headers?: Record<string, Uint8Array | undefined>;
}

/**
 * Set by `npm run dlq -- replay` on a record it republishes: `topic/partition/offset` of the record as first
 * written, so an id derived from the coordinates survives the replay (the copy has a new offset).
 */
export const ORIGIN_HEADER = 'esante-origin';

/** The envelope fields a producer must write; a value with none of them is seed-shaped. */
const PRODUCER_ENVELOPE_FIELDS = ['eventId', 'schemaVersion', 'actor', 'correlationId'] as const;

/** What decodeEvent accepted that this layer never writes: names only, never values. */
export type DecodeAnomaly = 'seed-shaped' | 'event-type-short-form' | 'origin-header-ignored';
const decodeAnomalies = new WeakMap<object, DecodeAnomaly[]>();

/** The anomalies decodeEvent noted on this event (empty for an event this layer wrote). */
export const decodedAnomalies = (event: object): readonly DecodeAnomaly[] => decodeAnomalies.get(event) ?? [];

/** Whether the event was consumed from a seed-shaped record (no envelope: id derived, actor unknown). */
export const isSeedShaped = (event: object): boolean => decodedAnomalies(event).includes('seed-shaped');

// A fixed namespace for the RFC 9562 name-based ids of seed-shaped records (any constant UUID would do).
const SEED_EVENT_NAMESPACE = Buffer.from('6f1d3c1e8b2a4c5e9a7d2f4b6c8e0a13', 'hex');

/** RFC 9562 UUID version 5 (SHA-1, name-based) of `name` in the seed-event namespace. */
export const uuidV5 = (name: string): string => {
  const bytes = createHash('sha1').update(SEED_EVENT_NAMESPACE).update(name).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

/** `topic/partition/offset`: the origin header's value for a record at these coordinates. */
export const originOf = (topic: string, partition: number, offset: string): string =>
  `${topic}/${partition}/${offset}`;

const ORIGIN_PATTERN = /^(.+)\/(\d{1,9})\/(\d{1,19})$/;

/**
 * The record's first coordinates: the origin header when a replay set one for this topic, else where it was
 * read. A header naming another topic cannot be a replay of this record and is ignored (and noted).
 */
const originalCoordinates = (topic: string, origin: RecordOrigin, anomalies: DecodeAnomaly[]): string => {
  const header = origin.headers?.[ORIGIN_HEADER];
  if (header !== undefined) {
    const match = ORIGIN_PATTERN.exec(Buffer.from(header).toString('utf8'));
    if (match && match[1] === topic)
      return originOf(topic, Number(match[2]), String(BigInt(match[3] ?? '0')));
    anomalies.push('origin-header-ignored');
  }
  return originOf(topic, origin.partition, origin.offset);
};

/**
 * The topic decides the event type. `eventType` must be the topic, or its short form `<entity>.<action>`
 * (`appointment.confirmed` on `appointment.appointment.confirmed`), which services written to the seed's
 * examples publish; anything else contradicts the topic.
 */
const checkEventType = (topic: Topic, eventType: unknown, anomalies: DecodeAnomaly[]): void => {
  if (eventType === topic) return;
  if (typeof eventType === 'string' && eventType === topic.split('.').slice(1).join('.')) {
    anomalies.push('event-type-short-form');
    return;
  }
  throw new EventValidationError(
    topic,
    [{ path: 'eventType', message: `expected "${topic}", got ${describeEventType(eventType)}` }],
    { code: 'UNKNOWN_EVENT_TYPE' },
  );
};

/** Epoch milliseconds from a number (as the layer writes) or an ISO 8601 date-time (what some services send). */
const seedTimestamp = (value: unknown): unknown =>
  typeof value === 'string' && isoDateTime.safeParse(value).success ? Date.parse(value) : value;

/**
 * Decodes and validates a record's value. Every failure is permanent (a retry cannot fix bytes):
 * MalformedRecordError for a null value (tombstone), oversized, non-UTF-8 or non-JSON bytes;
 * UnknownTopicError for a topic outside the catalog; EventValidationError (code VALIDATION_FAILED, or
 * UNKNOWN_EVENT_TYPE when `eventType` contradicts the topic) for schema violations.
 *
 * A seed-shaped value — the seed's JSON (`eventType`, the payload fields, `timestamp` as epoch millis or ISO
 * 8601, `service`) with none of `eventId`, `schemaVersion`, `actor`, `correlationId` — is accepted when the
 * record's `origin` is known: `eventId` is a UUID v5 of its original coordinates (topic/partition/offset, so a
 * redelivery is the same event), `correlationId` = eventId, `schemaVersion` = 1, and no actor. The payload is
 * validated as for any event. The returned event is marked: see decodedAnomalies / isSeedShaped.
 */
export const decodeEvent = (
  topic: string,
  value: Uint8Array | null | undefined,
  origin?: RecordOrigin,
): BusEvent => {
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
  const fields = json as Record<string, unknown>;
  const anomalies: DecodeAnomaly[] = [];
  checkEventType(topic, fields.eventType, anomalies);
  const seedShaped = origin !== undefined && PRODUCER_ENVELOPE_FIELDS.every((f) => !(f in fields));
  let candidate: Record<string, unknown>;
  if (seedShaped) {
    anomalies.unshift('seed-shaped');
    const eventId = uuidV5(originalCoordinates(topic, origin, anomalies));
    candidate = {
      ...fields,
      eventType: topic,
      eventId,
      schemaVersion: 1,
      correlationId: eventId,
      timestamp: seedTimestamp(fields.timestamp),
    };
  } else {
    candidate = { ...fields, eventType: topic };
  }
  const event = readVersion(topic, candidate, seedShaped);
  if (anomalies.length > 0) decodeAnomalies.set(event, anomalies);
  return event;
};

/**
 * Validates a value against the version it names (`schemaVersion`) and returns it in the newest version's
 * shape: an earlier version's payload goes through its `upgrade`, and the result is validated against the
 * newest schema. `schemaVersion` stays the version that was published (the audit records it). A version the
 * topic does not accept (newer than this code, or retired) is a permanent failure naming the accepted ones:
 * the record is dead-lettered and can be replayed once a consumer that knows it is deployed.
 */
const readVersion = (topic: Topic, candidate: Record<string, unknown>, seedShaped: boolean): BusEvent => {
  const definition = definitionOf(topic);
  const version = candidate.schemaVersion;
  const known = typeof version === 'number' && payloadSchemaOf(topic, version) !== undefined;
  if (!known && Number.isInteger(version) && (version as number) > 0) {
    const accepted = acceptedVersions(topic).join(', ');
    throw new EventValidationError(topic, [
      { path: 'schemaVersion', message: `version ${version} is not accepted here (accepted: ${accepted})` },
    ]);
  }
  const read = readSchema(topic, known ? (version as number) : definition.schemaVersion, seedShaped);
  const parsed = read.safeParse(candidate);
  if (!parsed.success) throw new EventValidationError(topic, toFieldIssues(parsed.error));
  const earlier = definition.earlier.find((v) => v.schemaVersion === version);
  if (!earlier) return parsed.data as BusEvent;
  const payload: Record<string, unknown> = {};
  const envelope: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(parsed.data)) {
    (Object.hasOwn(earlier.schema.shape, field) ? payload : envelope)[field] = value;
  }
  const upgraded = readSchema(topic, definition.schemaVersion, seedShaped).safeParse({
    ...(earlier.upgrade(payload as never) as object),
    ...envelope,
  });
  if (!upgraded.success) {
    const issues = toFieldIssues(upgraded.error).map((i) => ({
      ...i,
      message: `${i.message} (after upgrading version ${version} to ${definition.schemaVersion})`,
    }));
    throw new EventValidationError(topic, issues);
  }
  return upgraded.data as BusEvent;
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
