import { type Kafka, type Message, Partitioners, type ProducerBatch } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { definitionOf, TOPICS } from '../../../shared/events/index.ts';
import { KafkaProducer } from '../../../shared/kafka/producer.ts';
import { logger } from '../../../shared/log.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';

/**
 * kafkajs 2.2.4 can return from sendBatch without having sent a partition's messages (a leader moved to a
 * broker that had already answered). The producer layer sends exactly those messages again, and checks a
 * batch in one pass: here a kafkajs stand-in drops one partition of the first request.
 */
const topic = TOPICS.USER_LOGGED_IN;
const partitions = definitionOf(topic).partitions;
const partitioner = Partitioners.DefaultPartitioner();
const partitionOf = (message: Message) =>
  partitioner({
    topic,
    message,
    partitionMetadata: Array.from({ length: partitions }, (_, i) => ({
      partitionId: i,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    })),
  });

/** A kafkajs stand-in answering for every partition it was sent, except `drop` on the first request. */
const fakeKafka = (drop: (sent: number[]) => number | undefined) => {
  const requests: Message[][] = [];
  const kafka = {
    producer: () => ({
      connect: async () => {},
      disconnect: async () => {},
      sendBatch: async ({ topicMessages }: ProducerBatch) => {
        const messages = (topicMessages ?? []).flatMap((t) => t.messages);
        requests.push(messages);
        const sent = [...new Set(messages.map(partitionOf))];
        const dropped = requests.length === 1 ? drop(sent) : undefined;
        return sent
          .filter((p) => p !== dropped)
          .map((partition) => ({ topicName: topic, partition, errorCode: 0, baseOffset: '0' }));
      },
    }),
  } as unknown as Kafka;
  return { kafka, requests };
};

describe('producer: messages kafkajs left unsent', () => {
  beforeEach(() => {
    vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    vi.spyOn(logger, 'info').mockImplementation(() => undefined);
  });
  afterEach(() => vi.restoreAllMocks());

  const publishAll = async (kafka: Kafka, count: number) => {
    const producer = new KafkaProducer({ kafka, lingerMs: 0, maxBatchSize: count });
    const results = await producer.publishBatch(
      topic,
      Array.from({ length: count }, (_, i) => ({
        payload: { ...samplePayloads[topic], userId: `user-${i}` },
        meta: sampleMeta(),
      })),
    );
    await producer.disconnect();
    return results;
  };

  it("sends exactly a dropped partition's messages again, and every publish resolves", async () => {
    // Prepare: the first request's lowest partition is dropped
    const { kafka, requests } = fakeKafka((sent) => Math.min(...sent));
    // Act
    const results = await publishAll(kafka, 200);
    // Assess
    expect(results).toHaveLength(200);
    expect(requests).toHaveLength(2);
    const dropped = Math.min(...(requests[0] ?? []).map(partitionOf));
    const again = (requests[0] ?? []).filter((m) => partitionOf(m) === dropped).map((m) => m.key);
    expect(again.length).toBeGreaterThan(0);
    expect((requests[1] ?? []).map((m) => m.key)).toEqual(again);
  });

  it('sends nothing again when every partition was written', async () => {
    // Prepare
    const { kafka, requests } = fakeKafka(() => undefined);
    // Act
    await publishAll(kafka, 200);
    // Assess
    expect(requests).toHaveLength(1);
  });
});
