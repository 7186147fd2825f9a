import type { Kafka } from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';

/**
 * The producer layer is a library: importing it or using it leaves the host process as it found it (its
 * environment, its signal handlers) unless the application asks otherwise.
 */
describe('process state', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('importing the Kafka client modules writes nothing to process.env', async () => {
    // Prepare: a fresh module graph, so the imports below really evaluate the modules.
    vi.resetModules();
    const before = { ...process.env };
    // Act
    await import('../../../shared/kafka/config.ts');
    await import('../../../shared/kafka/producer.ts');
    await import('../../../shared/kafka/index.ts');
    // Assess: Powertools (a dependency, not this code) sets its SDK user-agent id when it loads.
    const { AWS_SDK_UA_APP_ID: _powertools, ...after } = process.env;
    const { AWS_SDK_UA_APP_ID: _already, ...expected } = before;
    expect(after).toEqual(expected);
  });

  it("keeps kafkajs's default-partitioner notice out of the warnings without setting its variable", async () => {
    // Prepare
    const { toKafkaConfig, readConfig } = await import('../../../shared/kafka/config.ts');
    const { logger } = await import('../../../shared/log.ts');
    const { Kafka } = await import('kafkajs');
    expect(process.env.KAFKAJS_NO_PARTITIONER_WARNING).toBeUndefined();
    const warn = vi.spyOn(logger, 'warn');
    const debug = vi.spyOn(logger, 'debug');
    const kafka = new Kafka(toKafkaConfig(readConfig({}), ['127.0.0.1:1']));
    // Act: a producer without `createPartitioner` is what makes kafkajs print it (once per process).
    kafka.producer();
    // Assess: it was seen, and logged at debug only.
    const partitioner = (calls: unknown[][]) =>
      calls.filter(([message]) => String(message).includes('switched default partitioner'));
    expect(partitioner(debug.mock.calls)).toHaveLength(1);
    expect(partitioner(warn.mock.calls)).toHaveLength(0);
  });

  const fakeKafka = () =>
    ({
      producer: () => ({ connect: async () => {}, disconnect: async () => {}, send: async () => [] }),
    }) as unknown as Kafka;
  const listeners = () => ({
    SIGTERM: process.listenerCount('SIGTERM'),
    SIGINT: process.listenerCount('SIGINT'),
  });

  it('a producer installs no SIGTERM/SIGINT handler unless asked', async () => {
    // Prepare
    const { KafkaProducer } = await import('../../../shared/kafka/producer.ts');
    const before = listeners();
    const producer = new KafkaProducer({ kafka: fakeKafka() });
    // Act
    await producer.connect();
    // Assess
    expect(listeners()).toEqual(before);
    await producer.disconnect();
  });

  it('handleSignals() (or the option) installs one handler per signal, once', async () => {
    // Prepare
    const { KafkaProducer } = await import('../../../shared/kafka/producer.ts');
    const before = listeners();
    const optedIn = new KafkaProducer({ kafka: fakeKafka() });
    const byOption = new KafkaProducer({ kafka: fakeKafka(), handleSignals: true });
    try {
      // Act
      await optedIn.connect();
      optedIn.handleSignals().handleSignals();
      await byOption.connect();
      // Assess
      expect(listeners()).toEqual({ SIGTERM: before.SIGTERM + 2, SIGINT: before.SIGINT + 2 });
    } finally {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        for (const l of process.listeners(signal).slice(before[signal])) process.off(signal, l);
      }
    }
  });
});
