import type { GetBootstrapBrokersCommand } from '@aws-sdk/client-kafka';
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from 'kafkajs';
import kafkajsProtocolErrors from 'kafkajs/src/protocol/error.js';
import { ConfigError } from '../errors.ts';
import { logger } from '../log.ts';
import { registerCodecs } from './codecs.ts';

/**
 * Client configuration from the environment:
 *  KAFKA_BROKERS      comma-separated host:port list (default localhost:9092 unless MSK_CLUSTER_ARN is set)
 *  KAFKA_CLIENT_ID    default esante-backend (the seed's)
 *  KAFKA_AUTH         none | iam | scram (default none; iam when only MSK_CLUSTER_ARN is given)
 *  KAFKA_SSL          true | false (forced true for iam and scram: MSK requires TLS for both)
 *  MSK_CLUSTER_ARN    resolve the brokers with GetBootstrapBrokers (IAM, SCRAM or TLS endpoints)
 *  AWS_REGION         region for IAM signing and the Kafka API (default: the ARN's region)
 *  KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD   for scram (SCRAM-SHA-512, as MSK uses)
 */
export type KafkaAuth = 'none' | 'iam' | 'scram';

export interface BusConfig {
  clientId: string;
  brokers?: string[];
  clusterArn?: string;
  region?: string;
  auth: KafkaAuth;
  ssl: boolean;
  scram?: { username: string; password: string };
}

/**
 * The seed's client settings: 100 ms initial retry, 8 retries, 10 s connection, 30 s request timeout. The
 * producer's sends retry for longer (its delivery timeout, producer.ts sendRetry).
 */
export const CLIENT_DEFAULTS = {
  retry: { initialRetryTime: 100, retries: 8 },
  connectionTimeout: 10_000,
  requestTimeout: 30_000,
} as const;

const ARN = /^arn:aws[\w-]*:kafka:([a-z0-9-]+):\d{12}:cluster\/.+$/;

