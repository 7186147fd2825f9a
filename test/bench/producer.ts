import { randomUUID } from 'node:crypto';
import { type Kafka, type Message, Partitioners } from 'kafkajs';
import { definitionOf } from '../../shared/events/index.ts';
import { KafkaProducer } from '../../shared/kafka/producer.ts';
import { BENCH_TOPICS, metaFor, payloadFor } from './events.ts';
import { rate } from './stats.ts';

/**
 * Row 1, the Node peers, all on the same broker, topic and ~1 KB events, acks=all:
 * - ours: `KafkaProducer.publish` (validate, envelope, key, headers, linger/coalesce, one request in flight);
 * - raw: kafkajs `sendBatch` of the same number of messages per request, idempotent, one request in
 *   flight, acks -1 — the layer's own kafkajs settings, without validation or envelope building;
 * - seed-style: the seed's `sendEvent`, one awaited `send` of one message per event (acks -1), its
 *   producer settings (not idempotent), minus its console logging.
 */
export const PRODUCER_SETTINGS = { lingerMs: 5, maxBatchSize: 500 } as const;

/** How many publishes a caller keeps outstanding: enough to fill two requests while one is in flight. */
export const OUTSTANDING = PRODUCER_SETTINGS.maxBatchSize * 4;

export interface Throughput {
  events: number;
  ms: number;
  perSecond: number;
}

const topic = BENCH_TOPICS.producer;

/**
 * Calls `publishOne(i)` for i < count with at most `window` calls outstanding, as a busy service would.
 * A counter and one waiter, so the driver costs O(1) per event (a Promise.race over the window would not).
 */
export const windowed = async (
  count: number,
  window: number,
  publishOne: (i: number) => Promise<unknown>,
  from = 0,
): Promise<void> => {
  let outstanding = 0;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const settle = () => {
    outstanding--;
    const w = wake;
    wake = undefined;
    w?.();
  };
  for (let i = from; i < from + count; i++) {
    outstanding++;
    publishOne(i).then(settle, (error: unknown) => {
      failure ??= error;
      settle();
    });
    while (outstanding >= window) await new Promise<void>((resolve) => (wake = resolve));
    if (failure) throw failure;
  }
  while (outstanding > 0) await new Promise<void>((resolve) => (wake = resolve));
  if (failure) throw failure;
};

export const benchOurs = async (kafka: Kafka, events: number): Promise<Throughput> => {
  // Uncompressed, as the raw and Java peers: this row measures the layer's own cost (row 6 the codecs').
  const producer = new KafkaProducer({
    kafka,
    handleSignals: false,
    ...PRODUCER_SETTINGS,
    compression: 'none',
  });
  await producer.connect();
  try {
    const start = performance.now();
    await windowed(events, OUTSTANDING, (i) => producer.publish(topic, payloadFor(topic, i), metaFor(i)));
    await producer.flush();
    const ms = performance.now() - start;
    return { events, ms, perSecond: rate(events, ms) };
  } finally {
    await producer.disconnect();
  }
};

/** The event a caller of raw kafkajs would build itself: the same fields, no validation. */
export const rawMessage = (i: number): Message => {
  const payload = payloadFor(topic, i);
  const eventId = randomUUID();
  const timestamp = Date.now();
  const value = JSON.stringify({
    eventType: topic,
    ...payload,
    eventId,
    schemaVersion: 1,
    actor: metaFor(i).actor,
    correlationId: eventId,
    timestamp,
    service: 'appointment-service',
  });
  return {
    key: payload.appointmentId,
    value,
    // The same headers the layer writes (event-type, content-type, CloudEvents binding), so both send the
    // same bytes per record.
    headers: {
      'event-type': topic,
      'content-type': 'application/json',
      ce_specversion: '1.0',
      ce_id: eventId,
      ce_source: '/esante/appointment-service',
      ce_type: topic,
      ce_time: new Date(timestamp).toISOString(),
    },
    timestamp: String(timestamp),
  };
};

