import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { consumerByName } from '../../infra/consumers.ts';
import { REPO_ROOT } from '../../infra/local/kafka/jvm.ts';
import { encodeEvent, TOPICS } from '../../shared/events/index.ts';
import { provisionTopics } from '../../shared/kafka/admin.ts';
import { createKafka } from '../../shared/kafka/config.ts';
import { sampleMeta, samplePayloads } from '../fixtures/events.ts';
import { useOwnBroker } from '../helpers/own-broker.ts';
import { type JavaClient, javaClient } from '../integration/foreign/java.ts';

/** Runs `npm start` (its test entry point: free ports, --demo --exit) to completion. */
const start = (env: NodeJS.ProcessEnv) =>
  new Promise<{ code: number | null; out: string }>((done) => {
    const child = spawn(
      join(REPO_ROOT, 'node_modules/.bin/node'),
      ['--import', 'tsx', 'infra/local/start.ts', '--demo', '--exit'],
      { cwd: REPO_ROOT, env },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('close', (code) => done({ code, out }));
  });

/**
 * A record batch compressed with any codec Kafka has no longer stops the local consumers: with Java-written
 * gzip, snappy, lz4 and zstd batches in the topics, `npm start` plays the demo, and does again after a stop
 * and a restart (when the consumer groups resume from their committed offsets).
 */
describe('npm start with compressed records of every codec in the topics', () => {
  const broker = useOwnBroker();
  let java: JavaClient | undefined;
  afterAll(() => java?.close());

  it('plays the demo, and again after a restart', { timeout: 420_000 }, async () => {
    // Prepare: every codec's batch on topics the audit and notification consumers read
    const kafka = await createKafka({ KAFKA_BROKERS: broker.brokers() });
    await provisionTopics(kafka);
    java = await javaClient();
    const topic = TOPICS.APPOINTMENT_REQUESTED;
    const codecs = ['gzip', 'snappy', 'lz4', 'zstd'] as const;
    const written = await java.produce(
      broker.brokers(),
      codecs.map((compression) => ({
        topic,
        compression,
        records: [0, 1].map((i) => {
          const encoded = encodeEvent(
            topic,
            { ...samplePayloads[topic], appointmentId: `apt-${compression}-${i}` },
            sampleMeta(),
          );
          return {
            key: Buffer.from(encoded.key),
            value: Buffer.from(encoded.value),
            headers: Object.fromEntries(Object.entries(encoded.headers).map(([k, v]) => [k, Buffer.from(v)])),
          };
        }),
      })),
    );
    const env = { ...process.env, PORT: '0', KAFKA_BROKERS: broker.brokers() };

    // Act: start, stop, start again
    const first = await start(env);
    const second = await start(env);

    // Assess
    for (const run of [first, second]) {
      expect(run.out).toContain('Demo complete: every step was observed.');
      expect(run.code).toBe(0);
    }
    // The audit consumer group went past every compressed record.
    const admin = kafka.admin();
    await admin.connect();
    try {
      const groupId = consumerByName('audit')?.groupId ?? '';
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const line of written) {
        const [, partition, offset] = line.split(' ');
        const at = committed?.partitions.find((p) => p.partition === Number(partition))?.offset ?? '-1';
        expect(BigInt(at)).toBeGreaterThan(BigInt(offset ?? '0'));
      }
    } finally {
      await admin.disconnect();
    }
    console.log(
      `${written.length} compressed records (${codecs.join(', ')}) in the topics; demo passed twice`,
    );
  });
});
