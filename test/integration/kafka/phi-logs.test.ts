import { beforeAll, describe, expect, it } from 'vitest';
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
    const { lines } = await captureLogs(async () => {
      const producer = new KafkaProducer({ kafka, handleSignals: false });
      const consumer = new KafkaConsumer(
        unique('phi'),
        [TOPICS.CONSULTATION_CREATED, TOPICS.PRESCRIPTION_CREATED],
        {
          fromBeginning: false,
          retry: { attempts: 2, baseDelayMs: 10 },
        },
      );
      const seen: string[] = [];
      consumer.registerHandler(/^medical\./, (event) => {
        seen.push(event.eventId);
        throw new Error(`handler refuses ${JSON.stringify(event)}`); // a careless handler message
      });
      await consumer.startConsuming();
      await new Promise((r) => setTimeout(r, 3_000)); // let the group join before publishing
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
      await eventually(() => seen.length >= 2 * 2 + 2, 30_000);
      await consumer.disconnect();
      await producer.disconnect();
    });
    expect(lines.some((l) => l.includes('Record dead-lettered'))).toBe(true);
    const leaks = lines.filter(
      (line) => phiValues.some((value) => line.includes(value)) || line.includes(PHI_MARKER),
    );
    expect(leaks).toEqual([]);
  });
});
