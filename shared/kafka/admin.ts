import type { Admin, Kafka } from 'kafkajs';
import { type TopicSpec, topicConfigStrings, topicSpecs } from '../events/catalog.ts';
import { logger } from '../log.ts';

export type { TopicSpec } from '../events/catalog.ts';

export interface ProvisionReport {
  created: string[];
  grown: { topic: string; from: number; to: number }[];
  unchanged: string[];
  /** Topics with more partitions than the catalog asks: never shrunk (Kafka cannot), only reported. */
  larger: { topic: string; actual: number; catalog: number }[];
}

/**
 * The catalog's topic specifications for a self-managed cluster: the replication factor is the environment's
 * (KAFKA_REPLICATION_FACTOR, default 1 for the local single broker); partitions and configs are the catalog's.
 * On AWS the CDK app creates the same specs as AWS::MSK::Topic with the catalog's replication factor.
 */
export const localTopicSpecs = (env: NodeJS.ProcessEnv = process.env): TopicSpec[] => {
  const raw = env.KAFKA_REPLICATION_FACTOR;
  const replicationFactor = raw === undefined || raw === '' ? 1 : Number(raw);
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1)
    throw new TypeError(`KAFKA_REPLICATION_FACTOR must be a positive integer, got "${raw}"`);
  return topicSpecs({ replicationFactor });
};

/**
 * Creates the given topics (default: the catalog's, `localTopicSpecs()`) idempotently, with each spec's
 * partitions, replication factor and configs; raises partition counts when a spec asks for more, and never
 * deletes or shrinks anything.
 */
export const provisionTopics = async (
  kafka: Kafka,
  specs: TopicSpec[] = localTopicSpecs(),
): Promise<ProvisionReport> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    const report: ProvisionReport = { created: [], grown: [], unchanged: [], larger: [] };
    if (missing.length) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: s.partitions,
          replicationFactor: s.replicationFactor,
          configEntries: Object.entries(topicConfigStrings(s)).map(([name, value]) => ({ name, value })),
        })),
      });
      report.created.push(...missing.map((s) => s.topic));
      await waitUntilServing(admin, report.created);
    }
    const present = specs.filter((s) => existing.has(s.topic));
    if (present.length) {
      const { topics } = await admin.fetchTopicMetadata({ topics: present.map((s) => s.topic) });
      const grow: { topic: string; count: number }[] = [];
      for (const spec of present) {
        const actual = topics.find((t) => t.name === spec.topic)?.partitions.length ?? 0;
        if (actual < spec.partitions) {
          grow.push({ topic: spec.topic, count: spec.partitions });
          report.grown.push({ topic: spec.topic, from: actual, to: spec.partitions });
        } else if (actual > spec.partitions) {
          report.larger.push({ topic: spec.topic, actual, catalog: spec.partitions });
        } else report.unchanged.push(spec.topic);
      }
      if (grow.length) await admin.createPartitions({ topicPartitions: grow });
    }
    logger.info('Topics provisioned', {
      created: report.created.length,
      grown: report.grown.length,
      unchanged: report.unchanged.length,
      larger: report.larger.length,
    });
    return report;
  } finally {
    await admin.disconnect();
  }
};

/**
 * `waitForLeaders` only waits for leaders in the metadata; a broker can still answer NOT_LEADER for a moment
 * while it applies them (seen with KRaft right after creation). ListOffsets goes to each leader, so once it
 * succeeds for every new topic, the first publish will too.
 */
const waitUntilServing = async (admin: Admin, topics: string[], timeoutMs = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (const topic of topics) {
    for (;;) {
      try {
        await admin.fetchTopicOffsets(topic);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
};
