import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import type { Topic } from '../events/catalog.ts';
import type { BusEvent } from '../events/envelope.ts';
import { logger } from '../log.ts';
import { registerCodecs } from './codecs.ts';
import { createKafka } from './config.ts';
import { DeadLetterPublisher } from './dlq.ts';
import {
  deadLetter,
  type Handler,
  type ProcessOptions,
  type ProcessOutcome,
  processRecord,
} from './process.ts';
import { fromKafkaMessage, type RawRecord, recordRef } from './record.ts';
import { backoffDelay, RetriesExhaustedError, type RetryPolicy, SEED_RETRY } from './retry.ts';
import { type RestartBackoff, type SupervisedConsumer, superviseConsumer } from './supervise.ts';

const TRANSIENT_BACKOFF = { baseDelayMs: 1_000, maxDelayMs: 60_000 };
const MAX_RECORD_AGE_MS = 3_600_000;

export interface ConsumerOptions {
  /** Bounded retry before dead-lettering; the seed's 3 attempts and 2^n s by default. */
  retry?: Partial<RetryPolicy>;
  /** Where a new group starts on topics known at start (the seed: false). */
  fromBeginning?: boolean;
  /**
   * kafkajs resolves RegExp subscriptions once, at subscribe time. Every `topicRefreshMs` we list the
   * cluster's topics; when a new one matches, the consumer re-subscribes (a rebalance) and reads the new
   * topic from its beginning, so nothing published to it before the refresh is missed.
   */
  topicRefreshMs?: number;
  sessionTimeout?: number;
  heartbeatInterval?: number;
  partitionsConsumedConcurrently?: number;
  /**
   * A record whose handler still fails for a transient reason after `retry` keeps its place: its partition
   * pauses (other partitions go on) and retries it after a capped exponential backoff, until the error
   * clears or the record is older than `maxRecordAgeMs` (then it is dead-lettered with RETRIES_EXHAUSTED).
   * Defaults: 1 s doubling to 60 s; one hour.
   */
  transientBackoff?: { baseDelayMs: number; maxDelayMs: number };
  maxRecordAgeMs?: number;
  /** Value decoder; the catalog's (validate against the topic's schema) by default. */
  decode?: ProcessOptions['decode'];
  kafka?: Kafka | (() => Promise<Kafka>);
  /** Backoff of the automatic restart after a crash kafkajs does not recover from (1 s doubling to 30 s). */
  restartBackoff?: Partial<RestartBackoff>;
}

type Subscription = string | RegExp;

/**
 * The seed's consumer utility (`new KafkaConsumer(groupId, topics)`, `registerHandler`, `startConsuming`,
 * `disconnect`) with what the seed gets wrong made right: RegExp subscriptions and RegExp handlers,
 * decoding and validation of every record, bounded retry with backoff, dead-lettering to `esante.dlq`
 * what can never succeed, and a paused partition (in order, nothing dead-lettered) while a downstream is
 * briefly down. A record's offset is committed only once it is handled or dead-lettered.
 */
export class KafkaConsumer {
  readonly groupId: string;
  readonly topics: Subscription[];
  readonly #options: ConsumerOptions;
  readonly #exact = new Map<string, Handler>();
  readonly #patterns: [RegExp, Handler][] = [];
  #kafka: Kafka | undefined;
  #supervisor: SupervisedConsumer | undefined;
  #admin: Admin | undefined;
  #dlqProducer: Producer | undefined;
  #subscribed = new Set<string>();
  #refresh: NodeJS.Timeout | undefined;
  #restarting: Promise<void> | undefined;
  #stopped = false;
  /** Per topic-partition: the record being retried after a transient failure, and when its partition resumes. */
  readonly #stalled = new Map<string, { offset: string; rounds: number; attempts: number }>();
  readonly #resumeTimers = new Set<NodeJS.Timeout>();

  constructor(groupId: string, topics: Subscription | Subscription[], options: ConsumerOptions = {}) {
    this.groupId = groupId;
    this.topics = Array.isArray(topics) ? topics : [topics];
    this.#options = options;
  }

  get isConnected(): boolean {
    return this.#supervisor !== undefined;
  }