export const readConfig = (env: NodeJS.ProcessEnv = process.env): BusConfig => {
  const clusterArn = env.MSK_CLUSTER_ARN?.trim() || undefined;
  if (clusterArn && !ARN.test(clusterArn)) throw new ConfigError('MSK_CLUSTER_ARN is not an MSK cluster ARN');
  const brokerList = env.KAFKA_BROKERS?.split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  const brokers = brokerList?.length ? brokerList : clusterArn ? undefined : ['localhost:9092'];
  const auth = (env.KAFKA_AUTH?.trim().toLowerCase() ||
    (clusterArn && !brokerList?.length ? 'iam' : 'none')) as KafkaAuth;
  if (!['none', 'iam', 'scram'].includes(auth))
    throw new ConfigError('KAFKA_AUTH must be none, iam or scram');
  const region =
    env.AWS_REGION || env.AWS_DEFAULT_REGION || (clusterArn ? ARN.exec(clusterArn)?.[1] : undefined);
  if (auth === 'iam' && !region)
    throw new ConfigError('KAFKA_AUTH=iam needs AWS_REGION (or MSK_CLUSTER_ARN)');
  let scram: BusConfig['scram'];
  if (auth === 'scram') {
    const username = env.KAFKA_SASL_USERNAME;
    const password = env.KAFKA_SASL_PASSWORD;
    if (!username || !password)
      throw new ConfigError('KAFKA_AUTH=scram needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
    scram = { username, password };
  }
  return {
    clientId: env.KAFKA_CLIENT_ID?.trim() || 'esante-backend',
    ...(brokers ? { brokers } : {}),
    ...(clusterArn ? { clusterArn } : {}),
    ...(region ? { region } : {}),
    auth,
    ssl: auth !== 'none' || env.KAFKA_SSL === 'true',
    ...(scram ? { scram } : {}),
  };
};

/** The part of the Kafka API client we use, so unit tests can pass a fake. */
export interface BootstrapClient {
  send(command: GetBootstrapBrokersCommand): Promise<{
    BootstrapBrokerStringSaslIam?: string;
    BootstrapBrokerStringSaslScram?: string;
    BootstrapBrokerStringTls?: string;
    BootstrapBrokerString?: string;
  }>;
}

const resolved = new Map<string, Promise<string[]>>();

/**
 * The brokers to use: KAFKA_BROKERS when given, otherwise GetBootstrapBrokers for the cluster ARN, called
 * once per process (the promise is cached; a failure is not, so the next call retries).
 */
export const resolveBrokers = (config: BusConfig, client?: BootstrapClient): Promise<string[]> => {
  if (config.brokers?.length) return Promise.resolve(config.brokers);
  const arn = config.clusterArn;
  if (!arn) return Promise.reject(new ConfigError('Neither KAFKA_BROKERS nor MSK_CLUSTER_ARN is set'));
  const cacheKey = `${arn}|${config.auth}`;
  let pending = resolved.get(cacheKey);
  if (!pending) {
    // Loaded on first use: the Kafka API client costs ~190 ms of cold start and only a cluster-ARN setup
    // needs it (docs/benchmarks.md, row 4).
    pending = import('@aws-sdk/client-kafka').then(async ({ GetBootstrapBrokersCommand, KafkaClient }) => {
      const api =
        client ?? (new KafkaClient(config.region ? { region: config.region } : {}) as BootstrapClient);
      const out = await api.send(new GetBootstrapBrokersCommand({ ClusterArn: arn }));
      const list =
        config.auth === 'iam'
          ? out.BootstrapBrokerStringSaslIam
          : config.auth === 'scram'
            ? out.BootstrapBrokerStringSaslScram
            : (out.BootstrapBrokerStringTls ?? out.BootstrapBrokerString);
      if (!list) throw new ConfigError(`Cluster has no bootstrap brokers for auth=${config.auth}`);
      return list.split(',').map((b: string) => b.trim());
    });
    pending.catch(() => resolved.delete(cacheKey));
    resolved.set(cacheKey, pending);
  }
  return pending;
};

/** Token provider for SASL/OAUTHBEARER with IAM (https://github.com/aws/aws-msk-iam-sasl-signer-js). */
export const iamTokenProvider = (region: string) => async () => {
  // A CommonJS package whose names come from `export *`: Node's loader sees them as named exports, but an
  // esbuild bundle (the layer) exposes only `default`, where a destructured name would be undefined.
  const signer = await import('aws-msk-iam-sasl-signer-js');
  const { generateAuthToken } =
    typeof signer.generateAuthToken === 'function'
      ? signer
      : (signer as unknown as { default: typeof signer }).default;
  const { token } = await generateAuthToken({ region });
  return { value: token };
};

export const toKafkaConfig = (config: BusConfig, brokers: string[]): KafkaConfig => {
  let sasl: SASLOptions | undefined;
  if (config.auth === 'iam') {
    sasl = { mechanism: 'oauthbearer', oauthBearerProvider: iamTokenProvider(config.region as string) };
  } else if (config.auth === 'scram' && config.scram) {
    sasl = { mechanism: 'scram-sha-512', ...config.scram };
  }
  return {
    clientId: config.clientId,
    brokers,
    ssl: config.ssl,
    ...(sasl ? { sasl } : {}),
    retry: { ...CLIENT_DEFAULTS.retry },
    connectionTimeout: CLIENT_DEFAULTS.connectionTimeout,
    requestTimeout: CLIENT_DEFAULTS.requestTimeout,
    logLevel: logLevel.WARN,
    logCreator: kafkajsLogCreator,
  };
};

/** Messages of the Kafka protocol errors kafkajs retries by itself (NOT_LEADER, COORDINATOR_LOAD_IN_PROGRESS, …). */
const RETRIABLE_PROTOCOL_ERRORS = new Set(
  kafkajsProtocolErrors.errorCodes.filter((e) => e.retriable).map((e) => e.message),
);

/**
 * Whether a kafkajs log line is a broker's answer with a retriable protocol error. kafkajs logs every error
 * answer at ERROR (`Response <Api>`), then retries the request: a broker still electing leaders or loading
 * its coordinators (a fresh local broker, an MSK rolling update) is not an error anyone must act on. When
 * the retries run out, the error reaches the caller, which logs it.
 */
export const isRetriedResponse = (namespace: string, message: string, error: unknown): boolean =>
  namespace === 'Connection' &&
  message.startsWith('Response ') &&
  typeof error === 'string' &&
  RETRIABLE_PROTOCOL_ERRORS.has(error);

/** kafkajs logs go through our logger; they carry broker and protocol details, not record payloads. */
const kafkajsLogCreator =
  () =>
  ({ level, namespace, log }: { level: number; namespace: string; log: { message: string } }) => {
    const { message, ...rest } = log;
    const entry = { namespace, ...pickSafe(rest) };
    if (isRetriedResponse(namespace, message, (rest as { error?: unknown }).error))
      return logger.debug(`kafkajs: ${message}`, entry);
    // The producer's bounded retries are deliberate (about its delivery timeout, producer.ts sendRetry): a
    // publish that cannot be acknowledged must in the end reject so the caller sees it; kafkajs warns about
    // any bound for idempotent producers on every connect.
    if (message.startsWith('Limiting retries for the idempotent producer'))
      return logger.debug(`kafkajs: ${message}`, entry);
    // kafkajs 2 warns once per process, for a producer made without `createPartitioner`, that its default
    // partitioner changed in v2. We use that default on purpose (murmur2, as the Java client: a key lands on
    // the same partition whoever produces it). Filtered here rather than by setting its silencing variable:
    // importing this module changes nothing in the process's environment.
    if (message.startsWith('KafkaJS v2.0.0 switched default partitioner'))
      return logger.debug(`kafkajs: ${message}`, entry);
    if (level <= logLevel.ERROR) logger.error(`kafkajs: ${message}`, entry);
    else if (level === logLevel.WARN) logger.warn(`kafkajs: ${message}`, entry);
    else logger.debug(`kafkajs: ${message}`, entry);
  };

const SAFE_LOG_KEYS = [
  'broker',
  'clientId',
  'groupId',
  'topic',
  'partition',
  'retryCount',
  'retryTime',
  'error',
];
const pickSafe = (extra: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(extra).filter(([k]) => SAFE_LOG_KEYS.includes(k)));

/** A kafkajs client from the environment (brokers resolved once per process for an MSK ARN). */
export const createKafka = async (
  env: NodeJS.ProcessEnv = process.env,
  client?: BootstrapClient,
): Promise<Kafka> => {
  const config = readConfig(env);
  registerCodecs();
  return new Kafka(toKafkaConfig(config, await resolveBrokers(config, client)));
};
