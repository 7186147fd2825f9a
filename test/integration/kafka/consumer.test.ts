import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvent } from '../../../shared/events/envelope.ts';
import { TOPICS } from '../../../shared/events/index.ts';
import { type DeadLetter, KafkaConsumer, KafkaProducer } from '../../../shared/kafka/index.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';
import {
  collect,
  ensureCatalogTopics,
  eventually,
  type TopicEnds,
  testKafka,
  topicEnds,
  unique,
} from '../../helpers/kafka.ts';

const DLQ = 'esante.dlq';

const kafka = testKafka('consumer-test');
const started: KafkaConsumer[] = [];
const fast = { attempts: 3, baseDelayMs: 20, maxDelayMs: 200, jitter: false };

const startConsumer = async (consumer: KafkaConsumer) => {
  started.push(consumer);
  await consumer.startConsuming();
  return consumer;
};

/** Raw bytes straight to a topic, as a buggy or hostile producer would send them. */
const produceRaw = async (
  topic: string,
  messages: { key: string; value: Buffer | string | null; partition?: number }[],
) => {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages });
  await producer.disconnect();
};

/**
 * The dead letters written since `since` (topicEnds taken before the act) that `match`, once `count` are there.
 * Not from the beginning: on the shared broker esante.dlq holds every test file's dead letters.
 */
const deadLetters = async (since: TopicEnds, match: (d: DeadLetter) => boolean, count: number) => {
  // esante.dlq also holds replay markers ({ replayOf, at, by, target }, infra/ops/dlq.ts): letters only.
  const matching = (rs: { value: Buffer | null }[]) =>
    rs
      .map((r) => JSON.parse(String(r.value)) as DeadLetter)
      .filter((d) => d.original !== undefined)
      .filter(match);
  return matching(await collect(kafka, [DLQ], (rs) => matching(rs).length >= count, 30_000, since));
};

/** Every dead letter written since `since`, read up to the topic's end. */
const deadLettersSince = async (since: TopicEnds) => {
  const ends = await topicEnds(kafka, [DLQ]);
  const start = new Map((since[DLQ] ?? []).map((p) => [p.partition, Number(p.offset)]));
  const total = (ends[DLQ] ?? []).reduce((n, p) => n + Number(p.offset) - (start.get(p.partition) ?? 0), 0);
  return total === 0 ? [] : collect(kafka, [DLQ], (rs) => rs.length >= total, 30_000, since);
};

beforeAll(ensureCatalogTopics);
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.disconnect()));
});

