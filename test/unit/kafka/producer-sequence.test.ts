import type { Kafka } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TOPICS } from '../../../shared/events/index.ts';
import { KafkaProducer } from '../../../shared/kafka/producer.ts';
import { logger } from '../../../shared/log.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';

/**
 * After a leader change, kafkajs's idempotent producer can be left with sequence numbers the new leader
 * refuses (OUT_OF_ORDER_SEQUENCE_NUMBER on every later send; seen in the three-node fault runs). The producer
 * layer then starts a fresh kafkajs producer, as the Java client bumps its epoch, instead of failing for good.
 */
describe('idempotent producer after a sequence error', () => {
  const meta = sampleMeta();
  const payload = samplePayloads[TOPICS.USER_LOGGED_IN];
  // The failures below are meant: their error logs would only be noise here.
  beforeEach(() => {
    vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    vi.spyOn(logger, 'info').mockImplementation(() => undefined);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** A kafkajs stand-in whose producers fail with `errorType` while `failing` holds; counts the producers made. */
  const fakeKafka = (errorType: string, failing: () => boolean) => {
    const made: number[] = [];
    const kafka = {
      producer: () => {
        const id = made.length + 1;
        made.push(id);
        return {
          connect: async () => {},
          disconnect: async () => {},
          sendBatch: async () => {
            if (failing() || id === 1) {
              throw Object.assign(new Error('The broker received an out of order sequence number'), {
                name: 'KafkaJSProtocolError',
                type: errorType,
              });
            }
            return [{ topicName: TOPICS.USER_LOGGED_IN, partition: 0, errorCode: 0, baseOffset: String(id) }];
          },
        };
      },
    } as unknown as Kafka;
    return { kafka, made };
  };

  it('rejects the refused publish, then publishes through a new producer', async () => {
    // Prepare: the first kafkajs producer is stuck on a sequence error.
    const { kafka, made } = fakeKafka('OUT_OF_ORDER_SEQUENCE_NUMBER', () => false);
    const producer = new KafkaProducer({ kafka, lingerMs: 0 });
    // Act
    const first = producer.publish(TOPICS.USER_LOGGED_IN, payload, meta);
    await expect(first).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
    const second = await producer.publish(TOPICS.USER_LOGGED_IN, payload, meta);
    // Assess
    expect(made).toEqual([1, 2]);
    expect(second).toBeTruthy();
    await producer.disconnect();
  });

  it('keeps its producer on other errors (a new producer id would only be needed for the sequence)', async () => {
    // Prepare
    let failing = true;
    const { kafka, made } = fakeKafka('REQUEST_TIMED_OUT', () => failing);
    const producer = new KafkaProducer({ kafka, lingerMs: 0 });
    // Act
    await expect(producer.publish(TOPICS.USER_LOGGED_IN, payload, meta)).rejects.toMatchObject({
      code: 'KAFKA_UNAVAILABLE',
    });
    failing = false;
    await expect(producer.publish(TOPICS.USER_LOGGED_IN, payload, meta)).rejects.toMatchObject({
      code: 'KAFKA_UNAVAILABLE',
    });
    // Assess: still the first producer (which, in this stand-in, keeps failing).
    expect(made).toEqual([1]);
    await producer.disconnect();
  });
});

/**
 * kafkajs 2.2.4 keeps one response per broker across its internal retries: when a partition's leader moves to
 * a broker that already answered, sendBatch returns without having sent that partition's messages. The
 * producer layer checks the returned partitions against the ones its messages hash to, and sends the
 * missing ones again before resolving their publishes.
 */
describe('messages kafkajs returned without sending', () => {
  beforeEach(() => {
    vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    vi.spyOn(logger, 'info').mockImplementation(() => undefined);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('are sent again before the publish resolves', async () => {
    // Prepare: the first sendBatch "succeeds" with no partition written (the broker that answered led none
    // of them); the second writes every partition of the topic.
    const topic = TOPICS.USER_LOGGED_IN;
    const calls: number[] = [];
    const kafka = {
      producer: () => ({
        connect: async () => {},
        disconnect: async () => {},
        sendBatch: async ({ topicMessages }: { topicMessages: { messages: unknown[] }[] }) => {
          calls.push(topicMessages.reduce((n, t) => n + t.messages.length, 0));
          if (calls.length === 1) return [];
          return Array.from({ length: 12 }, (_, partition) => ({
            topicName: topic,
            partition,
            errorCode: 0,
          }));
        },
      }),
    } as unknown as Kafka;
    const producer = new KafkaProducer({ kafka, lingerMs: 0 });
    // Act
    await producer.publish(topic, samplePayloads[topic], sampleMeta());
    // Assess: the message went out twice, the second time on its own.
    expect(calls).toEqual([1, 1]);
    await producer.disconnect();
  });
});
