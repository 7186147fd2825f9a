import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CompressionTypes,
  type Kafka,
  type Message,
  Partitioners,
  type PartitionMetadata,
  type Producer,
  type RecordMetadata,
  type TopicMessages,
} from 'kafkajs';
import { ConfigError, EventBusError, EventValidationError, UnknownTopicError } from '../errors.ts';
import { definitionOf, isCatalogTopic, type PayloadOf, type Topic } from '../events/catalog.ts';
import { type EncodedEvent, type EventMeta, encodeEvent, envelopeSchema } from '../events/envelope.ts';
import { logger } from '../log.ts';
import { type CompressionName, compressionFromEnv, compressionType, registerCodecs } from './codecs.ts';
import { createKafka } from './config.ts';

export interface ProducerOptions {
  /** How long a publish may wait for others to share its request (kafkajs has no linger of its own). */
  lingerMs?: number;
  /** Most messages in one request. */
  maxBatchSize?: number;
  /** kafkajs idempotent producer (acks=all, one request in flight, broker-side dedup of retries). */
  idempotent?: boolean;
  /**
   * How long the client keeps retrying a request Kafka did not acknowledge (a leader election, a broker
   * restarting) before the publish rejects with KAFKA_UNAVAILABLE: the Java client's `delivery.timeout.ms`.
   * Default KAFKA_DELIVERY_TIMEOUT_MS from the environment, else 120 s, the Java default.
   */
  deliveryTimeoutMs?: number;
  /**
   * Flush and disconnect on SIGTERM/SIGINT, then let the signal do what it would have done. Off by default:
   * a library does not change how its host process reacts to signals unless asked (`handleSignals()` opts
   * the shared instance in).
   */
  handleSignals?: boolean;
  /** A client to use instead of one built from the environment. */
  kafka?: Kafka | (() => Promise<Kafka>);
  /**
   * Record-batch compression. Default: KAFKA_COMPRESSION from the environment, else the measured default
   * (codecs.ts DEFAULT_COMPRESSION, docs/benchmarks.md). Every consumer of the bus reads all of them.
   */
  compression?: CompressionName;
}

export interface PublishResult {
  eventId: string;
  topic: Topic;
  key: string;
}

interface Pending {
  topic: string;
  message: Message;
  resolve: (metadata: RecordMetadata[]) => void;
  reject: (error: unknown) => void;
  /** Times sent again because kafkajs returned without writing it (see #send). */
  resent?: number;
  /** When it was published: the delivery timeout counts from here, as the Java client's does. */
  enqueuedAt: number;
  /** Requests made again after the client gave up on Kafka as unreachable (see #send). */
  retried?: number;
  /** Its partition once kafkajs's metadata for the topic is known (hashed once, however long it waits). */
  partition?: number;
}

const DEFAULTS = { lingerMs: 5, maxBatchSize: 500, idempotent: true, handleSignals: false } as const;

/** The Java client's `delivery.timeout.ms` default. */
export const DEFAULT_DELIVERY_TIMEOUT_MS = 120_000;

/** Back-off between the client's retries of a send: 100 ms doubling to 1 s, as the Java client's
 * `retry.backoff.ms` and `retry.backoff.max.ms`. */
const SEND_BACKOFF = { initialRetryTime: 100, maxRetryTime: 1_000 } as const;

/**
 * kafkajs retry settings for sends that keep retrying for about `deliveryTimeoutMs` of back-off. kafkajs
 * counts retries, not time, so the count is the one whose back-offs add up to the timeout: 100, 200, 400,
 * 800 ms, then 1 s each. A retry is quick when the leader is gone (a refused connection, NOT_LEADER); a
 * request to a broker that hangs adds its request timeout (30 s) on top.
 *
 * The client's own setting (8 retries from 100 ms, doubling) gave up after about 25 s, shorter than a
 * leader election on a three-node cluster under load: 1,011 of 20,000 publishes rejected across three
 * leader kills, where Kafka's VerifiableProducer, with the Java defaults, had none (docs/reliability.md).
 * Its doubling also left up to 12.8 s between the last retries, long after the new leader was there.
 */
