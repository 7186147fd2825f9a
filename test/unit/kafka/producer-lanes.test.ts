import {
  type ICustomPartitioner,
  type Kafka,
  type Message,
  Partitioners,
  type PartitionMetadata,
  type ProducerBatch,
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

const twoLeaderKafka = () => {
  let release: () => void = () => undefined;
  let held: Promise<void> | undefined;
  const requests: { leaders: Set<number>; sessions: string[] }[] = [];
  const inFlight = new Set<number>();
  let overlapped = false;
  const kafka = {
    producer: ({ createPartitioner }: { createPartitioner: ICustomPartitioner }) => {
      const partition = createPartitioner();
      return {
        connect: async () => {},
        disconnect: async () => {},
        sendBatch: async ({ topicMessages }: ProducerBatch) => {
          const messages: Message[] = (topicMessages ?? []).flatMap((t) => t.messages);
          const parts = messages.map((message) => partition({ topic, partitionMetadata: metadata, message }));
          const partitionSet = new Set(parts);
          for (const p of partitionSet) {
            if (inFlight.has(p)) overlapped = true;
            inFlight.add(p);
          }
          const leaders = new Set(parts.map((p) => metadata[p]?.leader ?? -1));
          // The events' sessionIds, in the order sent (the value is the envelope's JSON).
          const sessions = messages.map((m) => /"sessionId":"([^"]+)"/.exec(String(m.value))?.[1] ?? '?');
          requests.push({ leaders, sessions });
          if (leaders.has(1) && held) await held;
          for (const p of partitionSet) inFlight.delete(p);
          return [...partitionSet].map((p) => ({
            topicName: topic,
            partition: p,
            errorCode: 0,
            baseOffset: '0',
          }));
        },
      };
    },
  } as unknown as Kafka;
  return {
    kafka,
    requests,
    overlapped: () => overlapped,
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
    const inFlight = new Set<string>();
    let overlapped = false;
    let secondRequests = 0;
    const kafka = {
      producer: ({ createPartitioner }: { createPartitioner: ICustomPartitioner }) => {
        const partition = createPartitioner();
        return {
          connect: async () => {},
          disconnect: async () => {},
          sendBatch: async ({ topicMessages }: ProducerBatch) => {
            const slots = new Set(
              (topicMessages ?? []).flatMap((t) =>
                t.messages.map(
                  (message) =>
                    `${t.topic}:${partition({ topic: t.topic, partitionMetadata: metadata, message })}`,
                ),
              ),
            );
            for (const s of slots) {
              if (inFlight.has(s)) overlapped = true;
              inFlight.add(s);
            }
            const ofSecond = (topicMessages ?? []).some((t) => t.topic === second);
            if (ofSecond && ++secondRequests === 1) await gate;
            for (const s of slots) inFlight.delete(s);
            return [...slots].map((s) => {
              const [topicName, p] = s.split(':');
              return { topicName, partition: Number(p), errorCode: 0, baseOffset: '0' };
            });
          },
        };
      },
    } as unknown as Kafka;
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
    expect(overlapped).toBe(false);
  });
});