  /** Topics currently subscribed (resolved from the subscriptions). */
  get subscribedTopics(): string[] {
    return [...this.#subscribed].sort();
  }

  registerHandler<T extends Topic>(topic: T, handler: Handler<BusEvent<T>>): this;
  registerHandler(pattern: RegExp | string, handler: Handler): this;
  registerHandler(topic: string | RegExp, handler: Handler<never>): this {
    if (typeof topic === 'string') this.#exact.set(topic, handler as Handler);
    else this.#patterns.push([topic, handler as Handler]);
    return this;
  }

  /** An exact handler wins over a pattern; patterns are tried in registration order. */
  handlerFor(topic: string): Handler | undefined {
    return this.#exact.get(topic) ?? this.#patterns.find(([p]) => matches(p, topic))?.[1];
  }

  async connect(): Promise<void> {
    if (this.#kafka) return;
    const source = this.#options.kafka;
    registerCodecs(); // also for a client passed in: kafkajs reads only gzip by itself
    this.#kafka = typeof source === 'function' ? await source() : (source ?? (await createKafka()));
    this.#admin = this.#kafka.admin();
    this.#dlqProducer = this.#kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await Promise.all([this.#admin.connect(), this.#dlqProducer.connect()]);
  }

  async startConsuming(): Promise<void> {
    this.#stopped = false;
    await this.connect();
    const topics = await this.#resolveTopics();
    await this.#run(topics, []);
    if (this.topics.some((t) => t instanceof RegExp)) {
      const every = this.#options.topicRefreshMs ?? 30_000;
      this.#refresh = setInterval(() => void this.#checkNewTopics(), every);
      this.#refresh.unref();
    }
  }

  async #resolveTopics(): Promise<string[]> {
    const patterns = this.topics.filter((t): t is RegExp => t instanceof RegExp);
    const exact = this.topics.filter((t): t is string => typeof t === 'string');
    if (patterns.length === 0) return exact;
    const all = await (this.#admin as Admin).listTopics();
    const matched = all.filter((t) => !t.startsWith('__') && patterns.some((p) => matches(p, t)));
    return [...new Set([...exact, ...matched])];
  }

  /** Runs the group under a supervisor: a crash kafkajs gives up on is restarted with backoff (supervise.ts). */
  async #run(topics: string[], newTopics: string[]): Promise<void> {
    const kafka = this.#kafka as Kafka;
    this.#subscribed = new Set(topics);
    this.#supervisor = await superviseConsumer({
      name: this.groupId,
      groupId: this.groupId,
      topics: () => this.subscribedTopics,
      create: () =>
        kafka.consumer({
          groupId: this.groupId,
          sessionTimeout: this.#options.sessionTimeout ?? 30_000,
          heartbeatInterval: this.#options.heartbeatInterval ?? 3_000,
          allowAutoTopicCreation: false,
        }),
      start: (consumer) => this.#start(consumer, topics, newTopics),
      backoff: this.#options.restartBackoff,
    });
    logger.info('Kafka consumer started', { groupId: this.groupId, topics: topics.length });
  }

  async #start(consumer: Consumer, topics: string[], newTopics: string[]): Promise<void> {
    await consumer.connect();
    const known = topics.filter((t) => !newTopics.includes(t));
    if (known.length)
      await consumer.subscribe({ topics: known, fromBeginning: this.#options.fromBeginning ?? false });
    if (newTopics.length) await consumer.subscribe({ topics: newTopics, fromBeginning: true });
    const retry = { ...SEED_RETRY, ...this.#options.retry };
    const deadLetters = new DeadLetterPublisher(this.#dlqProducer as Producer, `consumer:${this.groupId}`);
    const handling: ProcessOptions = {
      resolveHandler: (t) => this.handlerFor(t),
      retry,
      deadLetters,
      decode: this.#options.decode,
    };
    await consumer.run({
      partitionsConsumedConcurrently: this.#options.partitionsConsumedConcurrently ?? 1,
      // Records are resolved one by one, only once handled or dead-lettered; kafkajs commits resolved offsets
      // only, and fetches a partition again from its last resolved offset. If dead-lettering fails the
      // error propagates, and kafkajs delivers the record again.
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, pause, isRunning, isStale }) => {
        for (const message of batch.messages) {
          if (!isRunning() || isStale()) return;
          const record = fromKafkaMessage(batch.topic, batch.partition, message);
          const outcome = await processRecord(record, handling);
          if (outcome.status === 'transient' && !(await this.#giveUpIfTooOld(record, outcome, deadLetters))) {
            this.#stall(record, outcome.attempts, pause);
            return; // the rest of the partition waits, in order
          }
          this.#stalled.delete(`${record.topic}:${record.partition}`);
          resolveOffset(message.offset);
          await heartbeat();
        }
      },
    });
  }

  /**
   * Pauses the record's partition and resumes it after a capped exponential backoff; kafkajs then fetches
   * the partition again from this record (its offset was not resolved).
   */
  #stall(record: RawRecord, attempts: number, pause: () => () => void): void {
    const key = `${record.topic}:${record.partition}`;
    const previous = this.#stalled.get(key);
    const state =
      previous?.offset === record.offset
        ? { ...previous, rounds: previous.rounds + 1, attempts: previous.attempts + attempts }
        : { offset: record.offset, rounds: 1, attempts };
    this.#stalled.set(key, state);
    const { baseDelayMs, maxDelayMs } = this.#options.transientBackoff ?? TRANSIENT_BACKOFF;
    const delayMs = backoffDelay({ attempts: 0, baseDelayMs, maxDelayMs, jitter: false }, state.rounds - 1);
    logger.warn('Partition paused after a transient failure; retrying the record later', {
      ...recordRef(record),
      round: state.rounds,
      delayMs,
    });
    const resume = pause();
    const timer = setTimeout(() => {
      this.#resumeTimers.delete(timer);
      resume();
    }, delayMs);
    this.#resumeTimers.add(timer);
  }

  /** Dead-letters a record still failing transiently once it is older than maxRecordAgeMs. */
  async #giveUpIfTooOld(
    record: RawRecord,
    outcome: ProcessOutcome & { status: 'transient' },
    deadLetters: DeadLetterPublisher,
  ): Promise<boolean> {
    const maxAgeMs = this.#options.maxRecordAgeMs ?? MAX_RECORD_AGE_MS;
    const timestamp = Number(record.timestamp);
    if (!Number.isFinite(timestamp) || Date.now() - timestamp <= maxAgeMs) return false;
    const previous = this.#stalled.get(`${record.topic}:${record.partition}`);
    const attempts = outcome.attempts + (previous?.offset === record.offset ? previous.attempts : 0);
    await deadLetter(
      record,
      new RetriesExhaustedError(attempts, outcome.error),
      attempts,
      { deadLetters },
      outcome.eventId,
    );
    return true;
  }

  async #checkNewTopics(): Promise<void> {
    if (this.#restarting || this.#stopped || !this.#supervisor) return;
    try {
      const topics = await this.#resolveTopics();
      const added = topics.filter((t) => !this.#subscribed.has(t));
      if (added.length === 0) return;
      logger.info('New topics match the subscription; re-subscribing', { groupId: this.groupId, added });
      this.#restarting = (async () => {
        await this.#supervisor?.stop();
        this.#supervisor = undefined;
        if (!this.#stopped) await this.#run(topics, added);
      })();
      await this.#restarting;
    } catch (error) {
      logger.error('Topic refresh failed', { groupId: this.groupId, errorClass: (error as Error)?.name });
    } finally {
      this.#restarting = undefined;
    }
  }

  /** Stops fetching, lets the record in hand finish (so its offset is committed), then disconnects. */
  async disconnect(): Promise<void> {
    this.#stopped = true;
    if (this.#refresh) clearInterval(this.#refresh);
    for (const timer of this.#resumeTimers) clearTimeout(timer);
    this.#resumeTimers.clear();
    await this.#restarting?.catch(() => undefined);
    await this.#supervisor?.stop();
    await Promise.all([this.#dlqProducer?.disconnect(), this.#admin?.disconnect()]);
    this.#supervisor = undefined;
    this.#kafka = undefined;
    logger.info('Kafka consumer disconnected', { groupId: this.groupId });
  }
}

/** RegExp.test with the global/sticky flags would be stateful across calls; match without them. */
const matches = (pattern: RegExp, topic: string): boolean =>
  new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')).test(topic);
