import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventValidationError } from '../../../shared/errors.ts';
import { TOPICS } from '../../../shared/events/index.ts';
import { KafkaProducer } from '../../../shared/kafka/producer.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';
import {
  type Collected,
  collect,
  endOffset,
  ensureCatalogTopics,
  testKafka,
  unique,
} from '../../helpers/kafka.ts';

const kafka = testKafka('producer-test');
let producer: KafkaProducer;

beforeAll(async () => {
  await ensureCatalogTopics();
  producer = new KafkaProducer({ kafka, handleSignals: false });
  await producer.connect();
});

afterAll(async () => {
  await producer.disconnect();
});

describe('KafkaProducer against the real broker', () => {
  it('publish sends a validated event keyed by the catalog key with the envelope headers', async () => {
    // Prepare
    const appointmentId = unique('appt');
    // Act
    const result = await producer.publish(
      TOPICS.APPOINTMENT_CONFIRMED,
      { ...samplePayloads[TOPICS.APPOINTMENT_CONFIRMED], appointmentId },
      sampleMeta(),
    );
    // Assess
    const records = await collect(kafka, [TOPICS.APPOINTMENT_CONFIRMED], (rs) =>
      rs.some((r) => r.headers.ce_id === result.eventId),
    );
    const record = records.find((r) => r.headers.ce_id === result.eventId);
    expect(record?.key).toBe(appointmentId);
    expect(record?.headers['event-type']).toBe(TOPICS.APPOINTMENT_CONFIRMED);
    expect(record?.headers.ce_type).toBe(TOPICS.APPOINTMENT_CONFIRMED);
    expect(JSON.parse(String(record?.value))).toMatchObject({
      eventType: TOPICS.APPOINTMENT_CONFIRMED,
      appointmentId,
    });
  });

  it('sendEvent keeps the seed API and defaults the actor to the service', async () => {
    const appointmentId = unique('appt');
    const metadata = await producer.sendEvent(TOPICS.APPOINTMENT_CONFIRMED, {
      eventType: TOPICS.APPOINTMENT_CONFIRMED,
      ...samplePayloads[TOPICS.APPOINTMENT_CONFIRMED],
      appointmentId,
    });
    expect(metadata[0]?.topicName).toBe(TOPICS.APPOINTMENT_CONFIRMED);
    const records = await collect(kafka, [TOPICS.APPOINTMENT_CONFIRMED], (rs) =>
      rs.some((r) => r.key === appointmentId),
    );
    const event = JSON.parse(String(records.find((r) => r.key === appointmentId)?.value));
    expect(event.actor).toEqual({ id: 'unknown', type: 'system' });
    expect(event.service).toBe('unknown');
  });

  it('an invalid payload throws the typed error naming the fields and the end offset does not move', async () => {
    // Prepare
    const before = await endOffset(kafka, TOPICS.CONSULTATION_CREATED);
    const bad = {
      ...samplePayloads[TOPICS.CONSULTATION_CREATED],
      consultationDate: 'yesterday',
      doctorId: undefined,
    };
    // Act
    const attempt = producer.publish(TOPICS.CONSULTATION_CREATED, bad as never, sampleMeta());
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(EventValidationError);
    await expect(attempt).rejects.toThrow(/consultationDate.*doctorId|doctorId.*consultationDate/);
    await expect(producer.sendBatch(TOPICS.CONSULTATION_CREATED, [bad, { nope: 1 }])).rejects.toBeInstanceOf(
      EventValidationError,
    );
    await producer.flush();
    expect(await endOffset(kafka, TOPICS.CONSULTATION_CREATED)).toBe(before);
  });

  it('10,000 concurrent publishes each arrive exactly once, in order per key', async () => {
    // Prepare: 40 keys, 250 events each; the publish call order per key is the expected order.
    const run = unique('run');
    const keys = Array.from({ length: 40 }, (_, i) => `${run}-k${i}`);
    const expected = new Map<string, string[]>(keys.map((k) => [k, []]));
    // Act
    const results = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => {
        const key = keys[i % keys.length] as string;
        const eventId = `${run}-${i}`;
        expected.get(key)?.push(eventId);
        return producer.publish(
          TOPICS.MESSAGE_SENT,
          { ...samplePayloads[TOPICS.MESSAGE_SENT], conversationId: key, messageId: `m-${i}` },
          sampleMeta({ eventId }),
        );
      }),
    );
    // Assess
    expect(results).toHaveLength(10_000);
    const mine = (rs: Collected[]) => rs.filter((r) => r.headers.ce_id?.startsWith(run));
    const records = mine(
      await collect(kafka, [TOPICS.MESSAGE_SENT], (rs) => mine(rs).length >= 10_000, 60_000),
    );
    const ids = records.map((r) => r.headers.ce_id);
    expect(new Set(ids).size).toBe(10_000);
    expect(ids).toHaveLength(10_000);
    const seen = new Map<string, string[]>();
    for (const r of records)
      seen.set(r.key as string, [...(seen.get(r.key as string) ?? []), r.headers.ce_id as string]);
    for (const key of keys) expect(seen.get(key)).toEqual(expected.get(key));
  });
});