export const sendRetry = (deliveryTimeoutMs: number) => {
  let retries = 0;
  for (let waited = 0, delay: number = SEND_BACKOFF.initialRetryTime; waited < deliveryTimeoutMs; retries++) {
    waited += delay;
    delay = Math.min(delay * 2, SEND_BACKOFF.maxRetryTime);
  }
  return { ...SEND_BACKOFF, retries: Math.max(1, retries) };
};

const deliveryTimeoutFromEnv = (env: NodeJS.ProcessEnv = process.env): number => {
  const raw = env.KAFKA_DELIVERY_TIMEOUT_MS?.trim();
  if (!raw) return DEFAULT_DELIVERY_TIMEOUT_MS;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 1_000)
    throw new ConfigError('KAFKA_DELIVERY_TIMEOUT_MS must be a whole number of milliseconds, at least 1000');
  return ms;
};

/** Envelope fields the seed's `sendEvent` callers may pass inside the event. */
const META_FIELDS = Object.keys(envelopeSchema.shape);

/**
 * The producer layer. Keeps the seed's API (`connect`, `disconnect`, `sendEvent`, `sendBatch`, one shared
 * instance) and adds the typed `publish`. Every event is validated against the catalog before anything is
 * sent, keyed by the catalog's partition key and written with acks=all. Concurrent calls coalesce into one
 * request per linger window and partition leader (bounded by `maxBatchSize`); one request per leader is in
 * flight at a time and a partition is in one request at most, which keeps per-key order under kafkajs
 * retries. A send retries for the delivery timeout. Payload values are never logged.
 */
export class KafkaProducer {
  readonly #options: Required<
    Omit<ProducerOptions, 'kafka' | 'handleSignals' | 'compression' | 'deliveryTimeoutMs'>
  > &
    Pick<ProducerOptions, 'kafka' | 'compression' | 'deliveryTimeoutMs'>;
  #handleSignals: boolean;
  #compression: CompressionTypes | undefined;
  #deliveryTimeoutMs: number = DEFAULT_DELIVERY_TIMEOUT_MS;
  #producer: Producer | undefined;
  #connecting: Promise<Producer> | undefined;
  #queue: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** The request in flight per partition leader (node id; -1 while kafkajs has no metadata yet). */
  #lanes = new Map<number, Promise<void>>();
  /** Partitions (`topic\0partition`) with a request in flight. */
  #busy = new Set<string>();
  /** A request made while there was one leader is in flight (its partitions are not in #busy). */
  #unmarked = false;
  /** kafkajs's latest partition metadata per topic, as its partitioner last saw it. */
  #metadata = new Map<string, PartitionMetadata[]>();
  #signalsInstalled = false;

  constructor(options: ProducerOptions = {}) {
    const { handleSignals, ...rest } = { ...DEFAULTS, ...options };
    this.#options = rest;
    this.#handleSignals = handleSignals;
  }

