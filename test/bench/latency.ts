import { randomUUID } from 'node:crypto';
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import type { Kafka } from 'kafkajs';
import { auditKey } from '../../functions/audit/audit.ts';
import type { LambdaHandler } from '../../infra/local/esm/emulator.ts';
import { startEsm } from '../../infra/local/esm/emulator.ts';
import { TABLES } from '../../infra/resources.ts';
import { KafkaProducer } from '../../shared/kafka/producer.ts';
import { dynamo } from '../../shared/lambda/clients.ts';
import type { MskEvent } from '../../shared/lambda/msk-event.ts';
import { auditSource } from './consumer.ts';
import { BENCH_TOPICS, metaFor, payloadFor } from './events.ts';
import { PRODUCER_SETTINGS } from './producer.ts';
import { percentile, sleep } from './stats.ts';

/**
 * Row 3: publish → audit entry readable, at a fixed offered rate. Events go out through our `publish`
 * (production settings: acks=all, 5 ms linger); the ESM emulator, with the audit consumer's definition
 * (its batching window and batch size, infra/consumers.ts), invokes the real audit handler, which writes to
 * local DynamoDB.
 * An event's latency ends when the invocation holding it returns: its conditional put has been
 * acknowledged, so the entry is readable with a consistent read. Every entry is read back at the end.
 */
const topic = BENCH_TOPICS.latency;

export interface LatencyResult {
  offeredPerSecond: number;
  events: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  readBack: number;
  /**
   * Each invocation after the warm-up: its records, how long after the scheduled send of its oldest
   * record it started (the batching window, plus the time that record took to reach the ESM), and how long
   * the handler took. Together they say where the p99 goes.
   */
  invocations?: { records: number; startedAfterMs: number; handlerMs: number }[];
}

/** eventIds of the records an MSK event carries (values are base64 JSON envelopes). */
const eventIdsOf = (event: MskEvent): string[] =>
  Object.values(event.records)
    .flat()
    .map(
      (r) =>
        (JSON.parse(Buffer.from(r.value ?? '', 'base64').toString('utf8')) as { eventId: string }).eventId,
    );

const readBack = async (eventIds: string[]): Promise<number> => {
  let found = 0;
  for (let i = 0; i < eventIds.length; i += 100) {
    let keys = eventIds.slice(i, i + 100).map((id) => auditKey(id));
    while (keys.length > 0) {
      const out = await dynamo().send(
        new BatchGetCommand({ RequestItems: { [TABLES.audit.name]: { Keys: keys, ConsistentRead: true } } }),
      );
      found += out.Responses?.[TABLES.audit.name]?.length ?? 0;
      keys = (out.UnprocessedKeys?.[TABLES.audit.name]?.Keys ?? []) as typeof keys;
    }
  }
  return found;
};

export const benchLatency = async (
  kafka: Kafka,
  brokers: string[],
  handler: LambdaHandler,
  opts: { perSecond: number; seconds: number },
): Promise<LatencyResult> => {
  const sentAt = new Map<string, number>();
  const doneAt = new Map<string, number>();
  const invocations: NonNullable<LatencyResult['invocations']> = [];
  const timed: LambdaHandler = async (event, context) => {
    const started = performance.now();
    const result = await handler(event, context);
    const now = performance.now();
    const ids = eventIdsOf(event as MskEvent);
    for (const id of ids) if (!doneAt.has(id)) doneAt.set(id, now);
    const oldest = Math.min(...ids.map((id) => sentAt.get(id) ?? Number.POSITIVE_INFINITY));
    if (Number.isFinite(oldest))
      invocations.push({ records: ids.length, startedAfterMs: started - oldest, handlerMs: now - started });
    return result;
  };
  const esm = await startEsm({
    source: auditSource([topic]),
    handler: timed,
    onFailure: {
      async send() {
        throw new Error('latency row: an audit batch was discarded');
      },
    },
    kafka,
    bootstrapServers: brokers.join(','),
  });
  const producer = new KafkaProducer({ kafka, handleSignals: false, ...PRODUCER_SETTINGS });
  await producer.connect();
  try {
    // Warm-up: the group has joined and the first fetch returned once this event is audited.
    const warm = await producer.publish(topic, payloadFor(topic, 0), metaFor(0));
    const warmDeadline = Date.now() + 60_000;
    while (!doneAt.has(warm.eventId)) {
      if (Date.now() > warmDeadline) throw new Error('latency row: the warm-up event was never audited');
      await sleep(20);
    }

    const total = Math.round(opts.perSecond * opts.seconds);
    const interval = 1000 / opts.perSecond;
    const start = performance.now();
    const publishes: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      // Latency counts from the scheduled send time, so a late publish cannot hide its own delay.
      const eventId = randomUUID();
      sentAt.set(eventId, due);
      publishes.push(producer.publish(topic, payloadFor(topic, i + 1), { ...metaFor(i + 1), eventId }));
    }
    await Promise.all(publishes);
    const deadline = Date.now() + 60_000;
    while ([...sentAt.keys()].some((id) => !doneAt.has(id))) {
      if (Date.now() > deadline) throw new Error('latency row: not every event was audited within 60 s');
      await sleep(50);
    }
    const latencies = [...sentAt].map(([id, t]) => (doneAt.get(id) as number) - t);
    return {
      offeredPerSecond: opts.perSecond,
      events: latencies.length,
      p50Ms: percentile(latencies, 50),
      p95Ms: percentile(latencies, 95),
      p99Ms: percentile(latencies, 99),
      maxMs: Math.max(...latencies),
      readBack: await readBack([...sentAt.keys()]),
      invocations,
    };
  } finally {
    await producer.disconnect();
    await esm.stop();
  }
};
