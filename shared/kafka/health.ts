import { Kafka, logLevel } from 'kafkajs';
import { describeError } from '../errors.ts';
import { logger } from '../log.ts';
import { readConfig, resolveBrokers, toKafkaConfig } from './config.ts';

export type KafkaHealth =
  | { status: 'healthy'; kafka: { connected: true; brokers: number; topics: number } }
  | { status: 'unhealthy'; error: string };

export interface HealthOptions {
  /** Upper bound for the whole check (default 5 s). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * The seed's `/health/kafka` answer, bounded in time: a dedicated client with few retries and a connection
 * timeout inside the budget, so a dead broker yields `unhealthy` rather than a hung request.
 */
export const checkKafkaHealth = async (options: HealthOptions = {}): Promise<KafkaHealth> => {
  const timeoutMs = options.timeoutMs ?? 5_000;
  let admin: ReturnType<Kafka['admin']> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const check = async (): Promise<KafkaHealth> => {
    const config = readConfig(options.env);
    const base = toKafkaConfig(config, await resolveBrokers(config));
    const kafka = new Kafka({
      ...base,
      clientId: `${config.clientId}-health`,
      connectionTimeout: Math.min(timeoutMs, base.connectionTimeout ?? timeoutMs),
      requestTimeout: timeoutMs,
      retry: { retries: 1, initialRetryTime: 100 },
      logLevel: logLevel.NOTHING,
    });
    admin = kafka.admin();
    await admin.connect();
    const [topics, cluster] = await Promise.all([admin.listTopics(), admin.describeCluster()]);
    return {
      status: 'healthy',
      kafka: { connected: true, brokers: cluster.brokers.length, topics: topics.length },
    };
  };
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Kafka did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([check(), timeout]);
  } catch (error) {
    logger.warn('Kafka health check failed', describeError(error));
    return { status: 'unhealthy', error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
    void admin?.disconnect().catch(() => undefined);
  }
};
