import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { runKafkaTool } from '../../infra/local/kafka/broker.ts';
import { BENCH_DIR } from './env.ts';
import { BENCH_TOPICS, encodedFor } from './events.ts';

/**
 * Kafka's own tools, from the same Maven-fetched Kafka as the broker (infra/local/kafka/broker.ts), on the
 * same broker: the reference points for rows 1 and 3.
 */

export interface JavaProducerResult {
  records: number;
  perSecond: number;
  avgLatencyMs: number;
  recordBytes: number;
}

/**
 * ProducerPerformance with acks=all (idempotence is on by default in Kafka 4 clients) and the same ~1 KB
 * records as ours: a payload file of our encoded events, one per line (JSON has no raw newlines).
 */
export const javaProducerPerformance = async (
  brokers: string[],
  records: number,
): Promise<JavaProducerResult> => {
  await mkdir(BENCH_DIR, { recursive: true });
  const file = join(BENCH_DIR, 'payloads.txt');
  const values = Array.from({ length: 500 }, (_, i) => encodedFor(BENCH_TOPICS.producer, i).value);
  await writeFile(file, values.join('\n'));
  const recordBytes = Math.round(values.reduce((s, v) => s + Buffer.byteLength(v), 0) / values.length);
  const { stdout, stderr, code } = await runKafkaTool('org.apache.kafka.tools.ProducerPerformance', [
    '--topic',
    BENCH_TOPICS.producer,
    '--num-records',
    String(records),
    '--payload-file',
    file,
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${brokers.join(',')}`,
    'acks=all',
  ]);
  // Last line: "N records sent, X records/sec (Y MB/sec), Z ms avg latency, ..."
  const summary = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => / records sent, /.test(l));
  const match = summary?.match(/^(\d+) records sent, ([\d.]+) records\/sec .*?, ([\d.]+) ms avg latency/);
  if (code !== 0 || !match) {
    throw new Error(
      `ProducerPerformance failed (exit ${code}):\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`,
    );
  }
  return {
    records: Number(match[1]),
    perSecond: Number(match[2]),
    avgLatencyMs: Number(match[3]),
    recordBytes,
  };
};

export interface JavaConsumerResult {
  records: number;
  /** fetch.nMsg.sec: records/s after the group join (rebalance time left out, as for the Node readers). */
  perSecond: number;
  /** nMsg.sec: including the group join. */
  perSecondWithJoin: number;
  rebalanceMs: number;
}

/**
 * ConsumerPerformance: a fresh group reading `records` records from the beginning of `topic` (the same
 * pre-filled records as the consumer utility), default fetch settings.
 */
export const javaConsumerPerformance = async (
  brokers: string[],
  topic: string,
  records: number,
): Promise<JavaConsumerResult> => {
  const { stdout, stderr, code } = await runKafkaTool('org.apache.kafka.tools.ConsumerPerformance', [
    '--bootstrap-server',
    brokers.join(','),
    '--topic',
    topic,
    '--messages',
    String(records),
    '--group',
    `bench-java-${Date.now()}`,
    '--timeout',
    '60000',
    '--hide-header',
  ]);
  // start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const fields = stdout
    .trim()
    .split('\n')
    .reverse()
    .map((l) => l.split(', '))
    .find((f) => f.length >= 10);
  if (code !== 0 || !fields || Number(fields[4]) < records) {
    throw new Error(
      `ConsumerPerformance failed (exit ${code}):\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`,
    );
  }
  return {
    records: Number(fields[4]),
    perSecond: Number(fields[9]),
    perSecondWithJoin: Number(fields[5]),
    rebalanceMs: Number(fields[6]),
  };
};

export interface KafkaE2eResult {
  messages: number;
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}

/** A dedicated single-partition topic: the tool writes random bytes, which no catalog topic accepts. */
export const E2E_TOOL_TOPIC = 'bench.e2e-latency';

/**
 * EndToEndLatency (4.1 positional arguments: broker, topic, messages, acks, size): produces one message,
 * waits until its consumer reads it, repeats. Reports avg and 50th/99th/99.9th percentiles in ms.
 */
export const kafkaEndToEndLatency = async (
  kafka: Kafka,
  brokers: string[],
  messages: number,
  size: number,
): Promise<KafkaE2eResult> => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic: E2E_TOOL_TOPIC, numPartitions: 1, replicationFactor: 1 }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
  const { stdout, stderr, code } = await runKafkaTool('org.apache.kafka.tools.EndToEndLatency', [
    brokers.join(','),
    E2E_TOOL_TOPIC,
    String(messages),
    'all',
    String(size),
  ]);
  const avg = stdout.match(/Avg latency: ([\d.]+) ms/);
  const pct = stdout.match(/Percentiles: 50th = ([\d.]+), 99th = ([\d.]+), 99\.9th = ([\d.]+)/);
  if (code !== 0 || !avg || !pct) {
    throw new Error(`EndToEndLatency failed (exit ${code}):\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`);
  }
  return {
    messages,
    avgMs: Number(avg[1]),
    p50Ms: Number(pct[1]),
    p99Ms: Number(pct[2]),
    p999Ms: Number(pct[3]),
  };
};
