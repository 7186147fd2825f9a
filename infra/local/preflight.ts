import { Socket } from 'node:net';
import { ConfigError } from '../../shared/errors.ts';
import { readConfig } from '../../shared/kafka/config.ts';
import { ENDPOINT_ENV } from '../../shared/lambda/clients.ts';
import type { ConsumerDefinition } from '../consumers.ts';
import { TABLES } from '../resources.ts';

/** Whether something accepts a TCP connection at host:port within `timeoutMs`. */
export const tcpReachable = (host: string, port: number, timeoutMs = 1_500): Promise<boolean> =>
  new Promise((done) => {
    const socket = new Socket();
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.connect(port, host, () => finish(true));
  });

export type Probe = (host: string, port: number) => Promise<boolean>;

const hostPort = (address: string, defaultPort: number): [string, number] => {
  const url = /^[a-z]+:\/\//i.test(address) ? new URL(address) : new URL(`tcp://${address}`);
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : defaultPort);
  return [url.hostname.replace(/^\[|\]$/g, ''), port];
};

/**
 * What a function needs locally and does not have: Kafka (every function dead-letters to it, some publish),
 * its tables' names, and the DynamoDB / SES endpoints it was pointed at. Each endpoint is tried once with a
 * short TCP connect, so a missing stack is reported in about a second instead of after the Kafka client's
 * and the SDK's full retry budgets. An unset endpoint variable means real AWS and is not probed.
 */
export const localStackProblems = async (
  fn: Pick<ConsumerDefinition, 'tables' | 'sendsEmail'> | undefined,
  env: NodeJS.ProcessEnv,
  probe: Probe = tcpReachable,
): Promise<string[]> => {
  const problems: string[] = [];
  const checks: Promise<void>[] = [];
  const reachable = (what: string, variable: string, address: string, defaultPort: number) =>
    checks.push(
      (async () => {
        const [host, port] = hostPort(address, defaultPort);
        if (!(await probe(host, port))) problems.push(`${what}: nothing answers at ${address} (${variable})`);
      })(),
    );

  if (!(env.MSK_CLUSTER_ARN && !env.KAFKA_BROKERS)) {
    const brokers = readConfig(env).brokers ?? [];
    const variable = env.KAFKA_BROKERS ? 'KAFKA_BROKERS' : 'KAFKA_BROKERS is not set, the default';
    checks.push(
      (async () => {
        const up = await Promise.all(brokers.map((b) => probe(...hostPort(b, 9092))));
        if (!up.some(Boolean)) problems.push(`Kafka: nothing answers at ${brokers.join(',')} (${variable})`);
      })(),
    );
  }
  for (const table of fn?.tables ?? []) {
    const variable = TABLES[table].env;
    if (!env[variable]) problems.push(`DynamoDB: ${variable} is not set (the ${table} table's name)`);
  }
  const dynamo = env[ENDPOINT_ENV.dynamodb]?.trim();
  if (fn?.tables.length && dynamo) reachable('DynamoDB', ENDPOINT_ENV.dynamodb, dynamo, 80);
  const ses = env[ENDPOINT_ENV.ses]?.trim();
  if (fn?.sendsEmail && ses) reachable('SES', ENDPOINT_ENV.ses, ses, 80);
  await Promise.all(checks);
  return problems.sort();
};

/** Throws a ConfigError naming everything missing and how to start it; resolves when nothing is. */
export const assertLocalStack = async (
  name: string,
  fn: Pick<ConsumerDefinition, 'tables' | 'sendsEmail'> | undefined,
  env: NodeJS.ProcessEnv,
  probe?: Probe,
): Promise<void> => {
  const problems = await localStackProblems(fn, env, probe);
  if (problems.length === 0) return;
  throw new ConfigError(
    `Cannot invoke ${name}: ${problems.join('; ')}. Start the local stack with \`npm start\` in another ` +
      'terminal (invoke then reads the endpoints it writes to .local/start.env), or point KAFKA_BROKERS, ' +
      'DYNAMODB_ENDPOINT, SES_ENDPOINT and the table variables at a running one (e.g. `docker compose up`).',
  );
};