  /**
   * Opts in to flushing on SIGTERM/SIGINT (as the `handleSignals` option does): on the signal, what is queued
   * is sent and the producer disconnects, then the signal does what it would have done (the process ends
   * unless the application has its own handlers). Installed once the producer is connected.
   */
  handleSignals(): this {
    this.#handleSignals = true;
    if (this.#producer) this.#installSignalHandlers();
    return this;
  }

  get isConnected(): boolean {
    return this.#producer !== undefined;
  }

  async connect(): Promise<void> {
    await this.#connect();
  }

  #connect(): Promise<Producer> {
    if (this.#producer) return Promise.resolve(this.#producer);
    this.#connecting ??= (async () => {
      const source = this.#options.kafka;
      const kafka = typeof source === 'function' ? await source() : (source ?? (await createKafka()));
      registerCodecs();
      this.#deliveryTimeoutMs = this.#options.deliveryTimeoutMs ?? deliveryTimeoutFromEnv();
      const compression = this.#options.compression ?? compressionFromEnv();
      this.#compression = compressionType(compression);
      const producer = kafka.producer({
        allowAutoTopicCreation: false,
        // kafkajs's default partitioner (murmur2, as the Java client's), which also shows this layer the
        // partition metadata kafkajs sends by: who leads what (see #dispatch).
        createPartitioner: () => (args) => {
          this.#metadata.set(args.topic, args.partitionMetadata);
          return partitioner(args);
        },
        idempotent: this.#options.idempotent,
        retry: sendRetry(this.#deliveryTimeoutMs),
        maxInFlightRequests: this.#options.idempotent ? 1 : 5,
      });
      await producer.connect();
      this.#producer = producer;
      this.#installSignalHandlers();
      logger.info('Kafka producer connected', { idempotent: this.#options.idempotent, compression });
      return producer;
    })().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /** Sends what is queued, then disconnects. */
  async disconnect(): Promise<void> {
    await this.flush();
    const producer =
      this.#producer ?? (this.#connecting ? await this.#connecting.catch(() => undefined) : undefined);
    this.#producer = undefined;
    if (producer) {
      await producer.disconnect();
      logger.info('Kafka producer disconnected');
    }
  }

  /** Resolves when everything published so far has been acknowledged (or rejected). */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#lanes.size > 0) {
      this.#startDrain();
      await Promise.race(this.#lanes.values()).catch(() => undefined);
    }
  }

  /**
   * Typed publish: `payload` must match the topic's catalog schema, `meta.actor` says who did it.
   * Throws EventValidationError (every bad field path) before anything is sent.
   */
  publish<T extends Topic>(topic: T, payload: PayloadOf<T>, meta: EventMeta): Promise<PublishResult> {
    let encoded: EncodedEvent;
    try {
      encoded = encodeEvent(topic, payload, meta);
    } catch (error) {
      return Promise.reject(error);
    }
    // Not an async function: its frame (the payload, the meta, the decoded event) would be kept until Kafka
    // acknowledges. Only what is returned and the message to send wait for the acknowledgement.
    const result: PublishResult = { eventId: encoded.event.eventId, topic, key: encoded.key };
    return this.#enqueue(topic, [encoded]).then(() => result);
  }

  /** Typed batch publish: all payloads are validated first; none is sent if one is invalid. */
  async publishBatch<T extends Topic>(
    topic: T,
    items: { payload: PayloadOf<T>; meta: EventMeta }[],
  ): Promise<PublishResult[]> {
    const encoded = items.map(({ payload, meta }) => encodeEvent(topic, payload, meta));
    await this.#enqueue(topic, encoded);
    return encoded.map((e) => ({ eventId: e.event.eventId, topic, key: e.key }));
  }

  /**
   * The seed's API. The event carries its payload fields and may carry envelope fields (`eventId`,
   * `actor`, `correlationId`, …); without an actor the service itself is the actor (type `system`).
   */
  async sendEvent(topic: string, event: Record<string, unknown>): Promise<RecordMetadata[]> {
    return this.#enqueue(topic, [this.#encodeLoose(topic, event)]);
  }

  /** The seed's batch API: validated as a whole, sent together. */
  async sendBatch(topic: string, events: Record<string, unknown>[]): Promise<RecordMetadata[]> {
    const encoded = events.map((event) => this.#encodeLoose(topic, event));
    return this.#enqueue(topic, encoded);
  }

  #encodeLoose(topic: string, event: Record<string, unknown>): EncodedEvent {
    if (!isCatalogTopic(topic)) throw new UnknownTopicError(topic);
    const payload: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(event))
      if (!META_FIELDS.includes(field)) payload[field] = value;
    const service = (event.service as string | undefined) ?? process.env.SERVICE_NAME ?? 'unknown';
    const meta = {
      actor: (event.actor as EventMeta['actor'] | undefined) ?? { id: service, type: 'system' },
      service,
      ...pick(event, ['eventId', 'timestamp', 'correlationId', 'causationId']),
    } as EventMeta;
    // The seed lets callers pass eventType; it must then be the topic's.
    if (event.eventType !== undefined && event.eventType !== topic) {
      throw new EventValidationError(topic, [{ path: 'eventType', message: `expected "${topic}"` }], {
        code: 'UNKNOWN_EVENT_TYPE',
      });
    }
    return encodeEvent(topic, payload as PayloadOf<typeof topic>, meta);
  }

  #enqueue(topic: string, events: EncodedEvent[]): Promise<RecordMetadata[]> {
    if (events.length === 0) return Promise.resolve([]);
    const enqueuedAt = Date.now();
    const promises = events.map(
      (e) =>
        new Promise<RecordMetadata[]>((resolve, reject) => {
          this.#queue.push({
            topic,
            // The value waits as its UTF-8 bytes (what kafkajs writes either way): half the size of the JSON
            // string, which is two bytes a character once one is outside Latin-1 (a French clinical note's
            // apostrophe), and off the JavaScript heap, so a queued event no longer ages into the old space.
            message: { key: e.key, value: Buffer.from(e.value), headers: e.headers, timestamp: e.timestamp },
            resolve,
            reject,
            enqueuedAt,
          });
        }),
    );
    if (this.#queue.length >= this.#options.maxBatchSize) this.#startDrain();
    else this.#timer ??= setTimeout(() => this.#startDrain(), this.#options.lingerMs);
    // One event (the common `publish`): its promise as is, no extra Promise.all and copy per event.
    if (promises.length === 1) return promises[0] as Promise<RecordMetadata[]>;
    return Promise.all(promises).then((results) => dedupe(results.flat()));
  }

  #startDrain(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#dispatch();
  }

  /**
   * Starts a request for every leader that has none in flight, with the queued messages whose partitions it
   * leads (kafkajs's latest metadata, seen by the partitioner), in queue order. One request per leader, as the
   * Java client keeps one pipeline per broker: a leader that hangs (paused, cut off) holds up only its own
   * partitions, not a batch shared with the healthy brokers, which kafkajs answers only when every broker in
   * it has. A partition is in at most one request at a time, and a message waits while an earlier one of its
   * partition does, which keeps per-key order through retries and leader changes. On one broker (or before
   * any metadata) there is one lane and nothing is hashed here.
   */
  #dispatch(): void {
    if (this.#queue.length === 0) return;
    const max = this.#options.maxBatchSize;
    const single = this.#singleLeader();
    // One leader: one request at a time, the first messages queued, nothing hashed. A request made so does
    // not mark its partitions, so nothing else goes out until it is answered, whatever the metadata says next.
    if (single !== undefined) {
      if (this.#lanes.size === 0) this.#launch(single, this.#queue.splice(0, max), undefined);
      return;
    }
    if (this.#unmarked) return;
    const batches = new Map<number, { batch: Pending[]; partitions: string[] }>();
    const held = new Set<string>();
    const rest: Pending[] = [];
    for (const p of this.#queue) {
      const partition = this.#partitionOf(p);
      const slot = `${p.topic}\u0000${partition}`;
      const leader = this.#leaderOf(p.topic, partition);
      let lane = batches.get(leader);
      if (
        held.has(slot) ||
        this.#busy.has(slot) ||
        // A request sent before kafkajs knew the topic's partitions (slot -1) may hold any of them.
        this.#busy.has(`${p.topic}\u0000-1`) ||
        this.#lanes.has(leader) ||
        (lane && lane.batch.length >= max)
      ) {
        held.add(slot);
        rest.push(p);
        continue;
      }
      if (!lane) {
        lane = { batch: [], partitions: [] };
        batches.set(leader, lane);
      }
      lane.batch.push(p);
      lane.partitions.push(slot);
    }
    this.#queue = rest;
    for (const [leader, { batch, partitions }] of batches) this.#launch(leader, batch, new Set(partitions));
  }

  /** The one leader of every partition kafkajs knows of (or -1 before it knows any); undefined when several. */
  #singleLeader(): number | undefined {
    let leader = -1;
    for (const metadata of this.#metadata.values()) {
      for (const m of metadata) {
        if (leader === -1) leader = m.leader;
        else if (m.leader !== leader) return undefined;
      }
    }
    return leader;
  }

  #partitionOf(p: Pending): number {
    if (p.partition !== undefined) return p.partition;
    const metadata = this.#metadata.get(p.topic);
    if (!metadata) return -1;
    p.partition = partitioner({ topic: p.topic, message: p.message, partitionMetadata: metadata });
    return p.partition;
  }

  #leaderOf(topic: string, partition: number): number {
    const metadata = this.#metadata.get(topic);
    if (!metadata) return -1;
    const entry =
      metadata[partition]?.partitionId === partition
        ? metadata[partition]
        : metadata.find((m) => m.partitionId === partition);
    return entry?.leader ?? -1;
  }

  #launch(leader: number, batch: Pending[], partitions: Set<string> | undefined): void {
    if (batch.length === 0) return;
    for (const slot of partitions ?? []) this.#busy.add(slot);
    if (!partitions) this.#unmarked = true;
    const sending = this.#send(batch).finally(() => {
      for (const slot of partitions ?? []) this.#busy.delete(slot);
      if (!partitions) this.#unmarked = false;
      this.#lanes.delete(leader);
      // Publishes that arrived while this request was in flight go out at once: they already waited.
      this.#dispatch();
    });
    this.#lanes.set(leader, sending);
  }

  async #send(sending: Pending[]): Promise<void> {
    let batch = sending;
    try {
      const producer = await this.#connect();
      const byTopic = new Map<string, Message[]>();
      for (const p of batch) {
        const list = byTopic.get(p.topic) ?? [];
        list.push(p.message);
        byTopic.set(p.topic, list);
      }
      const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
      const metadata = await producer.sendBatch({
        topicMessages,
        acks: -1,
        compression: this.#compression,
      });
      // One metadata array per topic, shared by that topic's publishers (not a filter per event), and the
      // partitions written per topic.
      const perTopic = new Map<string, RecordMetadata[]>();
      const written = new Map<string, Set<number>>();
      for (const m of metadata) {
        const list = perTopic.get(m.topicName);
        if (list) list.push(m);
        else perTopic.set(m.topicName, [m]);
        const partitions = written.get(m.topicName);
        if (partitions) partitions.add(m.partition);
        else written.set(m.topicName, new Set([m.partition]));
      }
      // kafkajs 2.2.4 keeps one response per broker across its retries: when a partition's leader moves to
      // a broker that already answered, it returns without sending that partition's messages (in the
      // three-node fault runs, acknowledged events never reached Kafka). Such messages go out again. One
      // pass over the batch; a message's partition is computed only when its topic was not written to
      // every partition (a large batch usually was), and once.
      const unsent: Pending[] = [];
      for (const p of batch) {
        const partitions = written.get(p.topic);
        const missed =
          p.message.key != null &&
          (p.resent ?? 0) < 2 &&
          (partitions?.size ?? 0) < partitionCount(p.topic) &&
          !partitions?.has(partitionOf(p.topic, p.message));
        if (missed) unsent.push(p);
        else p.resolve(perTopic.get(p.topic) ?? []);
      }
      if (unsent.length > 0) {
        logger.warn(
          'Kafka producer: messages left unsent by the client after a leader change, sending again',
          {
            topics: [...new Set(unsent.map((p) => p.topic))],
            count: unsent.length,
          },
        );
        for (const p of unsent) p.resent = (p.resent ?? 0) + 1;
        // Ahead of everything queued: while they were in flight nothing later of their partitions was sent.
        this.#queue.unshift(...unsent);
      }
      logger.debug('Kafka producer sent', { topics: [...byTopic.keys()], count: batch.length });
    } catch (cause) {
      const topics = [...new Set(batch.map((p) => p.topic))];
      // kafkajs stops retrying when it cannot reach the cluster for its connection retries (~25 s: every
      // broker down or restarting), well inside the delivery timeout. What is still inside it goes out
      // again after a back-off, first in the queue (its partitions stay in flight until then, so nothing
      // later of them overtakes it); the rest is rejected below.
      const sequence = this.#options.idempotent && sequenceBroken(cause);
      if (!sequence && transientKafkaError(cause)) {
        const now = Date.now();
        const again = batch.filter((p) => now - p.enqueuedAt < this.#deliveryTimeoutMs);
        if (again.length > 0) {
          const log = again.some((p) => p.retried === undefined) ? logger.warn : logger.debug;
          log.call(logger, 'Kafka producer: Kafka unreachable, sending again within the delivery timeout', {
            topics,
            count: again.length,
            errorClass: (cause as Error)?.name,
          });
          for (const p of again) p.retried = (p.retried ?? 0) + 1;
          await sleep(SEND_BACKOFF.maxRetryTime);
          this.#queue.unshift(...again);
          batch = batch.filter((p) => now - p.enqueuedAt >= this.#deliveryTimeoutMs);
          if (batch.length === 0) return;
        }
      }
      const error = new EventBusError(
        'KAFKA_UNAVAILABLE',
        `Failed to publish ${batch.length} event(s) to ${topics.join(', ')}: ${(cause as Error)?.message ?? cause}`,
        { retryable: true, cause },
      );
      logger.error('Kafka producer send failed', {
        topics,
        count: batch.length,
        errorClass: (cause as Error)?.name,
      });
      for (const p of batch) p.reject(error);
      if (sequence) this.#resetAfterSequenceError();
    }
  }

  /**
   * After a leader change, a batch the idempotent producer gave up on leaves kafkajs's sequence numbers ahead
   * of the broker's, and every later send to that partition fails OUT_OF_ORDER_SEQUENCE_NUMBER (seen in the
   * three-node fault runs, test/faults/replicated.ts). The Java client bumps its epoch then; here the next
   * publish gets a fresh kafkajs producer (a new producer id). Nothing acknowledged is affected; a caller
   * retrying a rejected publish may write it twice, which consumers absorb by eventId.
   */
  #resetAfterSequenceError(): void {
    const stale = this.#producer;
    this.#producer = undefined;
    logger.warn('Kafka producer reset after a sequence error', { idempotent: true });
    void stale?.disconnect().catch(() => undefined);
  }

  #installSignalHandlers(): void {
    if (!this.#handleSignals || this.#signalsInstalled) return;
    this.#signalsInstalled = true;
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const onSignal = async () => {
        try {
          await this.disconnect();
        } catch (error) {
          logger.error('Kafka producer shutdown failed', { errorClass: (error as Error)?.name });
        }
        // Give the signal back its usual meaning (or to the application's own handlers).
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      };
      process.once(signal, onSignal);
    }
  }
}