export const benchRaw = async (kafka: Kafka, events: number): Promise<Throughput> => {
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    const start = performance.now();
    for (let sent = 0; sent < events; sent += PRODUCER_SETTINGS.maxBatchSize) {
      const n = Math.min(PRODUCER_SETTINGS.maxBatchSize, events - sent);
      const messages = Array.from({ length: n }, (_, j) => rawMessage(sent + j));
      await producer.sendBatch({ topicMessages: [{ topic, messages }], acks: -1 });
    }
    const ms = performance.now() - start;
    return { events, ms, perSecond: rate(events, ms) };
  } finally {
    await producer.disconnect();
  }
};

export const benchSeedStyle = async (kafka: Kafka, events: number): Promise<Throughput> => {
  const producer = kafka.producer({ allowAutoTopicCreation: false, transactionTimeout: 30_000 });
  await producer.connect();
  try {
    const start = performance.now();
    for (let i = 0; i < events; i++) {
      await producer.send({ topic, messages: [rawMessage(i)], acks: -1 });
    }
    const ms = performance.now() - start;
    return { events, ms, perSecond: rate(events, ms) };
  } finally {
    await producer.disconnect();
  }
};

const partitioner = Partitioners.DefaultPartitioner();

/**
 * Row 1's lever toward the Java client (which keeps up to 5 requests in flight per connection): `shards`
 * of our producers, each idempotent with one request in flight, each owning a disjoint set of the topic's
 * partitions (partition mod shards). A key maps to one partition, so to one producer: per-key order and
 * idempotence hold as with one producer, while `shards` requests are in flight.
 */
export const benchOursSharded = async (kafka: Kafka, events: number, shards: number): Promise<Throughput> => {
  const producers = Array.from(
    { length: shards },
    () => new KafkaProducer({ kafka, handleSignals: false, ...PRODUCER_SETTINGS, compression: 'none' }),
  );
  const partitionMetadata = Array.from({ length: definitionOf(topic).partitions }, (_, i) => ({
    partitionId: i,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
  const owner = (key: string) =>
    producers[
      partitioner({ topic, message: { key, value: null }, partitionMetadata }) % shards
    ] as KafkaProducer;
  await Promise.all(producers.map((p) => p.connect()));
  try {
    const start = performance.now();
    await windowed(events, OUTSTANDING * shards, (i) => {
      const payload = payloadFor(topic, i);
      return owner(payload.appointmentId).publish(topic, payload, metaFor(i));
    });
    await Promise.all(producers.map((p) => p.flush()));
    const ms = performance.now() - start;
    return { events, ms, perSecond: rate(events, ms) };
  } finally {
    await Promise.all(producers.map((p) => p.disconnect()));
  }
};

/**
 * Evidence for row 1's last gap, not a candidate to switch to: @platformatic/kafka, a maintained pure
 * TypeScript client, sending the same messages as `benchRaw` (idempotent, acks -1, the same number per
 * request, one request awaited at a time). If it reaches the Java client where kafkajs does not, the gap is
 * the client's, not the layer's.
 */
export const benchPlatformatic = async (brokers: string[], events: number): Promise<Throughput> => {
  const { Producer, stringSerializers } = await import('@platformatic/kafka');
  const producer = new Producer({
    clientId: 'bench-platformatic',
    bootstrapBrokers: brokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: -1,
    autocreateTopics: false,
  });
  try {
    const start = performance.now();
    for (let sent = 0; sent < events; sent += PRODUCER_SETTINGS.maxBatchSize) {
      const n = Math.min(PRODUCER_SETTINGS.maxBatchSize, events - sent);
      const messages = Array.from({ length: n }, (_, j) => {
        const m = rawMessage(sent + j);
        return {
          topic,
          key: String(m.key),
          value: String(m.value),
          headers: m.headers as Record<string, string>,
          timestamp: BigInt(m.timestamp as string),
        };
      });
      await producer.send({ messages });
    }
    const ms = performance.now() - start;
    return { events, ms, perSecond: rate(events, ms) };
  } finally {
    await producer.close();
  }
};
