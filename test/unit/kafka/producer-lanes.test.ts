import {
  type ICustomPartitioner,
  type Kafka,
  type Message,
  Partitioners,
  type PartitionMetadata,
  type ProducerBatch,
  type TopicMessages,
} from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { definitionOf, TOPICS } from '../../../shared/events/index.ts';
import { KafkaProducer } from '../../../shared/kafka/producer.ts';
import { logger } from '../../../shared/log.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';

/**
 * On a cluster, a partition leader that stops answering (a paused or cut-off broker) must hold up only the
 * partitions it leads: kafkajs answers a sendBatch only when every broker in it has, so the producer layer
 * sends one request per leader. Here a kafkajs stand-in partitions with the producer's own partitioner over
 * metadata with two leaders, and holds every request to node 1 until released.
 */
const topic = TOPICS.USER_LOGGED_IN;
const partitions = definitionOf(topic).partitions;
const metadata: PartitionMetadata[] = Array.from({ length: partitions }, (_, i) => ({
  partitionId: i,
  leader: i % 2 === 0 ? 1 : 2,
  partitionErrorCode: 0,
  replicas: [1, 2],
  isr: [1, 2],
}));

/**
 * A kafkajs stand-in: partitions each request with the producer's own partitioner over `metadata`, notes
 * whether a partition was ever in two requests at once, and answers a request once `onRequest` has resolved.
 */
const standIn = (
  onRequest: (request: { topicMessages: TopicMessages[]; partitions: number[] }) => Promise<void> | undefined,
) => {
  const inFlight = new Set<string>();
  let overlapped = false;
  const kafka = {
    producer: ({ createPartitioner }: { createPartitioner: ICustomPartitioner }) => {
      const partition = createPartitioner();
      return {
        connect: async () => {},
        disconnect: async () => {},
        sendBatch: async ({ topicMessages = [] }: ProducerBatch) => {
          const sent = topicMessages.flatMap((t) =>
            t.messages.map((message) => ({
              topicName: t.topic,
              partition: partition({ topic: t.topic, partitionMetadata: metadata, message }),
            })),
          );
          const slots = new Set(sent.map((m) => `${m.topicName}:${m.partition}`));
          for (const slot of slots) {
            if (inFlight.has(slot)) overlapped = true;
            inFlight.add(slot);
          }
          await onRequest({ topicMessages, partitions: sent.map((m) => m.partition) });
          for (const slot of slots) inFlight.delete(slot);
          return [...slots].map((slot) => {
            const [topicName, p] = slot.split(':');
            return { topicName, partition: Number(p), errorCode: 0, baseOffset: '0' };
          });
        },
      };
    },
  } as unknown as Kafka;
  return { kafka, overlapped: () => overlapped };
};

/** The stand-in over one topic, holding every request to node 1 while held. */
const twoLeaderKafka = () => {
  let release: () => void = () => undefined;
  let held: Promise<void> | undefined;
  const requests: { leaders: Set<number>; sessions: string[] }[] = [];
  const { kafka, overlapped } = standIn(({ topicMessages, partitions: parts }) => {
    const messages: Message[] = topicMessages.flatMap((t) => t.messages);
    const leaders = new Set(parts.map((p) => metadata[p]?.leader ?? -1));
    // The events' sessionIds, in the order sent (the value is the envelope's JSON).
    const sessions = messages.map((m) => /"sessionId":"([^"]+)"/.exec(String(m.value))?.[1] ?? '?');
    requests.push({ leaders, sessions });
    return leaders.has(1) ? held : undefined;
  });
  return {
    kafka,
    requests,
    overlapped,
    hold: () => {
      held = new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    release: () => {
      held = undefined;
      release();
    },
  };
};

const partitioner = Partitioners.DefaultPartitioner();
const leaderOf = (userId: string) =>
  metadata[partitioner({ topic, partitionMetadata: metadata, message: { key: userId, value: null } })]
    ?.leader;

