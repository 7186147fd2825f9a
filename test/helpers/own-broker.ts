import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type RunningKafka, startKafka } from '../../infra/local/kafka/broker.ts';
import { freePort } from '../../infra/local/kafka/free-port.ts';
import { LOCAL_DIR } from '../../infra/local/kafka/jvm.ts';

/**
 * A fresh, empty broker for one test file. For tests that run the real consumer groups of
 * infra/consumers.ts (`npm start`): on the run's shared broker those groups would start from the beginning
 * of topics other tests filled, and spend minutes on that backlog first.
 */
export const useOwnBroker = (): { brokers: () => string } => {
  let kafka: RunningKafka | undefined;
  let dataDir: string | undefined;
  beforeAll(async () => {
    const port = await freePort();
    dataDir = join(LOCAL_DIR, 'kafka-data', `e2e-${port}`);
    kafka = await startKafka({ port, dataDir });
  }, 120_000);
  afterAll(async () => {
    await kafka?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });
  return { brokers: () => kafka?.brokers.join(',') ?? '' };
};
