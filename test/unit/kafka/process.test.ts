import { describe, expect, it } from 'vitest';
import { encodeEvent, TOPICS } from '../../../shared/events/index.ts';
import { recordAnomalies } from '../../../shared/kafka/process.ts';
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
