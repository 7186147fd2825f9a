import type { Kafka } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { definitionOf, TOPICS } from '../../../shared/events/index.ts';
import {
  DEFAULT_DELIVERY_TIMEOUT_MS,
  KafkaProducer,
  sendRetry,
  transientKafkaError,
} from '../../../shared/kafka/producer.ts';
import { logger } from '../../../shared/log.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';

/** The back-offs kafkajs waits between the retries of one send, at the middle of its ±20 % randomisation. */
const backoffs = (retry: { initialRetryTime: number; maxRetryTime: number; retries: number }) => {
  const delays: number[] = [];
  for (let i = 0, delay = retry.initialRetryTime; i < retry.retries; i++) {
    delays.push(delay);
    delay = Math.min(delay * 2, retry.maxRetryTime);
  }
  return delays;
};

describe('producer send retries (delivery timeout)', () => {
  it('retries for about the delivery timeout, never more than 1 s apart', () => {
    // Act
    const retry = sendRetry(DEFAULT_DELIVERY_TIMEOUT_MS);
    const delays = backoffs(retry);
    const total = delays.reduce((a, b) => a + b, 0);
    // Assess: the back-offs add up to the 120 s timeout (within one back-off) and the longest is 1 s, where
    // the client's setting (8 retries, doubling) gave up after about 25 s with 12.8 s before its last try.
    expect(total).toBeGreaterThanOrEqual(DEFAULT_DELIVERY_TIMEOUT_MS);
    expect(total).toBeLessThan(DEFAULT_DELIVERY_TIMEOUT_MS + 1_000);
    expect(Math.max(...delays)).toBe(1_000);
    expect(retry.initialRetryTime).toBe(100);
  });

  it('scales with a shorter timeout and keeps at least one retry', () => {
    expect(backoffs(sendRetry(10_000)).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(10_000);
    expect(sendRetry(10_000).retries).toBeLessThan(sendRetry(DEFAULT_DELIVERY_TIMEOUT_MS).retries);
    expect(sendRetry(1).retries).toBe(1);
  });

  /** A kafkajs stand-in that records the options each producer is made with. */
  const recordingKafka = () => {
    const made: { retry?: { retries: number; maxRetryTime: number } }[] = [];
    const kafka = {
      producer: (options: (typeof made)[number]) => {
        made.push(options);
        return { connect: async () => {}, disconnect: async () => {} };
      },
    } as unknown as Kafka;
    return { kafka, made };
  };

  it('gives the kafkajs producer the retries of its delivery timeout', async () => {
    const { kafka, made } = recordingKafka();
    const producer = new KafkaProducer({ kafka, deliveryTimeoutMs: 30_000 });
    await producer.connect();
    expect(made[0]?.retry).toEqual(sendRetry(30_000));
    await producer.disconnect();
  });

  it('reads KAFKA_DELIVERY_TIMEOUT_MS, and refuses a value that is not a whole number of milliseconds', async () => {
    const saved = process.env.KAFKA_DELIVERY_TIMEOUT_MS;
    try {
      process.env.KAFKA_DELIVERY_TIMEOUT_MS = '45000';
      const { kafka, made } = recordingKafka();
      await new KafkaProducer({ kafka }).connect();
      expect(made[0]?.retry).toEqual(sendRetry(45_000));

      process.env.KAFKA_DELIVERY_TIMEOUT_MS = '2 minutes';
      await expect(new KafkaProducer({ kafka: recordingKafka().kafka }).connect()).rejects.toMatchObject({
        name: 'ConfigError',
        message: expect.stringContaining('KAFKA_DELIVERY_TIMEOUT_MS'),
      });
    } finally {
      if (saved === undefined) delete process.env.KAFKA_DELIVERY_TIMEOUT_MS;
      else process.env.KAFKA_DELIVERY_TIMEOUT_MS = saved;
    }
  });
});

/** kafkajs's errors as it throws them after its own retries: the last error wrapped. */
const unreachable = () =>
  Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), {
    name: 'KafkaJSNumberOfRetriesExceeded',
    retriable: false,
    cause: Object.assign(new Error('connect ECONNREFUSED'), {
      name: 'KafkaJSConnectionError',
      retriable: true,
    }),
  });
const tooLarge = () =>
  Object.assign(new Error('The request included a message larger than the max message size'), {
    name: 'KafkaJSNonRetriableError',
    retriable: false,
    cause: Object.assign(new Error('too large'), {
      name: 'KafkaJSProtocolError',
      type: 'MESSAGE_TOO_LARGE',
      retriable: false,
    }),
  });

describe('producer: a cluster unreachable for longer than kafkajs retries', () => {
  beforeEach(() => {
    for (const level of ['info', 'warn', 'error', 'debug'] as const)
      vi.spyOn(logger, level).mockImplementation(() => undefined);
  });
  afterEach(() => vi.restoreAllMocks());

  /** A kafkajs stand-in whose sends fail with `fail(n)` (n = request number from 1) while it returns one. */
  const flakyKafka = (fail: (n: number) => Error | undefined) => {
    let requests = 0;
    const kafka = {
      producer: () => ({
        connect: async () => {},
        disconnect: async () => {},
        sendBatch: async () => {
          requests++;
          const error = fail(requests);
          if (error) throw error;
          // Every partition written: nothing for the producer to send again (producer-resend.test.ts).
          return Array.from({ length: definitionOf(TOPICS.USER_LOGGED_IN).partitions }, (_, partition) => ({
            topicName: TOPICS.USER_LOGGED_IN,
            partition,
            errorCode: 0,
            baseOffset: '0',
          }));
        },
      }),
    } as unknown as Kafka;
    return { kafka, requests: () => requests };
  };
  const publish = (producer: KafkaProducer) =>
    producer.publish(TOPICS.USER_LOGGED_IN, samplePayloads[TOPICS.USER_LOGGED_IN], sampleMeta());

  it('sends again while inside the delivery timeout, and the publish resolves', async () => {
    const fake = flakyKafka((n) => (n <= 2 ? unreachable() : undefined));
    const producer = new KafkaProducer({ kafka: fake.kafka, lingerMs: 0, deliveryTimeoutMs: 30_000 });
    await expect(publish(producer)).resolves.toMatchObject({ topic: TOPICS.USER_LOGGED_IN });
    expect(fake.requests()).toBe(3);
  });

  it('rejects with KAFKA_UNAVAILABLE once the delivery timeout has passed', async () => {
    const fake = flakyKafka(() => unreachable());
    const producer = new KafkaProducer({ kafka: fake.kafka, lingerMs: 0, deliveryTimeoutMs: 1_500 });
    await expect(publish(producer)).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE', retryable: true });
    expect(fake.requests()).toBeGreaterThanOrEqual(2);
  });

  it('rejects at once what can never succeed (a protocol error kafkajs does not retry)', async () => {
    const fake = flakyKafka(() => tooLarge());
    const producer = new KafkaProducer({ kafka: fake.kafka, lingerMs: 0, deliveryTimeoutMs: 30_000 });
    await expect(publish(producer)).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
    expect(fake.requests()).toBe(1);
  });

  it('classifies kafkajs errors by their innermost cause', () => {
    expect(transientKafkaError(unreachable())).toBe(true);
    expect(transientKafkaError(tooLarge())).toBe(false);
    expect(transientKafkaError(new TypeError('x'))).toBe(false);
    expect(
      transientKafkaError(
        Object.assign(new Error('leader'), { name: 'KafkaJSProtocolError', retriable: true }),
      ),
    ).toBe(true);
  });
});
