import type { Kafka } from 'kafkajs';
import { runKafkaTool } from '../../infra/local/kafka/broker.ts';
import { COMPRESSION_NAMES, type CompressionName } from '../../shared/kafka/codecs.ts';
import { KafkaProducer } from '../../shared/kafka/producer.ts';
import { BENCH_TOPICS, metaFor, payloadFor } from './events.ts';
import { OUTSTANDING, PRODUCER_SETTINGS, type Throughput, windowed } from './producer.ts';
import { fmt, median, rate } from './stats.ts';

/**
 * Row 6, the producer's `compression` option: for each codec, publish throughput of `KafkaProducer.publish`
 * (the layer's settings, ~1 KB catalog events, acks=all) and the bytes those events take in the broker's log
 * (the partitions' size as the broker reports it, kafka-log-dirs, before and after). Rounds interleave the
 * codecs so none always runs first.
 */
export interface CompressionResult {
  codec: CompressionName;
  events: number;
  throughput: Throughput[];
  /** Bytes the broker's log grew by, per round. */
  brokerBytes: number[];
}

const topic = BENCH_TOPICS.producer;

/**
 * The other rows' events all carry the same clinical note, which a codec compresses away across a batch:
 * here each event's note is the same words in an order of its own (same length, same vocabulary), so a
 * batch compresses about as a batch of different notes would.
 */
const payloadOf = (i: number) => {
  const payload = payloadFor(topic, i);
  const words = (payload.reason ?? '').split(' ');
  let seed = (i + 1) * 2_654_435_761;
  for (let j = words.length - 1; j > 0; j--) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    const k = seed % (j + 1);
    [words[j], words[k]] = [words[k] as string, words[j] as string];
  }
  return { ...payload, reason: words.join(' ') };
};

/** The size of `topic`'s partitions on the broker, summed (kafka-log-dirs --describe). */
export const topicBytes = async (brokers: string[], name: string): Promise<number> => {
  const { stdout, stderr, code } = await runKafkaTool('org.apache.kafka.tools.LogDirsCommand', [
    '--bootstrap-server',
    brokers.join(','),
    '--describe',
    '--topic-list',
    name,
  ]);
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  if (code !== 0 || !line) throw new Error(`kafka-log-dirs failed (${code}): ${stderr.slice(-500)}`);
  const report = JSON.parse(line) as {
    brokers: { logDirs: { partitions: { partition: string; size: number }[] }[] }[];
  };
  return report.brokers
    .flatMap((b) => b.logDirs)
    .flatMap((d) => d.partitions)
    .reduce((sum, p) => sum + p.size, 0);
};

const publishAll = async (kafka: Kafka, codec: CompressionName, events: number): Promise<Throughput> => {
  const producer = new KafkaProducer({
    kafka,
    handleSignals: false,
    ...PRODUCER_SETTINGS,
    compression: codec,
  });
  await producer.connect();
  try {
    const start = performance.now();
    await windowed(events, OUTSTANDING, (i) => producer.publish(topic, payloadOf(i), metaFor(i)));
    await producer.flush();
    const ms = performance.now() - start;
    return { events, ms, perSecond: rate(events, ms) };
  } finally {
    await producer.disconnect();
  }
};

export const benchCompression = async (
  kafka: Kafka,
  brokers: string[],
  events: number,
  rounds: number,
  step: (what: string) => void = () => undefined,
): Promise<CompressionResult[]> => {
  const results = new Map<CompressionName, CompressionResult>(
    COMPRESSION_NAMES.map((codec) => [codec, { codec, events, throughput: [], brokerBytes: [] }]),
  );
  // Unmeasured warm-up: JIT, connections and log segments, for every codec alike.
  for (const codec of COMPRESSION_NAMES) await publishAll(kafka, codec, Math.min(2_000, events));
  for (let round = 0; round < rounds; round++) {
    const order = [
      ...COMPRESSION_NAMES.slice(round % COMPRESSION_NAMES.length),
      ...COMPRESSION_NAMES.slice(0, round % COMPRESSION_NAMES.length),
    ];
    for (const codec of order) {
      const before = await topicBytes(brokers, topic);
      const throughput = await publishAll(kafka, codec, events);
      const after = await topicBytes(brokers, topic);
      const result = results.get(codec) as CompressionResult;
      result.throughput.push(throughput);
      result.brokerBytes.push(after - before);
      step(
        `  round ${round + 1} ${codec}: ${Math.round(throughput.perSecond)}/s, ${fmt((after - before) / events, 0)} B/event`,
      );
    }
  }
  return [...results.values()];
};

/** The markdown table of row 6 (docs/benchmarks.md). */
export const compressionTable = (results: CompressionResult[], valueBytes: number): string => {
  const none = results.find((r) => r.codec === 'none');
  const noneBytes = none ? median(none.brokerBytes) / none.events : Number.NaN;
  const noneRate = none ? median(none.throughput.map((t) => t.perSecond)) : Number.NaN;
  const rows = results.map((r) => {
    const perEvent = median(r.brokerBytes) / r.events;
    const perSecond = median(r.throughput.map((t) => t.perSecond));
    return `| ${r.codec} | ${fmt(perEvent, 0)} | ${fmt(perEvent / noneBytes, 2)} | ${fmt(perSecond, 0)} | ${fmt(perSecond / noneRate, 2)} |`;
  });
  return [
    `Row 6: ${results[0]?.events.toLocaleString('en-US')} events of ${valueBytes} bytes per codec and round, median of ${results[0]?.throughput.length} rounds; each event's clinical note has its words in an order of its own; bytes are the growth of the topic's log on the broker (record batches, headers and keys included).`,
    '',
    '| Codec | Broker bytes / event | vs none | publish events/s | vs none |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
};