describe('producer: one request per partition leader', () => {
  beforeEach(() => {
    vi.spyOn(logger, 'info').mockImplementation(() => undefined);
  });
  afterEach(() => vi.restoreAllMocks());

  it('publishes to a healthy leader while another leader hangs, keeping per-key order', async () => {
    // Prepare: one publish lets the producer see the metadata (as kafkajs's first send does), then node 1 hangs.
    const fake = twoLeaderKafka();
    const producer = new KafkaProducer({ kafka: fake.kafka, lingerMs: 0, maxBatchSize: 50 });
    await producer.publish(topic, samplePayloads[topic], sampleMeta());
    fake.hold();
    // Act: 400 events on 40 keys, spread over both leaders' partitions; event i of a key has session i.
    const settled: string[] = [];
    const publishes = Array.from({ length: 400 }, (_, i) => {
      const userId = `user-${i % 40}`;
      const sessionId = `${userId}.${Math.floor(i / 40)}`;
      return producer
        .publish(topic, { ...samplePayloads[topic], userId, sessionId }, sampleMeta())
        .then(() => settled.push(userId));
    });
    await vi.waitFor(() => expect(settled.length).toBeGreaterThan(0), { timeout: 2_000 });
    const whileHeld = [...settled];
    fake.release();
    await Promise.all(publishes);
    await producer.disconnect();
    // Assess: only node 2's keys were acknowledged while node 1 hung; every request went to one leader;
    // no partition was in two requests at once; each key's events were sent in publish order.
    expect(whileHeld.length).toBeGreaterThan(0);
    expect(whileHeld.filter((userId) => leaderOf(userId) !== 2)).toEqual([]);
    expect(fake.requests.slice(1).filter((r) => r.leaders.size !== 1)).toEqual([]);
    expect(fake.overlapped()).toBe(false);
    const sent = fake.requests.slice(1).flatMap((r) => r.sessions);
    expect(sent).toHaveLength(400);
    for (let k = 0; k < 40; k++) {
      const ofKey = sent.filter((s) => s.startsWith(`user-${k}.`));
      expect(ofKey).toEqual(Array.from({ length: 10 }, (_, n) => `user-${k}.${n}`));
    }
  });
});

describe('producer: a topic first sent before kafkajs knew its partitions', () => {
  beforeEach(() => {
    vi.spyOn(logger, 'info').mockImplementation(() => undefined);
  });
  afterEach(() => vi.restoreAllMocks());

  it('sends nothing more of that topic until that first request is answered', async () => {
    // Prepare: a stand-in that knows two leaders for every topic; the first request of the second topic hangs.
    const second = TOPICS.USER_LOGGED_OUT;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let secondRequests = 0;
    const { kafka, overlapped } = standIn(({ topicMessages }) =>
      topicMessages.some((t) => t.topic === second) && ++secondRequests === 1 ? gate : undefined,
    );
    const producer = new KafkaProducer({ kafka, lingerMs: 0, maxBatchSize: 50 });
    await producer.publish(topic, samplePayloads[topic], sampleMeta()); // the first topic's metadata: two leaders
    // Act: the second topic's first event goes out unknown, then more of its events follow while it hangs.
    const first = producer.publish(second, { ...samplePayloads[second], userId: 'u-0' }, sampleMeta());
    await vi.waitFor(() => expect(secondRequests).toBe(1));
    const more = Array.from({ length: 20 }, (_, i) =>
      producer.publish(second, { ...samplePayloads[second], userId: `u-${i}` }, sampleMeta()),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const whileHeld = secondRequests;
    release();
    await Promise.all([first, ...more]);
    await producer.disconnect();
    // Assess: nothing more of it went out while its first request hung, and no partition was in two requests.
    expect(whileHeld).toBe(1);
    expect(secondRequests).toBeGreaterThan(1);
    expect(overlapped()).toBe(false);
  });
});
