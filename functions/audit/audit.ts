import { CATALOG, isCatalogTopic, type Topic } from '../../shared/events/catalog.ts';
import { type BusEvent, decodedAnomalies, isSeedShaped, withoutPhi } from '../../shared/events/envelope.ts';
import type { RawRecord } from '../../shared/kafka/record.ts';
import { deterministicUuid, sha256 } from '../../shared/lambda/ids.ts';

/**
 * One audit entry per event. The seed's fields (action, actionCategory, performedBy, performedByType,
 * resourceType, resourceId, patientId, description, metadata) plus what makes the trail queryable and
 * verifiable:
 * - `pk` = EVENT#<eventId>: the conditional write on it makes the entry idempotent on eventId;
 * - `patientId`, `performedBy`, `resourceKey` with `occurredAt` feed the byPatient / byActor / byResource
 *   indexes (infra/resources.ts), so each is a time-ordered query;
 * - `metadata` is the event without the catalog's PHI fields; `payloadSha256` hashes the record's full
 *   value bytes, so the original can be verified against Kafka or the DLQ without being copied here;
 * - `topic`, `partition`, `offset` locate the record;
 * - `chainKey` (topic-partition), `chainSeq`/`chainPosition`, `prevHash` and `hash` make the trail tamper-
 *   evident: each entry hashes its canonical form together with the hash of the previous entry of the same
 *   partition (chain.ts). The chain fields are set by the store when the entry is written.
 *
 * A seed-shaped event (published without the envelope; shared/events/envelope.ts decodeEvent) names no actor:
 * the entry has no `performedBy` (so it is in no actor's trail), `performedByType` 'unknown', `actorGiven`
 * false, `seedShaped` true, the producing `service`, and `decodeAnomalies` naming what else was tolerated.
 */
export interface AuditEntry {
  pk: string;
  sk: 'AUDIT';
  auditId: string;
  eventId: string;
  action: string;
  actionCategory: string;
  /** Absent when the producer named no actor (a seed-shaped event): nobody is invented. */
  performedBy?: string;
  performedByType: string;
  /** Present (false) only when the event named no actor. */
  actorGiven?: false;
  /** Present (true) only for an event consumed in the seed's shape, without the envelope. */
  seedShaped?: true;
  /** What the decoder tolerated on this record (e.g. `seed-shaped`, `event-type-short-form`); names only. */
  decodeAnomalies?: string[];
  resourceType: string;
  resourceId: string;
  resourceKey: string;
  patientId?: string;
  description: string;
  metadata: Record<string, unknown>;
  payloadSha256: string;
  occurredAt: string;
  recordedAt: string;
  correlationId: string;
  causationId?: string;
  service: string;
  schemaVersion: number;
  topic: string;
  partition: number;
  offset: string;
  chainKey: string;
}

/** An entry as stored: its place in the partition's hash chain. */
export interface ChainedAuditEntry extends AuditEntry {
  chainSeq: number;
  /** chainSeq left-padded to 12 digits: the byChain index's sort key, so string order is chain order. */
  chainPosition: string;
  prevHash: string;
  hash: string;
}

export const auditKey = (eventId: string) => ({ pk: `EVENT#${eventId}`, sk: 'AUDIT' as const });

export const toAuditEntry = (event: BusEvent, record: RawRecord, now = new Date()): AuditEntry => {
  const topic = event.eventType as Topic;
  const fields = event as unknown as Record<string, unknown>;
  const definition = isCatalogTopic(topic) ? CATALOG[topic] : undefined;
  const resourceType = definition?.resource.type ?? 'unknown';
  const resourceId = String(definition ? fields[definition.resource.idField] : event.eventId);
  const patientField = definition && 'patientField' in definition ? definition.patientField : undefined;
  const patientId = patientField ? (fields[patientField] as string | undefined) : undefined;
  const anomalies = decodedAnomalies(event);
  const actor = event.actor;
  return {
    ...auditKey(event.eventId),
    auditId: deterministicUuid('audit', event.eventId),
    eventId: event.eventId,
    action: event.eventType,
    actionCategory: event.eventType.split('.')[0] ?? event.eventType,
    ...(actor ? { performedBy: actor.id, performedByType: actor.type } : { performedByType: 'unknown' }),
    ...(actor ? {} : { actorGiven: false as const }),
    ...(isSeedShaped(event) ? { seedShaped: true as const } : {}),
    ...(anomalies.length > 0 ? { decodeAnomalies: [...anomalies] } : {}),
    resourceType,
    resourceId,
    resourceKey: `${resourceType}#${resourceId}`,
    ...(patientId ? { patientId } : {}),
    description: actor
      ? `Event: ${event.eventType}`
      : `Event: ${event.eventType} (actor not given; published by service ${event.service})`,
    metadata: withoutPhi(topic, fields),
    payloadSha256: sha256(record.value ?? new Uint8Array()),
    occurredAt: new Date(event.timestamp).toISOString(),
    recordedAt: now.toISOString(),
    correlationId: event.correlationId,
    ...(event.causationId ? { causationId: event.causationId } : {}),
    service: event.service,
    schemaVersion: event.schemaVersion,
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    chainKey: `${record.topic}-${record.partition}`,
  };
};