describe('KafkaConsumer against the real broker', () => {
  it('receives events, and two groups on the same topic each receive every event', async () => {
    // Prepare
    const ids = Array.from({ length: 5 }, () => unique('appt'));
    const seen: Record<string, string[]> = { a: [], b: [] };
    for (const group of ['a', 'b'] as const) {
      const consumer = new KafkaConsumer(unique(`group-${group}`), [TOPICS.APPOINTMENT_REQUESTED], {
        fromBeginning: true,
      });
      consumer.registerHandler(TOPICS.APPOINTMENT_REQUESTED, (event) => {
        if (ids.includes(event.appointmentId)) seen[group]?.push(event.appointmentId);
      });
      await startConsumer(consumer);
    }
    // Act
    const producer = new KafkaProducer({ kafka, handleSignals: false });
    for (const appointmentId of ids) {
      await producer.publish(
        TOPICS.APPOINTMENT_REQUESTED,
        { ...samplePayloads[TOPICS.APPOINTMENT_REQUESTED], appointmentId },
        sampleMeta(),
      );
    }
    await producer.disconnect();
    // Assess
    await eventually(() => seen.a?.length === 5 && seen.b?.length === 5, 'five events in each group', 30_000);
    expect(seen.a?.sort()).toEqual([...ids].sort());
    expect(seen.b?.sort()).toEqual([...ids].sort());
  });

  it('retries a transient failure in order until the record is too old, then dead-letters it with context and handles the next record', async () => {
    const dlqBefore = await topicEnds(kafka, [DLQ]);
    // Prepare: a downstream that never comes back; records older than 1.5 s are given up
    const good = unique('good');
    const poison = unique('poison');
    const attempts: number[] = [];
    const handled: string[] = [];
    const consumer = new KafkaConsumer(unique('group'), [TOPICS.APPOINTMENT_CANCELLED], {
      fromBeginning: true,
      retry: fast,
      transientBackoff: { baseDelayMs: 50, maxDelayMs: 200 },
      maxRecordAgeMs: 1_500,
    });
    consumer.registerHandler(TOPICS.APPOINTMENT_CANCELLED, (event, { attempt }) => {
      if (event.appointmentId === poison) {
        attempts.push(attempt);
        throw new Error('downstream unavailable');
      }
      if (event.appointmentId === good) handled.push(good);
    });
    await startConsumer(consumer);
    // Act: same key, so both land on one partition, poison first.
    const payload = samplePayloads[TOPICS.APPOINTMENT_CANCELLED];
    const bad = encodeEvent(
      TOPICS.APPOINTMENT_CANCELLED,
      { ...payload, appointmentId: poison },
      sampleMeta(),
    );
    const ok = encodeEvent(TOPICS.APPOINTMENT_CANCELLED, { ...payload, appointmentId: good }, sampleMeta());
    await produceRaw(TOPICS.APPOINTMENT_CANCELLED, [
      { key: 'same-key', value: bad.value },
      { key: 'same-key', value: ok.value },
    ]);
    // Assess: several rounds of the in-function retries (1, 2, 3 each), then one dead letter
    await eventually(() => handled.length === 1, 'the next record handled', 30_000);
    const rounds = attempts.filter((a) => a === 1).length;
    expect(rounds).toBeGreaterThan(1);
    expect(attempts.slice(0, 3)).toEqual([1, 2, 3]);
    const [letter] = await deadLetters(
      dlqBefore,
      (d) =>
        d.originalMessage !== null &&
        (d.originalMessage as { appointmentId?: string }).appointmentId === poison,
      1,
    );
    expect(letter).toMatchObject({
      originalTopic: TOPICS.APPOINTMENT_CANCELLED,
      errorClass: 'RetriesExhaustedError',
      errorCode: 'RETRIES_EXHAUSTED',
      attempts: attempts.length,
      original: {
        key: Buffer.from('same-key').toString('base64'),
        value: Buffer.from(bad.value).toString('base64'),
      },
    });
    expect(letter?.error).toContain('downstream unavailable');
    expect(letter?.original.offset).toMatch(/^\d+$/);
  });

  it('pauses only the partition of a transient failure and resumes it in order once the error clears, dead-lettering nothing', async () => {
    const dlqBefore = await topicEnds(kafka, [DLQ]);
    // Prepare: a downstream that is down for A for 1.5 s from A's first record; B lives on another partition
    const run = unique('outage');
    const [a1, a2, b1] = [`${run}-a1`, `${run}-a2`, `${run}-b1`];
    const handled: string[] = [];
    let downUntil = 0;
    let failures = 0;
    const consumer = new KafkaConsumer(unique('group'), [TOPICS.APPOINTMENT_CONFIRMED], {
      fromBeginning: true,
      retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20, jitter: false },
      transientBackoff: { baseDelayMs: 100, maxDelayMs: 400 },
      partitionsConsumedConcurrently: 2,
    });
    consumer.registerHandler(TOPICS.APPOINTMENT_CONFIRMED, (event) => {
      if (!event.appointmentId.startsWith(run)) return;
      if (event.appointmentId.includes('-a')) downUntil ||= Date.now() + 1_500;
      if (event.appointmentId.includes('-a') && Date.now() < downUntil) {
        failures++;
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      }
      handled.push(event.appointmentId);
    });
    await startConsumer(consumer);
    const payload = samplePayloads[TOPICS.APPOINTMENT_CONFIRMED];
    const value = (appointmentId: string) =>
      encodeEvent(TOPICS.APPOINTMENT_CONFIRMED, { ...payload, appointmentId }, sampleMeta()).value;
    // Act
    await produceRaw(TOPICS.APPOINTMENT_CONFIRMED, [
      { key: 'key-a', value: value(a1), partition: 0 },
      { key: 'key-a', value: value(a2), partition: 0 },
      { key: 'key-b', value: value(b1), partition: 1 },
    ]);
    // Assess: B went on while A's partition waited; A's records in publish order; no dead letter
    await eventually(() => handled.length === 3, 30_000);
    expect(handled).toEqual([b1, a1, a2]);
    expect(failures).toBeGreaterThanOrEqual(2); // at least one round of the in-function retries
    const letters = await deadLettersSince(dlqBefore);
    expect(letters.filter((r) => String(r.value).includes(run))).toEqual([]);
  });

  it('dead-letters malformed JSON and schema violations with their bytes and keeps consuming the partition', async () => {
    const dlqBefore = await topicEnds(kafka, [DLQ]);
    // Prepare
    const good = unique('good');
    const handled: string[] = [];
    const consumer = new KafkaConsumer(unique('group'), [TOPICS.APPOINTMENT_REJECTED], {
      fromBeginning: true,
      retry: fast,
    });
    consumer.registerHandler(TOPICS.APPOINTMENT_REJECTED, (event) => {
      if (event.appointmentId === good) handled.push(good);
    });
    await startConsumer(consumer);
    const marker = unique('malformed');
    const invalid = { eventType: TOPICS.APPOINTMENT_REJECTED, appointmentId: marker, patientId: 42 };
    const ok = encodeEvent(
      TOPICS.APPOINTMENT_REJECTED,
      { ...samplePayloads[TOPICS.APPOINTMENT_REJECTED], appointmentId: good },
      sampleMeta(),
    );
    // Act
    await produceRaw(TOPICS.APPOINTMENT_REJECTED, [
      { key: 'k', value: `{"broken": "${marker}"` },
      { key: 'k', value: JSON.stringify(invalid) },
      { key: 'k', value: ok.value },
    ]);
    // Assess
    await eventually(() => handled.length === 1, 'the next record handled', 30_000);
    const letters = await deadLetters(
      dlqBefore,
      (d) =>
        Buffer.from(d.original.value ?? '', 'base64')
          .toString()
          .includes(marker),
      2,
    );
    expect(letters.map((l) => l.errorCode).sort()).toEqual(['MALFORMED_RECORD', 'VALIDATION_FAILED']);
    const validation = letters.find((l) => l.errorCode === 'VALIDATION_FAILED');
    expect(validation?.error).toMatch(/patientId/);
    expect(validation?.attempts).toBe(0);
    const malformed = letters.find((l) => l.errorCode === 'MALFORMED_RECORD');
    expect(Buffer.from(malformed?.original.value ?? '', 'base64').toString()).toBe(`{"broken": "${marker}"`);
  });

  it('a RegExp subscription and handler receive events from matching topics, including a topic created later', async () => {
    // Prepare: topics outside the catalog, decoded as plain JSON for this test.
    const prefix = `regex${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: `${prefix}.a.created`, numPartitions: 1 }],
      waitForLeaders: true,
    });
    const received: string[] = [];
    const consumer = new KafkaConsumer(unique('group'), [new RegExp(`^${prefix}\\..*`)], {
      fromBeginning: true,
      topicRefreshMs: 500,
      decode: (_topic, value) => JSON.parse(String(value)),
    });
    consumer.registerHandler(new RegExp(`^${prefix}\\.`), (event, { record }) => {
      received.push(`${record.topic}:${(event as unknown as { n: number }).n}`);
    });
    await startConsumer(consumer);
    // Act
    await produceRaw(`${prefix}.a.created`, [{ key: 'x', value: JSON.stringify({ n: 1 }) }]);
    await admin.createTopics({
      topics: [{ topic: `${prefix}.b.created`, numPartitions: 1 }],
      waitForLeaders: true,
    });
    await produceRaw(`${prefix}.b.created`, [{ key: 'x', value: JSON.stringify({ n: 2 }) }]);
    await admin.disconnect();
    // Assess
    await eventually(() => received.length >= 2, 'events from both matching topics', 40_000);
    expect(received.sort()).toEqual([`${prefix}.a.created:1`, `${prefix}.b.created:2`]);
    expect(consumer.subscribedTopics).toEqual([`${prefix}.a.created`, `${prefix}.b.created`]);
  });
});
