import { describe, expect, it } from 'vitest';
import { EventValidationError, MalformedRecordError, UnknownTopicError } from '../../../shared/errors.ts';
import { decodedAnomalies, isSeedShaped, ORIGIN_HEADER, originOf } from '../../../shared/events/envelope.ts';
import { CATALOG, decodeEvent, encodeEvent, TOPICS, withoutPhi } from '../../../shared/events/index.ts';
import { PHI_MARKER, sampleMeta, samplePayloads } from '../../fixtures/events.ts';

const confirmed = samplePayloads[TOPICS.APPOINTMENT_CONFIRMED];

/** The value a service written to the seed's producer sends: payload, eventType, timestamp, service. */
const seedValue = (extra: Record<string, unknown> = {}) => ({
  eventType: 'appointment.confirmed',
  ...confirmed,
  timestamp: 1_700_000_000_000,
  service: 'rdv-service',
  ...extra,
});
const seedBytes = (extra: Record<string, unknown> = {}) => Buffer.from(JSON.stringify(seedValue(extra)));

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

  it('writes the fields in the seed order whatever order the payload has: type, payload, envelope, time, service', () => {
    const reversed = Object.fromEntries(Object.entries(confirmed).reverse()) as typeof confirmed;
    const { value } = encodeEvent(
      TOPICS.APPOINTMENT_CONFIRMED,
      reversed,
      sampleMeta({ causationId: 'cause-1', correlationId: 'corr-1' }),
    );
    expect(Object.keys(JSON.parse(value))).toEqual([
      'eventType',
      'appointmentId',
      'patientId',
      'doctorId',
      'appointmentDate',
      'appointmentTime',
      'eventId',
      'schemaVersion',
      'actor',
      'correlationId',
      'causationId',
      'timestamp',
      'service',
    ]);
  });

  it('dates each event in ce_time by its own timestamp, also when events alternate between two', () => {
    const ceTime = (timestamp: number) =>
      encodeEvent(TOPICS.APPOINTMENT_CONFIRMED, confirmed, sampleMeta({ timestamp })).headers.ce_time;
    expect([ceTime(1_700_000_000_000), ceTime(1_700_000_000_001), ceTime(1_700_000_000_000)]).toEqual([
      '2023-11-14T22:13:20.000Z',
      '2023-11-14T22:13:20.001Z',
      '2023-11-14T22:13:20.000Z',
    ]);
  });

  it('validates against every catalog schema whole: none has a check on the object as a whole', () => {
    // The publish schema is built from a catalog schema's fields (in the value's order), which would leave
    // out a refinement of the object itself; a catalog schema that grows one must change that first.
    // Act
    const refined = Object.entries(CATALOG)
      .filter(([, definition]) => (definition.schema.def.checks?.length ?? 0) > 0)
      .map(([topic]) => topic);
    // Assess
    expect(refined).toEqual([]);
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

  it('rejects an event type that contradicts the topic, in full or short form', () => {
    for (const eventType of ['appointment.cancelled', 'appointment.appointment.cancelled', 42]) {
      const other = Buffer.from(JSON.stringify({ ...JSON.parse(encoded.value), eventType }));
      expect(() => decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, other)).toThrow(
        expect.objectContaining({ code: 'UNKNOWN_EVENT_TYPE' }),
      );
    }
  });

  it('accepts the short event type (<entity>.<action>): the topic decides, and the event says so', () => {
    const short = Buffer.from(
      JSON.stringify({ ...JSON.parse(encoded.value), eventType: 'appointment.confirmed' }),
    );

    const event = decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, short);

    expect(event.eventType).toBe(TOPICS.APPOINTMENT_CONFIRMED);
    expect(decodedAnomalies(event)).toEqual(['event-type-short-form']);
  });

  it('rejects an envelope-less value when the record coordinates are not known', () => {
    const other = Buffer.from(JSON.stringify(seedValue()));
    expect(() => decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, other)).toThrow(
      expect.objectContaining({
        code: 'VALIDATION_FAILED',
        message: expect.stringMatching(/eventId.*actor/),
      }),
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

describe('decodeEvent on a seed-shaped value (no envelope)', () => {
  const at = { partition: 1, offset: '42' };

  it('derives eventId from the coordinates, correlationId = eventId, schemaVersion 1, and no actor', () => {
    const event = decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, seedBytes(), at);

    expect(event).toMatchObject({ ...confirmed, eventType: TOPICS.APPOINTMENT_CONFIRMED, schemaVersion: 1 });
    expect(event.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(event.correlationId).toBe(event.eventId);
    expect(event.actor).toBeUndefined();
    expect(event.service).toBe('rdv-service');
    expect(isSeedShaped(event)).toBe(true);
    expect(decodedAnomalies(event)).toEqual(['seed-shaped', 'event-type-short-form']);
  });

  it('gives the same record the same eventId, and another offset or partition another one', () => {
    const id = (partition: number, offset: string) =>
      decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, seedBytes(), { partition, offset }).eventId;

    expect(id(1, '42')).toBe(id(1, '42'));
    expect(new Set([id(1, '42'), id(1, '43'), id(2, '42')]).size).toBe(3);
  });

  it('takes the original coordinates from the origin header a DLQ replay sets', () => {
    const first = decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, seedBytes(), at);
    const headers = { [ORIGIN_HEADER]: Buffer.from(originOf(TOPICS.APPOINTMENT_CONFIRMED, 1, '42')) };

    const replayed = decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, seedBytes(), {
      partition: 0,
      offset: '977',
      headers,
    });

    expect(replayed.eventId).toBe(first.eventId);
  });

  it('ignores, and notes, an origin header naming another topic', () => {
    const headers = { [ORIGIN_HEADER]: Buffer.from(originOf(TOPICS.MESSAGE_SENT, 1, '42')) };

    const event = decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, seedBytes(), { ...at, headers });

    expect(event.eventId).toBe(decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, seedBytes(), at).eventId);
    expect(decodedAnomalies(event)).toContain('origin-header-ignored');
  });

  it('reads an ISO 8601 timestamp as epoch milliseconds', () => {
    const event = decodeEvent(
      TOPICS.APPOINTMENT_CONFIRMED,
      seedBytes({ timestamp: '2026-11-30T09:30:00.000Z' }),
      at,
    );

    expect(event.timestamp).toBe(Date.parse('2026-11-30T09:30:00.000Z'));
  });

  it.each([
    ['a missing business field', { patientId: undefined }, 'patientId'],
    ['a timestamp that is no date', { timestamp: 'yesterday' }, 'timestamp'],
    ['no service', { service: undefined }, 'service'],
  ])('still rejects %s, naming the field', (_name, extra, field) => {
    expect(() => decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, seedBytes(extra), at)).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED', message: expect.stringContaining(field) }),
    );
  });

  it('is not seed-shaped when some envelope fields are present: those must then all be valid', () => {
    expect(() => decodeEvent(TOPICS.APPOINTMENT_CONFIRMED, seedBytes({ eventId: 'e-1' }), at)).toThrow(
      /actor/,
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
