import { describe, expect, it } from 'vitest';
import { EventValidationError, MalformedRecordError, UnknownTopicError } from '../../../shared/errors.ts';
import { decodeEvent, encodeEvent, TOPICS, withoutPhi } from '../../../shared/events/index.ts';
import { PHI_MARKER, sampleMeta, samplePayloads } from '../../fixtures/events.ts';

const confirmed = samplePayloads[TOPICS.APPOINTMENT_CONFIRMED];

describe('encodeEvent', () => {
  it('builds the seed flat JSON plus the envelope fields', () => {
    const { value, key } = encodeEvent(
      TOPICS.APPOINTMENT_CONFIRMED,
      confirmed,
      sampleMeta({ timestamp: 1_700_000_000_000 }),
    );
    const event = JSON.parse(value);
    expect(Object.keys(event).slice(0, 1)).toEqual(['eventType']);
    expect(event).toMatchObject({
      eventType: 'appointment.appointment.confirmed',
      ...confirmed,
      timestamp: 1_700_000_000_000,
      service: 'test-service',
      schemaVersion: 1,
      actor: { id: 'doc-1', type: 'doctor' },
    });
    expect(event.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.correlationId).toBe(event.eventId);
    expect(key).toBe('a-1');
  });

  it('sets the event-type, content-type and CloudEvents headers', () => {
    const { headers, event } = encodeEvent(
      TOPICS.APPOINTMENT_CONFIRMED,
      confirmed,
      sampleMeta({ timestamp: 0 }),
    );
    expect(headers).toEqual({
      'event-type': 'appointment.appointment.confirmed',
      'content-type': 'application/json',
      ce_specversion: '1.0',
      ce_id: event.eventId,
      ce_source: '/esante/test-service',
      ce_type: 'appointment.appointment.confirmed',
      ce_time: '1970-01-01T00:00:00.000Z',
    });
  });

  it('keys each topic by its catalog partition key', () => {
    expect(encodeEvent(TOPICS.MESSAGE_SENT, samplePayloads[TOPICS.MESSAGE_SENT], sampleMeta()).key).toBe(
      'conv-1',
    );
    expect(
      encodeEvent(TOPICS.USER_REGISTERED, samplePayloads[TOPICS.USER_REGISTERED], sampleMeta()).key,
    ).toBe('u-1');
  });

  it('rejects an invalid payload with every bad field path and no values', () => {
    const bad = { ...confirmed, appointmentDate: `${PHI_MARKER}`, appointmentTime: 930, extra: 1 } as never;
    const error = (() => {
      try {
        encodeEvent(
          TOPICS.APPOINTMENT_CONFIRMED,
          bad,
          sampleMeta({ actor: { id: '', type: 'nurse' } as never }),
        );
      } catch (e) {
        return e as EventValidationError;
      }
    })();
    expect(error).toBeInstanceOf(EventValidationError);
    expect(error?.code).toBe('VALIDATION_FAILED');
    expect(error?.issues.map((i) => i.path).sort()).toEqual(
      ['', 'actor.id', 'actor.type', 'appointmentDate', 'appointmentTime'].sort(),
    );
    expect(error?.message).toContain('appointmentTime');
    expect(error?.message).not.toContain(PHI_MARKER);
  });

  it('rejects a topic that is not in the catalog', () => {
    expect(() => encodeEvent('nope.nope.nope' as never, {} as never, sampleMeta())).toThrow(
      UnknownTopicError,
    );
  });
});

describe('decodeEvent', () => {
  const encoded = encodeEvent(TOPICS.APPOINTMENT_CONFIRMED, confirmed, sampleMeta());

  it('returns the typed event for valid bytes', () => {
    const event = decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, Buffer.from(encoded.value));
    expect(event.eventId).toBe(encoded.event.eventId);
  });

  it('tolerates fields added by a newer producer', () => {
    const newer = Buffer.from(JSON.stringify({ ...JSON.parse(encoded.value), roomNumber: '12' }));
    expect(() => decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, newer)).not.toThrow();
  });

  it.each([
    ['a null value', null, MalformedRecordError, 'MALFORMED_RECORD'],
    ['non-UTF-8 bytes', Buffer.from([0xff, 0xfe, 0xfd]), MalformedRecordError, 'MALFORMED_RECORD'],
    [
      'malformed JSON',
      Buffer.from(`{"diagnosis": "${PHI_MARKER}"`),
      MalformedRecordError,
      'MALFORMED_RECORD',
    ],
    ['a JSON array', Buffer.from('[1,2]'), MalformedRecordError, 'MALFORMED_RECORD'],
    ['an oversized value', Buffer.alloc(1_000_001, 0x20), MalformedRecordError, 'MALFORMED_RECORD'],
  ])('rejects %s as malformed', (_name, bytes, type, code) => {
    expect(() => decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, bytes)).toThrow(type);
    try {
      decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, bytes);
    } catch (error) {
      expect((error as MalformedRecordError).code).toBe(code);
      expect((error as Error).message).not.toContain(PHI_MARKER);
    }
  });

  it('rejects an event type that is not the topic', () => {
    const other = Buffer.from(
      JSON.stringify({ ...JSON.parse(encoded.value), eventType: 'appointment.confirmed' }),
    );
    expect(() => decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, other)).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_EVENT_TYPE' }),
    );
  });

  it('rejects missing fields and wrong types naming each', () => {
    const { patientId: _drop, ...rest } = JSON.parse(encoded.value);
    const bytes = Buffer.from(JSON.stringify({ ...rest, doctorId: 42 }));
    expect(() => decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, bytes)).toThrow(
      /patientId.*doctorId|doctorId.*patientId/,
    );
  });
});

describe('withoutPhi', () => {
  it('drops the catalog PHI fields and keeps the rest', () => {
    const event = encodeEvent(
      TOPICS.CONSULTATION_CREATED,
      samplePayloads[TOPICS.CONSULTATION_CREATED],
      sampleMeta(),
    ).event;
    const kept = withoutPhi(TOPICS.CONSULTATION_CREATED, event as Record<string, unknown>);
    expect(kept).not.toHaveProperty('diagnosis');
    expect(kept).toHaveProperty('consultationId', 'c-1');
  });
});
