import { describe, expect, it } from 'vitest';
import { auditKey, toAuditEntry } from '../../../functions/audit/audit.ts';
import { AUDIT_TABLE_ENV } from '../../../functions/audit/store.ts';
import { draftConsultationId, toDraft } from '../../../functions/consultation-drafts/draft.ts';
import { CONSULTATIONS_TABLE_ENV } from '../../../functions/consultation-drafts/store.ts';
import { DEFAULT_FROM, EMAIL_FROM_ENV, INBOX_TABLE_ENV } from '../../../functions/notification/channels.ts';
import { CONTACTS_TABLE_ENV } from '../../../functions/notification/contacts.ts';
import { DELIVERIES_TABLE_ENV } from '../../../functions/notification/deliveries.ts';
import { EMAIL, TABLES } from '../../../infra/resources.ts';
import { type BusEvent, decodeEvent, encodeEvent, TOPICS } from '../../../shared/events/index.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';
import { sha256 } from '../../../shared/lambda/ids.ts';
import { PHI_MARKER, sampleMeta, samplePayloads } from '../../fixtures/events.ts';

const recordOf = (value: string): RawRecord => ({
  topic: TOPICS.PRESCRIPTION_CREATED,
  partition: 2,
  offset: '314',
  timestamp: '0',
  key: null,
  value: Buffer.from(value),
  headers: {},
});

describe('audit entry', () => {
  it("carries the seed's fields, the catalog's resource and patient, and the actor", () => {
    const { event, value } = encodeEvent(
      TOPICS.PRESCRIPTION_CREATED,
      samplePayloads[TOPICS.PRESCRIPTION_CREATED],
      sampleMeta(),
    );

    const entry = toAuditEntry(event, recordOf(value));

    expect(entry).toMatchObject({
      ...auditKey(event.eventId),
      action: TOPICS.PRESCRIPTION_CREATED,
      actionCategory: 'medical',
      performedBy: 'doc-1',
      performedByType: 'doctor',
      resourceType: 'prescription',
      resourceId: 'rx-1',
      resourceKey: 'prescription#rx-1',
      patientId: 'p-1',
      description: `Event: ${TOPICS.PRESCRIPTION_CREATED}`,
      topic: TOPICS.PRESCRIPTION_CREATED,
      partition: 2,
      offset: '314',
      chainKey: `${TOPICS.PRESCRIPTION_CREATED}-2`,
    });
  });

  it('records a seed-shaped event as such: no actor invented, the service named, flagged', () => {
    const value = JSON.stringify({
      eventType: 'prescription.created',
      ...samplePayloads[TOPICS.PRESCRIPTION_CREATED],
      timestamp: 1_700_000_000_000,
      service: 'medical-service',
    });
    const record = recordOf(value);
    const event = decodeEvent(record.topic, record.value, record);

    const entry = toAuditEntry(event, record);

    expect(entry).not.toHaveProperty('performedBy');
    expect(entry).toMatchObject({
      eventId: event.eventId,
      correlationId: event.eventId,
      schemaVersion: 1,
      performedByType: 'unknown',
      actorGiven: false,
      seedShaped: true,
      decodeAnomalies: ['seed-shaped', 'event-type-short-form'],
      service: 'medical-service',
      occurredAt: new Date(1_700_000_000_000).toISOString(),
      description: expect.stringMatching(/actor not given.*medical-service/),
      patientId: 'p-1',
    });
    expect(JSON.stringify(entry)).not.toContain(PHI_MARKER);
  });

  it('carries no seed flags for an event the layer wrote', () => {
    const { event, value } = encodeEvent(
      TOPICS.PRESCRIPTION_CREATED,
      samplePayloads[TOPICS.PRESCRIPTION_CREATED],
      sampleMeta(),
    );

    const entry = toAuditEntry(
      decodeEvent(TOPICS.PRESCRIPTION_CREATED, Buffer.from(value), recordOf(value)),
      recordOf(value),
    );

    expect(entry.eventId).toBe(event.eventId);
    for (const flag of ['actorGiven', 'seedShaped', 'decodeAnomalies'])
      expect(entry).not.toHaveProperty(flag);
  });

  it('leaves PHI fields out of metadata and keeps a hash of the full payload', () => {
    const { event, value } = encodeEvent(
      TOPICS.PRESCRIPTION_CREATED,
      samplePayloads[TOPICS.PRESCRIPTION_CREATED],
      sampleMeta(),
    );

    const entry = toAuditEntry(event, recordOf(value));

    expect(entry.metadata).not.toHaveProperty('medications');
    expect(entry.metadata).toMatchObject({ prescriptionId: 'rx-1', eventId: event.eventId });
    expect(JSON.stringify(entry)).not.toContain(PHI_MARKER);
    expect(entry.payloadSha256).toBe(sha256(Buffer.from(value)));
  });

  it('gives the same auditId to the same event and leaves patientId out when the topic has none', () => {
    const { event, value } = encodeEvent(
      TOPICS.MESSAGE_SENT,
      samplePayloads[TOPICS.MESSAGE_SENT],
      sampleMeta(),
    );

    const a = toAuditEntry(event, recordOf(value));
    const b = toAuditEntry(event, recordOf(value));

    expect(a.auditId).toBe(b.auditId);
    expect(a).not.toHaveProperty('patientId');
  });
});

describe('consultation draft', () => {
  it('derives the consultation id from the appointment only', () => {
    type Completed = BusEvent<typeof TOPICS.APPOINTMENT_COMPLETED>;
    const completed = encodeEvent(
      TOPICS.APPOINTMENT_COMPLETED,
      samplePayloads[TOPICS.APPOINTMENT_COMPLETED],
      sampleMeta(),
    ) as { event: Completed };
    const again = encodeEvent(
      TOPICS.APPOINTMENT_COMPLETED,
      samplePayloads[TOPICS.APPOINTMENT_COMPLETED],
      sampleMeta(),
    ) as { event: Completed };

    expect(toDraft(completed.event).consultationId).toBe(toDraft(again.event).consultationId);
    expect(draftConsultationId('a-1')).not.toBe(draftConsultationId('a-2'));
    expect(toDraft(completed.event)).toMatchObject({
      status: 'draft',
      diagnosis: '',
      consultationDate: '2026-12-01',
    });
  });
});

describe('function environment', () => {
  it('reads the variables infra/resources.ts names', () => {
    expect({
      audit: AUDIT_TABLE_ENV,
      contacts: CONTACTS_TABLE_ENV,
      inbox: INBOX_TABLE_ENV,
      deliveries: DELIVERIES_TABLE_ENV,
      consultations: CONSULTATIONS_TABLE_ENV,
      from: EMAIL_FROM_ENV,
      defaultFrom: DEFAULT_FROM,
    }).toEqual({
      audit: TABLES.audit.env,
      contacts: TABLES.contacts.env,
      inbox: TABLES.inbox.env,
      deliveries: TABLES.deliveries.env,
      consultations: TABLES.consultations.env,
      from: EMAIL.fromEnv,
      defaultFrom: EMAIL.defaultFrom,
    });
  });
});
