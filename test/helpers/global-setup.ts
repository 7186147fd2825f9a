import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { TestProject } from 'vitest/node';
import { type RunningKafka, startKafka } from '../../infra/local/kafka/broker.ts';
import { freePort } from '../../infra/local/kafka/free-port.ts';
import { LOCAL_DIR } from '../../infra/local/kafka/jvm.ts';
import { groupCoordinatorsReady } from '../../infra/local/kafka/ready.ts';
import { fetchVersitygw } from '../../infra/local/s3/versitygw.ts';
import { provisionTopics } from '../../shared/kafka/admin.ts';

/**
 * Integration global setup: one real Kafka broker (KRaft, fetched from Maven Central) for the whole run, on a
 * free port and a throw-away data dir, unless KAFKA_BROKERS points at an existing cluster (docker compose,
 * `npm run kafka -- start`). Tests read it with `inject('kafkaBrokers')` (typed in provided.d.ts) or the env. The teardown stops it; a crash of the run still kills it (see jvm.ts killOnExit).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let kafka: RunningKafka | undefined;
  let dataDir: string | undefined;
  const external = process.env.KAFKA_BROKERS;
  if (!external) {
    const port = await freePort();
    dataDir = join(LOCAL_DIR, 'kafka-data', `vitest-${port}`);
    await rm(dataDir, { recursive: true, force: true });
    kafka = await startKafka({ port, dataDir });
    process.env.KAFKA_BROKERS = kafka.brokers.join(',');
  }
  // The local S3 (the audit anchor's tests): built once from the Go module proxy, minutes on a new machine,
  // so here rather than inside a test file's hook timeout.
  await fetchVersitygw();
  const brokers = process.env.KAFKA_BROKERS ?? '';
  project.provide('kafkaBrokers', brokers);

  // Every catalog topic (and the DLQ) exists before any test runs: auto-creation is off, like on MSK.
  const client = new Kafka({
    clientId: 'global-setup',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  });
  await provisionTopics(client);
  // And the group coordinators are loaded, so the first test's consumer joins at once instead of crashing
  // on COORDINATOR_LOAD_IN_PROGRESS and being restarted by kafkajs.
  await groupCoordinatorsReady(client, ['global-setup']);

  // Ctrl-C / kill of the run: stop the JVM too, then let the signal do what it would have done.
  const onSignal = (signal: NodeJS.Signals): void => {
    kafka?.kill();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  return async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!kafka) return;
    try {
      await kafka.stop();
    } finally {
      kafka.kill();
      if (external === undefined) Reflect.deleteProperty(process.env, 'KAFKA_BROKERS');
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    }
  };
}
