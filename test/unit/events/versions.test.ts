import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventValidationError } from '../../../shared/errors.ts';
import { acceptedVersions, decodeEvent, encodeEvent } from '../../../shared/events/index.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';
import { installConfirmedV2, V1_TIME_ZONE, VERSIONED_TOPIC } from '../../fixtures/versioned-catalog.ts';

/** A topic at v2 (test-only catalog entry): consumers read v1 and v2, producers write v2. */
describe('versioned events', () => {
  let restore: () => void;
  beforeAll(() => {
    restore = installConfirmedV2();
  });
  afterAll(() => restore());

  const payload = { ...samplePayloads[VERSIONED_TOPIC], timeZone: 'America/Martinique' };
  /** A value as yesterday's producer wrote it: v1 payload, schemaVersion 1. */
  const v1Bytes = (extra: Record<string, unknown> = {}) => {
    const { timeZone: _, ...v1 } = payload;
    const { value } = encodeEvent(VERSIONED_TOPIC, payload, sampleMeta());
    const { timeZone: __, ...event } = JSON.parse(value);
    return Buffer.from(JSON.stringify({ ...event, ...v1, schemaVersion: 1, ...extra }));
  };

  it('the producer publishes the newest version, and refuses its payload without the new field', () => {
    const { event } = encodeEvent(VERSIONED_TOPIC, payload, sampleMeta());
    expect(acceptedVersions(VERSIONED_TOPIC)).toEqual([1, 2]);
    expect(event).toMatchObject({ schemaVersion: 2, timeZone: 'America/Martinique' });
    const { timeZone: _, ...v1Payload } = payload;
    expect(() => encodeEvent(VERSIONED_TOPIC, v1Payload as typeof payload, sampleMeta())).toThrow(/timeZone/);
  });

  it('a consumer reads a v2 event as is, and a v1 event upgraded to the v2 shape, keeping schemaVersion 1', () => {
    const v2 = decodeEvent(
      VERSIONED_TOPIC,
      Buffer.from(encodeEvent(VERSIONED_TOPIC, payload, sampleMeta()).value),
    );
    const v1 = decodeEvent(VERSIONED_TOPIC, v1Bytes());
    expect(v2).toMatchObject({ schemaVersion: 2, timeZone: 'America/Martinique' });
    expect(v1).toMatchObject({
      ...samplePayloads[VERSIONED_TOPIC],
      schemaVersion: 1,
      timeZone: V1_TIME_ZONE,
    });
  });

  it('a v1 event is validated against v1: a v1 value with a bad field is refused, naming it', () => {
    expect(() => decodeEvent(VERSIONED_TOPIC, v1Bytes({ appointmentTime: '9h30' }))).toThrow(
      /appointmentTime/,
    );
  });

  it('a version the consumer does not know (newer, or retired) is refused naming the accepted ones', () => {
    for (const schemaVersion of [3, 7]) {
      const error = (() => {
        try {
          decodeEvent(VERSIONED_TOPIC, v1Bytes({ schemaVersion }));
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(EventValidationError);
      expect((error as EventValidationError).message).toContain(
        `schemaVersion: version ${schemaVersion} is not accepted here (accepted: 1, 2)`,
      );
    }
  });

  it('a seed-shaped value (no envelope) is read as version 1 and upgraded', () => {
    const {
      eventId: _,
      schemaVersion: __,
      actor: ___,
      correlationId: ____,
      ...seed
    } = JSON.parse(v1Bytes().toString());
    const event = decodeEvent(VERSIONED_TOPIC, Buffer.from(JSON.stringify(seed)), {
      partition: 0,
      offset: '5',
    });
    expect(event).toMatchObject({ schemaVersion: 1, timeZone: V1_TIME_ZONE });
  });
});
