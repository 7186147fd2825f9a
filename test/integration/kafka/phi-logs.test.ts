import { beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../../../shared/errors.ts';
import { CATALOG, catalogTopics, TOPICS } from '../../../shared/events/index.ts';
import { KafkaConsumer, KafkaProducer } from '../../../shared/kafka/index.ts';
import { PHI_MARKER, sampleMeta, samplePayloads } from '../../fixtures/events.ts';
import { ensureCatalogTopics, eventually, testKafka, unique } from '../../helpers/kafka.ts';
import { captureLogs, stringValues } from '../../helpers/logs.ts';

const kafka = testKafka('phi-logs-test');

/** The PHI values of every sample payload, per the catalog. */
const phiValues = catalogTopics().flatMap((topic) =>
  CATALOG[topic].phi.flatMap((field) =>
    stringValues((samplePayloads[topic] as Record<string, unknown>)[field]),
  ),
);

beforeAll(ensureCatalogTopics);

describe('logs', () => {
  it('contain none of the PHI values of events published, consumed, retried and dead-lettered', async () => {
    expect(phiValues.length).toBeGreaterThan(10);
    // The group starts at the topics' current ends, committed before it joins: it reads exactly what is
    // published below, however long joining takes (no wait before publishing).
    const groupId = unique('phi');
    const topics = [TOPICS.CONSULTATION_CREATED, TOPICS.PRESCRIPTION_CREATED];
    const admin = kafka.admin();
    await admin.connect();
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({
        groupId,
        topic,
        partitions: ends.map(({ partition, high }) => ({ partition, offset: high })),
      });
    }
    await admin.disconnect();
    const { lines } = await captureLogs(async () => {
      const producer = new KafkaProducer({ kafka, handleSignals: false });
      const consumer = new KafkaConsumer(groupId, topics, {
        fromBeginning: false,
        retry: { attempts: 2, baseDelayMs: 10 },
      });
      const seen: string[] = [];
      consumer.registerHandler(/^medical\./, (event) => {
        seen.push(event.eventType);
        const message = `handler refuses ${JSON.stringify(event)}`; // a careless handler message
        // One topic fails for good (dead-lettered at once), the other transiently (retried, its partition
        // paused and resumed): both paths log, neither may carry a value.
        throw event.eventType === TOPICS.PRESCRIPTION_CREATED
          ? new PermanentError(message)
          : new Error(message);
      });
      await consumer.startConsuming();
      for (const topic of catalogTopics())
        await producer.publish(topic, samplePayloads[topic] as never, sampleMeta());
      await producer.sendEvent(TOPICS.CONSULTATION_CREATED, {
        ...samplePayloads[TOPICS.CONSULTATION_CREATED],
      });
      await producer
        .publish(
          TOPICS.CONSULTATION_CREATED,
          { ...samplePayloads[TOPICS.CONSULTATION_CREATED], doctorId: 7 } as never,
          sampleMeta(),
        )
        .catch(() => undefined);
      await eventually(
        () =>
          seen.filter((t) => t === TOPICS.CONSULTATION_CREATED).length >= 2 * 2 &&
          seen.includes(TOPICS.PRESCRIPTION_CREATED),
        'two rounds of attempts at the consultations and the prescription refused',
        30_000,
      );
      await consumer.disconnect();
      await producer.disconnect();
    });
    expect(lines.some((l) => l.includes('Record dead-lettered'))).toBe(true);
    expect(lines.some((l) => l.includes('Partition paused after a transient failure'))).toBe(true);
    const leaks = lines.filter(
      (line) => phiValues.some((value) => line.includes(value)) || line.includes(PHI_MARKER),
    );
    expect(leaks).toEqual([]);
  });
});