const partitioner = Partitioners.DefaultPartitioner();

/** The catalog's partition count of a topic (the count every provisioner creates). */
const partitionCount = (topic: string): number =>
  isCatalogTopic(topic) ? definitionOf(topic).partitions : 1;

/** Partition metadata as the partitioner reads it, built once per topic. */
const partitionMetadata = new Map<string, PartitionMetadata[]>();

/**
 * The partition kafkajs's default partitioner picks for a keyed message, with the catalog's partition count.
 * Were a topic grown beyond it, a message could be sent once more for nothing, which consumers absorb by
 * eventId.
 */
const partitionOf = (topic: string, message: Message): number => {
  let metadata = partitionMetadata.get(topic);
  if (!metadata) {
    metadata = Array.from({ length: partitionCount(topic) }, (_, i) => ({
      partitionId: i,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    }));
    partitionMetadata.set(topic, metadata);
  }
  return partitioner({ topic, message, partitionMetadata: metadata });
};

/** kafkajs errors that end by themselves: a broker unreachable or restarting, metadata not there yet. */
const TRANSIENT_KAFKAJS_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSLockTimeout',
]);

/**
 * Whether kafkajs gave up on something that clears by itself. The chain of causes is read from the outside
 * in (kafkajs wraps the last error in KafkaJSNumberOfRetriesExceeded or KafkaJSNonRetriableError): a
 * protocol error decides by its own `retriable` (MESSAGE_TOO_LARGE, an authorization failure never clear),
 * a connection-level error is transient, anything else is not.
 */
