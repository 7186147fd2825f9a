import { type Admin, Kafka, logLevel } from 'kafkajs';
import { describeError } from '../errors.ts';
import { logger } from '../log.ts';
import { readConfig, resolveBrokers, toKafkaConfig } from './config.ts';
import { type ConsumerState, type ConsumerStatus, consumerStatuses } from './consumer-status.ts';

/** A partition whose group has lag but has not committed anything new for longer than the bound. */
export interface StalledPartition {
  topic: string;
  /** Absent where only a per-topic figure exists (on AWS, the mapping's OffsetLag). */
  partition?: number;
  lag: number;
  /** How long it has not moved, in seconds (at least the bound). */
  forSeconds: number;
}

/** One consumer group in the `/health/kafka` answer. */
export interface ConsumerHealth {
  /** The function (ESM emulator, event-source mapping) or the service's group id (consumer utility). */
  name: string;
  groupId: string;
  state: ConsumerState;
  /** Records not yet committed by the group, per topic (end offset minus committed offset, summed). */
  lag: Record<string, number>;
  stalled: StalledPartition[];
  /** Automatic restarts since start (local consumers). */
  restarts?: number;
  /** The last crash: error class and time only (local consumers). */
  lastError?: { errorClass: string; at: string };
  /** Why it is in its state (AWS: the mapping's StateTransitionReason). */
  reason?: string;
}

export interface KafkaSummary {
  connected: true;
  brokers: number;
  topics: number;
}

export type KafkaHealth =
  | { status: 'healthy'; kafka: KafkaSummary; consumers?: ConsumerHealth[] }
  | { status: 'unhealthy'; error: string; kafka?: KafkaSummary; consumers?: ConsumerHealth[] };

/** Where the consumers' states and lag come from: this process's consumers by default, or AWS's mappings. */
export type ConsumerProbe = (context: { admin: Admin; stallAfterMs: number }) => Promise<ConsumerHealth[]>;

export interface HealthOptions {
  /** Upper bound for the whole check (default 5 s). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /**
   * How long a partition may keep lag > 0 without its group committing anything new before the answer is
   * `unhealthy` (default KAFKA_HEALTH_STALL_SECONDS, else 300 s).
   */
  stallAfterMs?: number;
  consumers?: ConsumerProbe;
}

export const DEFAULT_STALL_SECONDS = 300;

/** KAFKA_HEALTH_STALL_SECONDS as milliseconds; a value that is not a positive number is an error. */
export const stallBoundMs = (env: NodeJS.ProcessEnv = process.env): number => {
  const raw = env.KAFKA_HEALTH_STALL_SECONDS;
  if (raw === undefined || raw === '') return DEFAULT_STALL_SECONDS * 1000;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new Error(`KAFKA_HEALTH_STALL_SECONDS must be a positive number of seconds, got "${raw}"`);
  return seconds * 1000;
};

/**
 * Remembers, per group and partition, the committed offset and since when it has not moved while there
 * was lag. One instance lives as long as the process, so successive health checks see the history; a
 * partition first seen now counts from now.
 */
export class StallTracker {
  readonly #seen = new Map<string, { offset: string; lag: number; since: number }>();

  /**
   * Milliseconds the partition has been stuck with lag: since the first check that saw lag on this
   * committed offset (when the records arrived between two checks is unknown, so it errs on the short
   * side). 0 when it moved, had nothing to read, or is seen for the first time.
   */
  observe(key: string, committed: string, lag: number, now: number): number {
    const previous = this.#seen.get(key);
    if (!previous || previous.offset !== committed || previous.lag <= 0 || lag <= 0) {
      this.#seen.set(key, { offset: committed, lag, since: now });
      return 0;
    }
    previous.lag = lag;
    return now - previous.since;
  }
}

const localTracker = new StallTracker();

/**
 * Lag per topic for one group: end offsets (high watermarks) against the group's committed offsets. A
 * partition the group has not committed on yet counts from its low watermark.
 */
export const groupLag = async (
  admin: Admin,
  status: Pick<ConsumerStatus, 'groupId' | 'topics'>,
  ends: (topic: string) => Promise<{ partition: number; high: string; low: string }[]>,
): Promise<{ topic: string; partition: number; committed: string; lag: number }[]> => {
  if (status.topics.length === 0) return [];
  const committed = await admin.fetchOffsets({ groupId: status.groupId, topics: [...status.topics] });
  const rows: { topic: string; partition: number; committed: string; lag: number }[] = [];
  for (const { topic, partitions } of committed) {
    const byPartition = new Map(partitions.map((p) => [p.partition, p.offset]));
    for (const end of await ends(topic)) {
      const offset = byPartition.get(end.partition) ?? '-1';
      const from = Number(offset) >= 0 ? Number(offset) : Number(end.low);
      rows.push({
        topic,
        partition: end.partition,
        committed: offset,
        lag: Math.max(0, Number(end.high) - from),
      });
    }
  }
  return rows;
};

