import { describe, expect, it } from 'vitest';
import { type BusEvent, encodeEvent, originOf, TOPICS, uuidV5 } from '../../../shared/events/index.ts';
import { processRecord, recordAnomalies } from '../../../shared/kafka/process.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';

const encoded = encodeEvent(
  TOPICS.APPOINTMENT_CONFIRMED,
  samplePayloads[TOPICS.APPOINTMENT_CONFIRMED],
  sampleMeta(),
);
const record = (overrides: Partial<RawRecord>): RawRecord => ({
  topic: TOPICS.APPOINTMENT_CONFIRMED,
  partition: 0,
  offset: '0',
  timestamp: '0',
  key: Buffer.from(encoded.key),
  value: Buffer.from(encoded.value),
  headers: Object.fromEntries(Object.entries(encoded.headers).map(([k, v]) => [k, Buffer.from(v)])),
  ...overrides,
});

describe('recordAnomalies', () => {
  it('finds nothing in a record the producer layer wrote', () => {
    expect(recordAnomalies(record({}), encoded.event)).toEqual([]);
  });

  it('names a missing or wrong key and headers that contradict the value, without their values', () => {
    expect(recordAnomalies(record({ key: null }), encoded.event)).toEqual(['key-missing']);
    const junk = record({
      key: Buffer.from('other'),
      headers: {
        'content-type': Buffer.from('text/x-junk'),
        ce_id: Buffer.from('nope'),
        'x-junk': Buffer.from([0xff]),
      },
    });
    expect(recordAnomalies(junk, encoded.event)).toEqual([
      'key-mismatch',
      'header-mismatch:content-type',
      'header-mismatch:ce_id',
    ]);
  });
});

describe('processRecord on a seed-shaped record', () => {
  it('processes it under its derived eventId and reports it as an anomaly, names only', async () => {
    const value = Buffer.from(
      JSON.stringify({
        eventType: 'appointment.confirmed',
        ...samplePayloads[TOPICS.APPOINTMENT_CONFIRMED],
        timestamp: 1_700_000_000_000,
        service: 'rdv-service',
      }),
    );
    const seen: BusEvent[] = [];
    const sent: unknown[] = [];

    const outcome = await processRecord(
      record({
        value,
        key: Buffer.from('1700000000000'),
        offset: '9',
        headers: {
          'event-type': Buffer.from(TOPICS.APPOINTMENT_CONFIRMED),
          'content-type': Buffer.from('application/json'),
        },
      }),
      {
        resolveHandler: () => (event) => void seen.push(event),
        retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1, jitter: false },
        deadLetters: { send: async (r) => void sent.push(r) as never },
      },
    );

    expect(sent).toEqual([]);
    expect(outcome).toEqual({
      status: 'processed',
      eventId: seen[0]?.eventId,
      attempts: 1,
      anomalies: ['seed-shaped', 'event-type-short-form', 'key-mismatch'],
    });
    expect(seen[0]?.eventId).toBe(uuidV5(originOf(TOPICS.APPOINTMENT_CONFIRMED, 0, '9')));
  });
});
