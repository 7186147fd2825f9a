import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DlqEntry } from '../../../infra/ops/dlq.ts';
import { replayEntry } from '../../../infra/ops/dlq-cli.ts';
import { EventValidationError } from '../../../shared/errors.ts';
import { decodeEvent, ORIGIN_HEADER, originOf, TOPICS, uuidV5 } from '../../../shared/events/index.ts';
import { provisionTopics } from '../../../shared/kafka/admin.ts';
import { createKafka } from '../../../shared/kafka/config.ts';
import { toDeadLetter } from '../../../shared/kafka/dlq.ts';
import { samplePayloads } from '../../fixtures/events.ts';
import { fetchRecords } from '../functions/kafka-io.ts';

const TOPIC = TOPICS.APPOINTMENT_CONFIRMED;

/**
 * A seed-shaped record's eventId comes from where it was first written. `npm run dlq -- replay` writes a copy
 * at a new offset: the copy carries the first coordinates (the origin header), so it is the same event —
 * and a replay of that copy still is.
 */
describe('npm run dlq -- replay of a seed-shaped record', () => {
  let kafka: Kafka;
  const saved = { ...process.env };

  beforeAll(async () => {
    process.env.KAFKA_BROKERS = inject('kafkaBrokers');
    kafka = await createKafka();
    await provisionTopics(kafka);
  });

  afterAll(() => {
    process.env = saved;
  });

  it('keeps the eventId derived from the first coordinates, replay after replay', async () => {
    // Prepare: a record as a service written to the seed's producer sends it
    const appointmentId = `a-${randomUUID()}`;
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: TOPIC,
      messages: [
        {
          key: String(Date.now()),
          value: JSON.stringify({
            eventType: 'appointment.confirmed',
            ...samplePayloads[TOPIC],
            appointmentId,
            timestamp: Date.now(),
            service: 'rdv-service',
          }),
          headers: { 'event-type': TOPIC, 'content-type': 'application/json' },
        },
      ],
    });
    await producer.disconnect();
    const mine = (count: number) =>
      fetchRecords(kafka, TOPIC, (r) => r.value?.toString('utf8').includes(appointmentId) === true, count);
    const [first] = await mine(1);
    if (!first) throw new Error('record not found');
    const eventId = decodeEvent(TOPIC, first.value, first).eventId;
    const entryFor = (record: typeof first, n: number): DlqEntry => ({
      id: `kafka:0:${n}`,
      source: 'kafka',
      reason: 'test',
      failedBy: 'audit',
      timestamp: new Date().toISOString(),
      ranges: [{ topic: TOPIC, partition: record.partition, first: record.offset, last: record.offset }],
      letter: toDeadLetter(record, new EventValidationError(TOPIC, []), 1, 'audit'),
    });
    const ctx = { kafka, print: () => undefined };

    // Act: replay it, then replay the copy
    await replayEntry(ctx, entryFor(first, 1));
    const copy = (await mine(2)).find((r) => r.offset !== first.offset);
    if (!copy) throw new Error('replayed copy not found');
    await replayEntry(ctx, entryFor(copy, 2));
    const copies = (await mine(3)).filter((r) => r.offset !== first.offset);

    // Assess
    expect(eventId).toBe(uuidV5(originOf(TOPIC, first.partition, first.offset)));
    expect(copies).toHaveLength(2);
    for (const record of copies) {
      expect(record.headers[ORIGIN_HEADER]?.toString()).toBe(originOf(TOPIC, first.partition, first.offset));
      expect(decodeEvent(TOPIC, record.value, record).eventId).toBe(eventId);
      // Without the header, the copy would be another event.
      expect(decodeEvent(TOPIC, record.value, { ...record, headers: {} }).eventId).not.toBe(eventId);
    }
  }, 120_000);
});
