// First: it sets the demo's log level before any module builds the logger.
import './demo-env.ts';
import { rm, unlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { type ConsoleHandle, openConsole } from '../../console/index.ts';
import { provisionTopics } from '../../shared/kafka/admin.ts';
import { createKafka } from '../../shared/kafka/config.ts';
import { producer } from '../../shared/kafka/producer.ts';
import { ENDPOINT_ENV } from '../../shared/lambda/clients.ts';
import { deliveryTimeoutEnv, recordRetryEnv } from '../../shared/lambda/settings.ts';
import { CONSUMERS, esmConsumerGroupId } from '../consumers.ts';
import { localAnchorPeriods, startAnchorSchedule } from './audit/anchor-schedule.ts';
import { type LocalAws, startLocalAws } from './aws/index.ts';
import { DemoObserver, playDemo } from './demo.ts';
import { lambdaContext } from './esm/context.ts';
import { loadHandler, type RunningEsm, startEsm } from './esm/emulator.ts';
import { sqsOnFailureSink } from './esm/on-failure.ts';
import { START_ENV_FILE } from './invoke.ts';
import { startKafka } from './kafka/broker.ts';
import { freePort } from './kafka/free-port.ts';
import { LOCAL_DIR } from './kafka/jvm.ts';
import { groupCoordinatorsReady } from './kafka/ready.ts';

/**
 * `npm start`: the local stack, every consumer through the ESM emulator, and `/health/kafka` over HTTP.
 *  - Kafka: KAFKA_BROKERS when set, otherwise a local broker (KRaft, port 9092, data in .local/kafka-data/start);
 *  - AWS: DYNAMODB_ENDPOINT / SES_ENDPOINT / SQS_ENDPOINT / S3_ENDPOINT when set, otherwise dynalite,
 *    aws-ses-v2-local, ElasticMQ and versitygw on their usual ports; tables, the ESM dead-letter queue and the
 *    audit anchor bucket are provisioned either way;
 *  - the audit anchor's schedule: a digest of every chain head hourly, an archive daily, as on AWS
 *    (AUDIT_DIGEST_EVERY_SECONDS shortens it);
 *  - topics from the catalog (provisionTopics), then one ESM per definition of infra/consumers.ts;
 *  - GET /health/kafka on PORT (default 3000; HOST, default 127.0.0.1) answers with the health function's response;
 *    every other path there is the operator console (console/).
 * Runs until Ctrl-C, then stops everything it started. `--demo` plays the seed's flows (demo.ts);
 * `--demo --exit` exits once they are done: 0 when every step was observed, 1 otherwise. With `--exit`
 * every server it starts takes a free port, so it can run beside another stack (tests, CI).
 */
/**
 * The in-function retry policy of consumers.ts, as the CDK app hands it to each Lambda (RECORD_RETRY). The
 * emulator runs every function in this one process, so they share one value: refuse to start if
 * consumers.ts ever gives them different policies rather than silently running another one.
 */
const localRecordRetryEnv = (): Record<string, string> => {
  const policies = new Set(CONSUMERS.map((c) => JSON.stringify([c.recordRetry, c.timeoutSeconds])));
  if (policies.size !== 1)
    throw new Error('npm start runs all consumers in one process: give them one recordRetry and timeout');
  const [first] = CONSUMERS;
  return {
    ...recordRetryEnv(first.recordRetry),
    ...deliveryTimeoutEnv(first.timeoutSeconds, first.recordRetry),
  };
};

interface Stack {
  env: Record<string, string>;
  port: number;
  observer: DemoObserver;
  /** One running ESM per consumer definition (each restarts its kafkajs consumer after a crash). */
  esms: readonly RunningEsm[];
  stop(): Promise<void>;
}

const say = (line: string) => console.log(line);

/** `/health/kafka` as before; every other path is the operator console (console/), when it is given. */
const healthServer = async (port: number, operatorConsole?: ConsoleHandle): Promise<Server> => {
  const health = await loadHandler('functions/health/handler.ts');
  const server = createServer((req, res) => {
    if (req.url?.split('?')[0] !== '/health/kafka' && operatorConsole) {
      operatorConsole.listener(req, res);
      return;
    }
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/health/kafka') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
      return;
    }
    const context = lambdaContext({ name: 'health', timeoutSeconds: 10, memoryMb: 256 });
    Promise.resolve(health({ rawPath: '/health/kafka' } as never, context))
      .then((out) => {
        const response = (out ?? {}) as APIGatewayProxyStructuredResultV2;
        res
          .writeHead(response.statusCode ?? 200, {
            'content-type': 'application/json',
            ...(response.headers as Record<string, string> | undefined),
          })
          .end(typeof response.body === 'string' ? response.body : JSON.stringify(out));
      })
      .catch(() => res.writeHead(500, { 'content-type': 'application/json' }).end('{"status":"error"}'));
  });
  // HOST: the interface to bind (127.0.0.1 unless given; docker-compose's bus service says 0.0.0.0).
  await new Promise<void>((ok) => server.listen(port, process.env.HOST || '127.0.0.1', ok));
  return server;
};

