import type { IncomingMessage, ServerResponse } from 'node:http';
import { SQSClient } from '@aws-sdk/client-sqs';
import { getRequestListener } from '@hono/node-server';
import { operatorName } from '../infra/ops/dlq-cli.ts';
import { DEAD_LETTER_QUEUE } from '../infra/resources.ts';
import { createKafka } from '../shared/kafka/config.ts';
import type { ConsumerProbe } from '../shared/kafka/health.ts';
import { producer } from '../shared/kafka/producer.ts';
import { awsClientConfig } from '../shared/lambda/clients.ts';
import { LagHistory } from './consumers.ts';
import type { ConsoleDeps } from './data.ts';
import { createConsole } from './server.ts';

export interface ConsoleHandle {
  /** Node request listener for the console's pages. */
  listener: (req: IncomingMessage, res: ServerResponse) => void;
  /** Tells the console the port it is served on (its own Host and Origin values depend on it). */
  listening(port: number): void;
  stop(): Promise<void>;
}

export interface ConsoleSetup {
  stage: string;
  groupIdFor?: ConsoleDeps['groupIdFor'];
  /** Where the consumers' state comes from; this process's consumers by default (`npm start`). */
  probe?: ConsumerProbe;
  /** Extra host:port values to accept (e.g. a name the operator put in front of it). */
  hosts?: string[];
  /** Who is at the console; CONSOLE_OPERATOR or the OS user by default (infra/ops/dlq-cli.ts operatorName). */
  operator?: string;
}

/**
 * The console over the environment's bus: Kafka from KAFKA_BROKERS / MSK_CLUSTER_ARN, the tables and the
 * ESM dead-letter queue from their environment variables (infra/resources.ts), the shared producer for
 * the reveal events. `npm start` serves it beside /health/kafka; `npm run console` serves it alone.
 */
export const openConsole = async (setup: ConsoleSetup): Promise<ConsoleHandle> => {
  const kafka = await createKafka();
  const queueUrl = process.env[DEAD_LETTER_QUEUE.env];
  const sqs = queueUrl ? new SQSClient(awsClientConfig('sqs')) : undefined;
  const deps: ConsoleDeps = {
    kafka,
    dlq: { kafka, ...(sqs && queueUrl ? { sqs: { client: sqs, queueUrl } } : {}), print: () => undefined },
    producer,
    // The local ESM emulator reads every topic of a function as its one group (the definition's groupId).
    groupIdFor: setup.groupIdFor ?? ((consumer) => consumer.groupId),
    operator: setup.operator ?? operatorName(),
  };
  const lag = new LagHistory(setup.probe);
  let port = 0;
  const hosts = () => [
    ...['127.0.0.1', 'localhost', '[::1]'].map((h) => `${h}:${port}`),
    ...(setup.hosts ?? []),
  ];
  const app = createConsole({ deps, lag, hosts, stage: setup.stage });
  return {
    listener: getRequestListener(app.fetch),
    listening: (p) => {
      port = p;
    },
    stop: async () => {
      lag.stop();
      sqs?.destroy();
    },
  };
};
