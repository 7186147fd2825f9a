import type { Admin, Kafka } from 'kafkajs';
import { DLQ_DEFINITION, topicSpecs } from '../events/catalog.ts';
import { DLQ_TOPIC } from '../events/topics.ts';
import { logger } from '../log.ts';

export interface TopicSpec {
  topic: string;
  partitions: number;
  retentionMs: number;
}

export interface ProvisionReport {
  created: string[];
  grown: { topic: string; from: number; to: number }[];
  unchanged: string[];
  /** Topics with more partitions than the catalog asks: never shrunk (Kafka cannot), only reported. */
  larger: { topic: string; actual: number; catalog: number }[];
}

/**
 * Creates the catalog's topics (idempotent), raises partition counts when the catalog asks for more, and
 * never deletes or shrinks anything. Replication factor comes from the environment
 * (KAFKA_REPLICATION_FACTOR, default 1 for the local single broker; MSK topics are created by the CDK app).
 */
export const provisionTopics = async (
  kafka: Kafka,
  specs: TopicSpec[] = topicSpecs(),
  replicationFactor = Number(process.env.KAFKA_REPLICATION_FACTOR ?? 1),
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
          replicationFactor,
          configEntries: configFor(s),
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

const configFor = (spec: TopicSpec) => [
  { name: 'retention.ms', value: String(spec.retentionMs) },
  ...(spec.topic === DLQ_TOPIC
    ? [{ name: 'max.message.bytes', value: String(DLQ_DEFINITION.maxMessageBytes) }]
    : []),
];