export const startStack = async (options: { freePorts: boolean }): Promise<Stack> => {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch(() => undefined);
  };
  try {
    if (!process.env.KAFKA_BROKERS) {
      const port = options.freePorts ? await freePort() : 9092;
      say(`Starting Kafka on 127.0.0.1:${port} ...`);
      const dataDir = join(LOCAL_DIR, 'kafka-data', options.freePorts ? `start-${port}` : 'start');
      const kafka = await startKafka({ port, dataDir });
      stops.push(async () => {
        await kafka.stop();
        kafka.kill();
        // A one-shot run (--exit) leaves no broker data behind; the interactive stack keeps its data.
        if (options.freePorts) await rm(dataDir, { recursive: true, force: true });
      });
      process.env.KAFKA_BROKERS = kafka.brokers.join(',');
    }
    say(`Kafka: ${process.env.KAFKA_BROKERS}`);
    say(
      'Starting local AWS (DynamoDB, SES, SQS, S3) and provisioning tables, the DLQ and the anchor bucket ...',
    );
    const aws: LocalAws = await startLocalAws(
      options.freePorts ? { dynamoPort: 0, sesPort: 0, sqsPort: 0, s3Port: 0, s3: true } : { s3: true },
    );
    stops.push(() => aws.stop());
    Object.assign(process.env, aws.env, localRecordRetryEnv());
    for (const name of Object.values(ENDPOINT_ENV)) if (aws.env[name]) say(`  ${name}=${aws.env[name]}`);

    const periods = localAnchorPeriods();
    const anchor = startAnchorSchedule({
      ...periods,
      report: (r) =>
        say(
          `Audit ${r.task} #${r.seq}: ${r.chains} chain(s), ${r.entries} entr(ies), hash ${r.hash.slice(0, 16)}…`,
        ),
      failed: (task, error) =>
        say(`Audit ${task} failed: ${error instanceof Error ? error.name : 'error'} (next run retries)`),
    });
    stops.push(() => anchor.stop());
    say(
      `Audit anchor: a digest every ${periods.digestEveryMs / 1000} s, an archive every ${periods.archiveEveryMs / 1000} s`,
    );

    const kafka = await createKafka();
    const report = await provisionTopics(kafka);
    say(`Topics: ${report.created.length} created, ${report.unchanged.length + report.grown.length} present`);
    await groupCoordinatorsReady(
      kafka,
      CONSUMERS.flatMap((c) => [c.groupId, ...c.topics.map((t) => esmConsumerGroupId(c, t))]),
    );

    // The functions publish through the shared producer; it is flushed and closed after the consumers stop.
    stops.push(() => producer.disconnect());
    const observer = new DemoObserver();
    const onFailure = sqsOnFailureSink();
    const esms: RunningEsm[] = [];
    stops.push(async () => {
      await Promise.all(esms.map((e) => e.stop()));
    });
    for (const definition of CONSUMERS) {
      esms.push(await startEsm({ source: definition, onFailure, kafka, observer }));
      say(`ESM: ${definition.name} ← ${definition.topics.length} topic(s) as group ${definition.groupId}`);
    }

    const operatorConsole = await openConsole({ stage: 'local' });
    stops.push(() => operatorConsole.stop());
    const server = await healthServer(
      options.freePorts ? 0 : Number(process.env.PORT ?? 3000),
      operatorConsole,
    );
    stops.push(
      () =>
        new Promise<void>((ok) => {
          server.close(() => ok());
          server.closeAllConnections();
        }),
    );
    const port = (server.address() as AddressInfo).port;
    operatorConsole.listening(port);
    say(`Health: http://127.0.0.1:${port}/health/kafka`);
    say(`Console: http://127.0.0.1:${port}/`);

    const env = { ...aws.env, KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '' };
    await writeFile(
      START_ENV_FILE,
      `${Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n')}\n`,
    );
    stops.push(() => unlink(START_ENV_FILE));
    return { env, port, observer, esms, stop };
  } catch (error) {
    await stop();
    throw error;
  }
};

const main = async (): Promise<number> => {
  const args = new Set(process.argv.slice(2));
  const demo = args.has('--demo');
  const exitAfter = args.has('--exit');
  if (exitAfter && !demo) {
    console.error('--exit goes with --demo: npm start -- --demo --exit');
    return 2;
  }
  const stack = await startStack({ freePorts: exitAfter });
  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    stopping ??= (async () => {
      say('Stopping ...');
      await stack.stop();
      say('Stopped.');
    })();
    return stopping;
  };
  // `on`, not `once`: a producer that opted in to signal handling (handleSignals()) re-raises the signal
  // when no listener is left, which would end the process before the consumers and servers are stopped.
  process.on('SIGINT', () => void shutdown().then(() => process.exit(130)));
  process.on('SIGTERM', () => void shutdown().then(() => process.exit(143)));

  if (demo) {
    const kafka = await createKafka();
    const result = await playDemo(
      { kafka, producer, sesEndpoint: stack.env[ENDPOINT_ENV.ses] ?? '' },
      stack.observer,
    );
    say(
      result.ok
        ? 'Demo complete: every step was observed.'
        : `Demo FAILED; missing: ${result.missing.join('; ')}`,
    );
    if (exitAfter) {
      await shutdown();
      return result.ok ? 0 : 1;
    }
  }
  say('Running. Ctrl-C to stop.');
  return new Promise<number>(() => undefined);
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(
        `npm start failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
      );
      process.exit(1);
    },
  );
}
