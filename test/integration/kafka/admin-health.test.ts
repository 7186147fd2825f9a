import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startKafka } from '../../../infra/local/kafka/broker.ts';
import { freePort } from '../../../infra/local/kafka/free-port.ts';
import { LOCAL_DIR } from '../../../infra/local/kafka/jvm.ts';
import { provisionTopics } from '../../../shared/kafka/admin.ts';
import { checkKafkaHealth } from '../../../shared/kafka/health.ts';
import { testKafka, unique } from '../../helpers/kafka.ts';

const kafka = testKafka('admin-test');

describe('provisionTopics', () => {
  it('creates missing topics idempotently with their configs, raises partitions, and never shrinks', async () => {
    // Prepare
    const topic = `${unique('prov')}.entity.created`;
    const configs = { 'retention.ms': 3_600_000, 'max.message.bytes': 2_097_152 };
    const spec = { topic, partitions: 2, replicationFactor: 1, retentionMs: 3_600_000, configs };
    // Act
    const first = await provisionTopics(kafka, [spec]);
    const again = await provisionTopics(kafka, [spec]);
    const grown = await provisionTopics(kafka, [{ ...spec, partitions: 4 }]);
    const shrink = await provisionTopics(kafka, [{ ...spec, partitions: 1 }]);
    // Assess
    expect(first.created).toEqual([topic]);
    expect(again).toMatchObject({ created: [], unchanged: [topic] });
    expect(grown.grown).toEqual([{ topic, from: 2, to: 4 }]);
    expect(shrink.larger).toEqual([{ topic, actual: 4, catalog: 1 }]);
    const admin = kafka.admin();
    await admin.connect();
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const described = await admin.describeConfigs({
      resources: [{ type: 2, name: topic }],
      includeSynonyms: false,
    });
    await admin.disconnect();
    expect(metadata.topics[0]?.partitions).toHaveLength(4);
    const applied = Object.fromEntries(
      (described.resources[0]?.configEntries ?? []).map((c) => [c.configName, c.configValue]),
    );
    expect(applied).toMatchObject({ 'retention.ms': '3600000', 'max.message.bytes': '2097152' });
  });
});

describe('checkKafkaHealth', () => {
  it('reports the real broker and topic counts of the running broker', async () => {
    const admin = kafka.admin();
    await admin.connect();
    const topics = await admin.listTopics();
    await admin.disconnect();
    const health = await checkKafkaHealth({ env: { KAFKA_BROKERS: process.env.KAFKA_BROKERS } });
    expect(health).toEqual({
      status: 'healthy',
      kafka: { connected: true, brokers: 1, topics: topics.length },
      // No consumer runs in this test file's process.
      consumers: [],
    });
  });

  it('reports unhealthy within its timeout once the broker is stopped', async () => {
    // Prepare: a broker of our own, so stopping it does not disturb the other tests.
    const port = await freePort();
    const broker = await startKafka({ port, dataDir: join(LOCAL_DIR, 'kafka-data', `health-${port}`) });
    const env = { KAFKA_BROKERS: broker.brokers.join(',') };
    expect((await checkKafkaHealth({ env })).status).toBe('healthy');
    // Act
    await broker.stop();
    const started = Date.now();
    const health = await checkKafkaHealth({ env, timeoutMs: 3_000 });
    const elapsed = Date.now() - started;
    // Assess: the bound is the function's contract (timeoutMs), checked loosely, not a benchmark.
    expect(health.status).toBe('unhealthy');
    expect(health).toHaveProperty('error');
    expect(elapsed).toBeLessThan(3_000 + 2_000);
  });
});