/** This process's registered consumers (consumer-status.ts) with their lag read from the broker. */
export const localConsumers =
  (tracker: StallTracker = localTracker, now: () => number = Date.now): ConsumerProbe =>
  async ({ admin, stallAfterMs }) => {
    const statuses = consumerStatuses();
    const cache = new Map<string, Promise<{ partition: number; high: string; low: string }[]>>();
    const ends = (topic: string) => {
      let offsets = cache.get(topic);
      if (!offsets) {
        offsets = admin.fetchTopicOffsets(topic);
        cache.set(topic, offsets);
      }
      return offsets;
    };
    return Promise.all(
      statuses.map(async (status): Promise<ConsumerHealth> => {
        const rows = await groupLag(admin, status, ends);
        const lag: Record<string, number> = {};
        const stalled: StalledPartition[] = [];
        const at = now();
        for (const row of rows) {
          lag[row.topic] = (lag[row.topic] ?? 0) + row.lag;
          const key = `${status.groupId}\u0000${row.topic}\u0000${row.partition}`;
          const stuckMs = tracker.observe(key, row.committed, row.lag, at);
          if (stuckMs > stallAfterMs)
            stalled.push({
              topic: row.topic,
              partition: row.partition,
              lag: row.lag,
              forSeconds: Math.round(stuckMs / 1000),
            });
        }
        return {
          name: status.name,
          groupId: status.groupId,
          state: status.state,
          lag,
          stalled,
          restarts: status.restarts,
          ...(status.lastError ? { lastError: status.lastError } : {}),
        };
      }),
    );
  };

/** Why the consumers make the answer unhealthy, naming each consumer; undefined when they are all fine. */
export const consumerProblems = (consumers: ConsumerHealth[]): string | undefined => {
  const problems: string[] = [];
  for (const c of consumers) {
    const who = `consumer ${c.name} (group ${c.groupId})`;
    if (c.state !== 'running') {
      const cause = c.lastError ? ` after ${c.lastError.errorClass}` : c.reason ? ` (${c.reason})` : '';
      problems.push(`${who} is ${c.state}${cause}`);
    }
    for (const s of c.stalled) {
      const where = s.partition === undefined ? s.topic : `${s.topic}[${s.partition}]`;
      problems.push(`${who} has not moved on ${where} for ${s.forSeconds} s with lag ${s.lag}`);
    }
  }
  return problems.length ? problems.join('; ') : undefined;
};

/**
 * The seed's `/health/kafka` answer, bounded in time: a dedicated client with few retries and a connection
 * timeout inside the budget, so a dead broker yields `unhealthy` rather than a hung request. It adds
 * `consumers`: each consumer group's state and lag per topic; the answer is `unhealthy` while any consumer
 * is not running, or a partition with lag has not moved for longer than the stall bound.
 */
export const checkKafkaHealth = async (options: HealthOptions = {}): Promise<KafkaHealth> => {
  const timeoutMs = options.timeoutMs ?? 5_000;
  let admin: ReturnType<Kafka['admin']> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const check = async (): Promise<KafkaHealth> => {
    const stallAfterMs = options.stallAfterMs ?? stallBoundMs(options.env);
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
    const probe = options.consumers ?? localConsumers();
    const [topics, cluster, consumers] = await Promise.all([
      admin.listTopics(),
      admin.describeCluster(),
      probe({ admin, stallAfterMs }),
    ]);
    const summary: KafkaSummary = { connected: true, brokers: cluster.brokers.length, topics: topics.length };
    const problem = consumerProblems(consumers);
    if (problem) {
      logger.warn('Kafka health: consumers unhealthy', {
        consumers: consumers.filter((c) => c.state !== 'running' || c.stalled.length).map((c) => c.name),
      });
      return { status: 'unhealthy', error: problem, kafka: summary, consumers };
    }
    return { status: 'healthy', kafka: summary, consumers };
  };
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Kafka did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([check(), timeout]);
  } catch (error) {
    logger.warn('Kafka health check failed', describeError(error));
    const message = error instanceof Error ? error.message : String(error);
    // Without the broker there is no lag to read; this process's consumers still say what state they are in.
    const local = options.consumers ? [] : consumerStatuses();
    if (local.length === 0) return { status: 'unhealthy', error: message };
    return {
      status: 'unhealthy',
      error: message,
      consumers: local.map((c) => ({
        name: c.name,
        groupId: c.groupId,
        state: c.state,
        lag: {},
        stalled: [],
        restarts: c.restarts,
        ...(c.lastError ? { lastError: c.lastError } : {}),
      })),
    };
  } finally {
    clearTimeout(timer);
    void admin?.disconnect().catch(() => undefined);
  }
};
