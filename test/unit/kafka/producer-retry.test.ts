import type { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DELIVERY_TIMEOUT_MS, KafkaProducer, sendRetry } from '../../../shared/kafka/producer.ts';

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
