import { randomUUID } from 'node:crypto';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MSK_SERVER_PROPERTIES } from '../../infra/broker-config.ts';
import { definitionOf, TOPICS } from '../../shared/events/index.ts';
import { KafkaProducer } from '../../shared/kafka/producer.ts';
import { sampleMeta, samplePayloads } from '../fixtures/events.ts';
import { collect, eventually } from '../helpers/kafka.ts';
import { useOwnCluster } from '../helpers/own-cluster.ts';

/**
 * The three-node local cluster (`npm run kafka -- start --brokers 3`): MSK's broker properties on every node,
 * acks=all writes through one node down and the node back in every ISR after a restart. The fault runs
 * (test/faults/replicated.ts) build on exactly this.
 */
describe('three-node local Kafka cluster', () => {
  const own = useOwnCluster();
  let kafka: Kafka;
  /** Asks node 1 only (never faulted here): a cut-off node answers with its own stale view. */
  let observer: Kafka;
  const topic = `cluster-test-${randomUUID().slice(0, 8)}`;

  const isr = async (): Promise<number[][]> => {
    const admin = observer.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      return (topics[0]?.partitions ?? []).map((p) => [...p.isr].sort());
    } finally {
      await admin.disconnect();
    }
  };

  beforeAll(async () => {
    kafka = new Kafka({
      clientId: 'cluster-test',
      brokers: own.brokers().split(','),
      logLevel: logLevel.NOTHING,
      // Long enough to outlast a killed leader's fencing (the 9 s broker session timeout, more under load).
      retry: { retries: 20, initialRetryTime: 300, maxRetryTime: 3_000 },
    });
    observer = new Kafka({
      clientId: 'cluster-test-observer',
      brokers: [own.cluster().node(1).address],
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 3, replicationFactor: 3 }],
    });
    await admin.disconnect();
  });

  afterAll(async () => {
    for (const node of own.cluster().nodes) node.reconnect();
  });

  it('runs every node with the broker properties the CDK app gives MSK', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const names = Object.keys(MSK_SERVER_PROPERTIES);
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: own.cluster().nodes.map((n) => ({
          type: ConfigResourceTypes.BROKER,
          name: String(n.id),
          configNames: names,
        })),
      });
      expect(resources).toHaveLength(3);
      for (const resource of resources) {
        const actual = Object.fromEntries(resource.configEntries.map((e) => [e.configName, e.configValue]));
        expect(actual).toEqual(MSK_SERVER_PROPERTIES);
      }
    } finally {
      await admin.disconnect();
    }
  });

  it('publish() spreads over every leader: each event once, in order per key', async () => {
    // Prepare: a catalog topic on the cluster, its partitions led by all three nodes.
    const catalogTopic = TOPICS.USER_LOGGED_IN;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: catalogTopic, numPartitions: definitionOf(catalogTopic).partitions, replicationFactor: 3 },
      ],
    });
    const { topics } = await admin.fetchTopicMetadata({ topics: [catalogTopic] });
    await admin.disconnect();
    const leaders = new Set((topics[0]?.partitions ?? []).map((p) => p.leader));
    expect(leaders.size).toBe(3);
    const producer = new KafkaProducer({ kafka, handleSignals: false, lingerMs: 2, maxBatchSize: 100 });
    // Act: 1,200 events on 60 keys; the sessionId says which event of its key it is.
    const run = randomUUID().slice(0, 8);
    try {
      await Promise.all(
        Array.from({ length: 1_200 }, (_, i) =>
          producer.publish(
            catalogTopic,
            {
              ...samplePayloads[catalogTopic],
              userId: `${run}-${i % 60}`,
              sessionId: `${run}-${i % 60}.${Math.floor(i / 60)}`,
            },
            sampleMeta(),
          ),
        ),
      );
    } finally {
      await producer.disconnect();
    }
    // Assess: read back, each key's 20 events exactly once and in publish order.
    const ours = <T extends { key: string | null }>(records: T[]) =>
      records.filter((r) => r.key?.startsWith(`${run}-`));
    const records = ours(await collect(kafka, [catalogTopic], (rs) => ours(rs).length >= 1_200, 60_000));
    expect(records).toHaveLength(1_200);
    for (let k = 0; k < 60; k++) {
      const sessions = records
        .filter((r) => r.key === `${run}-${k}`)
        .map((r) => /"sessionId":"([^"]+)"/.exec(String(r.value))?.[1]);
      expect(sessions).toEqual(Array.from({ length: 20 }, (_, n) => `${run}-${k}.${n}`));
    }
  }, 120_000);

  it('acknowledges acks=all writes with one node SIGKILLed, and the node rejoins after a restart', async () => {
    const node = own.cluster().node(3);
    // Connected first: a client bootstrapping from the killed node alone would fail before any write.
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await node.kill();
    expect(node.running).toBe(false);
    try {
      const sent = await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: 30 }, (_, i) => ({ key: String(i), value: `v${i}` })),
      });
      expect(sent.every((r) => r.errorCode === 0)).toBe(true);
    } finally {
      await producer.disconnect();
      await node.restart();
    }
    expect(node.pid).toBeGreaterThan(0);
    const rejoined = await eventually(
      async () => (await isr()).every((set) => set.length === 3),
      'the restarted node back in every in-sync replica set',
      90_000,
      1_000,
    );
    expect(rejoined).toBe(true);
  }, 240_000);
});
