import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import type { Topic } from '../events/catalog.ts';
import type { BusEvent } from '../events/envelope.ts';
import { logger } from '../log.ts';
import { registerCodecs } from './codecs.ts';
import { createKafka } from './config.ts';
import { DeadLetterPublisher } from './dlq.ts';
import { type Handler, type ProcessOptions, processRecord } from './process.ts';
import { fromKafkaMessage } from './record.ts';
import { type RetryPolicy, SEED_RETRY } from './retry.ts';

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
  /** Value decoder; the catalog's (validate against the topic's schema) by default. */
  decode?: ProcessOptions['decode'];
  kafka?: Kafka | (() => Promise<Kafka>);
}

type Subscription = string | RegExp;

/**
 * The seed's consumer utility (`new KafkaConsumer(groupId, topics)`, `registerHandler`, `startConsuming`,
 * `disconnect`) with what the seed gets wrong made right: RegExp subscriptions and RegExp handlers,
 * decoding and validation of every record, bounded retry with backoff, then dead-lettering to
 * `esante.dlq`. A record's offset is committed only once it is handled or dead-lettered.
 */
export class KafkaConsumer {
  readonly groupId: string;
  readonly topics: Subscription[];
  readonly #options: ConsumerOptions;
  readonly #exact = new Map<string, Handler>();
  readonly #patterns: [RegExp, Handler][] = [];
  #kafka: Kafka | undefined;
  #consumer: Consumer | undefined;
  #admin: Admin | undefined;
  #dlqProducer: Producer | undefined;
  #subscribed = new Set<string>();
  #refresh: NodeJS.Timeout | undefined;
  #restarting: Promise<void> | undefined;
  #stopped = false;

  constructor(groupId: string, topics: Subscription | Subscription[], options: ConsumerOptions = {}) {
    this.groupId = groupId;
    this.topics = Array.isArray(topics) ? topics : [topics];
    this.#options = options;
  }

  get isConnected(): boolean {
    return this.#consumer !== undefined;
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

  async #run(topics: string[], newTopics: string[]): Promise<void> {
    const kafka = this.#kafka as Kafka;
    const consumer = kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: this.#options.sessionTimeout ?? 30_000,
      heartbeatInterval: this.#options.heartbeatInterval ?? 3_000,
      allowAutoTopicCreation: false,
    });
    await consumer.connect();
    const known = topics.filter((t) => !newTopics.includes(t));
    if (known.length)
      await consumer.subscribe({ topics: known, fromBeginning: this.#options.fromBeginning ?? false });
    if (newTopics.length) await consumer.subscribe({ topics: newTopics, fromBeginning: true });
    const retry = { ...SEED_RETRY, ...this.#options.retry };
    const deadLetters = new DeadLetterPublisher(this.#dlqProducer as Producer, `consumer:${this.groupId}`);
    await consumer.run({
      partitionsConsumedConcurrently: this.#options.partitionsConsumedConcurrently ?? 1,
      // eachMessage resolves only after the record is handled or dead-lettered; kafkajs commits resolved
      // offsets only. If dead-lettering fails it throws, and kafkajs delivers the record again.
      eachMessage: async ({ topic, partition, message }) => {
        await processRecord(fromKafkaMessage(topic, partition, message), {
          resolveHandler: (t) => this.handlerFor(t),
          retry,
          deadLetters,
          decode: this.#options.decode,
        });
      },
    });
    this.#consumer = consumer;
    this.#subscribed = new Set(topics);
    logger.info('Kafka consumer started', { groupId: this.groupId, topics: topics.length });
  }

  async #checkNewTopics(): Promise<void> {
    if (this.#restarting || this.#stopped || !this.#consumer) return;
    try {
      const topics = await this.#resolveTopics();
      const added = topics.filter((t) => !this.#subscribed.has(t));
      if (added.length === 0) return;
      logger.info('New topics match the subscription; re-subscribing', { groupId: this.groupId, added });
      this.#restarting = (async () => {
        await this.#consumer?.disconnect();
        this.#consumer = undefined;
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
    await this.#restarting?.catch(() => undefined);
    await this.#consumer?.disconnect();
    await Promise.all([this.#dlqProducer?.disconnect(), this.#admin?.disconnect()]);
    this.#consumer = undefined;
    this.#kafka = undefined;
    logger.info('Kafka consumer disconnected', { groupId: this.groupId });
  }
}

/** RegExp.test with the global/sticky flags would be stateful across calls; match without them. */
const matches = (pattern: RegExp, topic: string): boolean =>
  new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')).test(topic);
