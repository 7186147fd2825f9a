import { randomUUID } from 'node:crypto';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';

/**
 * Proves that kafkajs 2.2.4 works against the local broker: Kafka 4 removed old protocol versions (KIP-896),
 * so every client call the project relies on is exercised once. `npm run kafka -- compat` runs it (against
 * KAFKA_BROKERS or a broker of its own); findings are in docs/kafka-version.md.
 */
export interface CompatStep {
  name: string;
  ok: boolean;
  ms: number;
  detail?: string;
  error?: string;
}

export async function kafkajsCompat(brokers: string[]): Promise<CompatStep[]> {
  const kafka = new Kafka({ clientId: 'kafkajs-compat', brokers, logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  const run = randomUUID().slice(0, 8);
  const topic = `compat-${run}`;
  const reTopics = [`compat-re-${run}-a`, `compat-re-${run}-b`];
  const steps: CompatStep[] = [];
  const step = async (name: string, fn: () => Promise<string | undefined>): Promise<void> => {
    const start = Date.now();
    try {
      const detail = await fn();
      steps.push({ name, ok: true, ms: Date.now() - start, ...(detail ? { detail } : {}) });
    } catch (error) {
      const e = error as Error & { type?: string; code?: number };
      const error_ = `${e.name}: ${e.message}${e.type ? ` [${e.type}${e.code !== undefined ? ` ${e.code}` : ''}]` : ''}`;
      steps.push({ name, ok: false, ms: Date.now() - start, error: error_ });
    }
  };
  const withTimeout = async <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  await step('admin.connect', async () => {
    await admin.connect();
    return undefined;
  });
  await step('admin.describeCluster', async () => {
    const c = await admin.describeCluster();
    return `brokers=${c.brokers.length} controller=${c.controller} clusterId=${c.clusterId}`;
  });
  await step('admin.createTopics', async () => {
    const created = await admin.createTopics({
      topics: [topic, ...reTopics].map((t) => ({ topic: t, numPartitions: 3, replicationFactor: 1 })),
      waitForLeaders: true,
    });
    return `created=${created}`;
  });
  await step('admin.listTopics', async () => {
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) throw new Error(`${topic} not listed`);
    return `${topics.length} topics`;
  });
  await step('admin.fetchTopicMetadata', async () => {
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    return `partitions=${md.topics[0]?.partitions.length}`;
  });
  await step('admin.createPartitions', async () => {
    await admin.createPartitions({ topicPartitions: [{ topic, count: 6 }] });
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    if (md.topics[0]?.partitions.length !== 6) throw new Error('partition count not 6');
    return 'partitions=6';
  });
  await step('admin.describeConfigs', async () => {
    const res = await admin.describeConfigs({
      resources: [{ type: 2 /* TOPIC */, name: topic, configNames: ['retention.ms'] }],
      includeSynonyms: false,
    });
    return `retention.ms=${res.resources[0]?.configEntries[0]?.configValue}`;
  });
  await step('admin.alterConfigs', async () => {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: 2, name: topic, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
    });
    return undefined;
  });

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await step('producer.send idempotent acks=-1', async () => {
    await producer.connect();
    const res = await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 10 }, (_, i) => ({
        key: `k${i}`,
        value: JSON.stringify({ i }),
        headers: { 'event-type': 'compat' },
      })),
    });
    return `offsets=${res.map((r) => `${r.partition}:${r.baseOffset}`).join(',')}`;
  });
  await step('producer.send gzip', async () => {
    await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: [{ value: 'gz' }] });
    return undefined;
  });
  await step('producer.sendBatch to regex topics', async () => {
    await producer.sendBatch({
      acks: -1,
      topicMessages: reTopics.map((t) => ({ topic: t, messages: [{ key: 'k', value: t }] })),
    });
    return undefined;
  });
  await producer.disconnect().catch(() => {});

  const txProducer = kafka.producer({
    transactionalId: `compat-tx-${run}`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await step('producer transaction (not required)', async () => {
    await txProducer.connect();
    const tx = await txProducer.transaction();
    await tx.send({ topic, messages: [{ value: 'tx' }] });
    await tx.commit();
    return undefined;
  });
  await txProducer.disconnect().catch(() => {});

  const groupId = `compat-group-${run}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  await step('consumer group subscribe+run+commitOffsets', async () => {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let seen = 0;
    await withTimeout(
      new Promise<void>((done, fail) => {
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ topic: t, partition, message }) => {
              await consumer.commitOffsets([
                { topic: t, partition, offset: (Number(message.offset) + 1).toString() },
              ]);
              seen += 1;
              if (seen >= 12) done();
            },
          })
          .catch(fail);
      }),
      30_000,
      'consume 12 messages',
    );
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = offsets[0]?.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0) ?? 0;
    if (committed < 12) throw new Error(`committed offsets sum ${committed} < 12`);
    return `consumed=${seen} committedSum=${committed}`;
  });
  await step('admin.describeGroups', async () => {
    const g = await admin.describeGroups([groupId]);
    return `state=${g.groups[0]?.state} members=${g.groups[0]?.members.length}`;
  });
  await consumer.disconnect().catch(() => {});

  const reConsumer = kafka.consumer({ groupId: `compat-re-group-${run}` });
  await step('consumer regex subscription', async () => {
    await reConsumer.connect();
    await reConsumer.subscribe({ topics: [new RegExp(`^compat-re-${run}-`)], fromBeginning: true });
    const seen = new Set<string>();
    await withTimeout(
      new Promise<void>((done, fail) => {
        reConsumer
          .run({
            eachMessage: async ({ topic: t }) => {
              seen.add(t);
              if (seen.size === reTopics.length) done();
            },
          })
          .catch(fail);
      }),
      30_000,
      'consume from both regex topics',
    );
    return `topics=${[...seen].sort().join(',')}`;
  });
  await reConsumer.disconnect().catch(() => {});

  await step('admin.fetchTopicOffsets', async () => {
    const o = await admin.fetchTopicOffsets(topic);
    return `high=${o.map((p) => p.high).join(',')}`;
  });
  await step('admin.deleteGroups + deleteTopics', async () => {
    await admin.deleteGroups([groupId, `compat-re-group-${run}`]);
    await admin.deleteTopics({ topics: [topic, ...reTopics] });
    return undefined;
  });
  await admin.disconnect().catch(() => {});
  return steps;
}