export const transientKafkaError = (error: unknown): boolean => {
  type Wrapped = { name?: string; retriable?: boolean; cause?: unknown; originalError?: unknown };
  for (let e = error as Wrapped | undefined, depth = 0; e && depth < 6; depth++) {
    if (e.name === 'KafkaJSProtocolError') return e.retriable === true;
    if (e.name && TRANSIENT_KAFKAJS_ERRORS.has(e.name)) return true;
    e = (e.cause ?? e.originalError) as Wrapped | undefined;
  }
  return false;
};

/** True when `error` (or an error it wraps) is the broker refusing the idempotent producer's sequence. */
const sequenceBroken = (error: unknown): boolean => {
  for (let e = error as { type?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.type === 'OUT_OF_ORDER_SEQUENCE_NUMBER' || e.type === 'UNKNOWN_PRODUCER_ID') return true;
    e = e.cause as typeof e;
  }
  return false;
};

const pick = (source: Record<string, unknown>, keys: string[]) =>
  Object.fromEntries(keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]]));

const dedupe = (metadata: RecordMetadata[]): RecordMetadata[] => {
  const seen = new Map<string, RecordMetadata>();
  for (const m of metadata) seen.set(`${m.topicName}-${m.partition}`, m);
  return [...seen.values()];
};

/**
 * The shared instance (the seed's singleton). It leaves the process's signal handling alone; a service whose
 * entry point wants queued events flushed on SIGTERM/SIGINT calls `producer.handleSignals()`.
 */
export const producer = new KafkaProducer();
