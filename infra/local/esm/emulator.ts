import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from 'aws-lambda';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { describeError } from '../../../shared/errors.ts';
import { registerCodecs } from '../../../shared/kafka/codecs.ts';
import { createKafka } from '../../../shared/kafka/config.ts';
import { fromKafkaMessage, type RawRecord } from '../../../shared/kafka/record.ts';
import { type MskEvent, toMskEvent } from '../../../shared/lambda/msk-event.ts';
import { logger } from '../../../shared/log.ts';
import { REPO_ROOT } from '../kafka/jvm.ts';
import { type InvocationResult, runBatch } from './batch.ts';
import { lambdaContext } from './context.ts';
import { type OnFailureSink, onFailureRecord } from './on-failure.ts';
import { type EsmSource, effectiveRetryAttempts, LOCAL_CLUSTER_ARN, localFunctionArn } from './source.ts';

/** A Lambda handler as the functions export it (`handler(event, context)` → `{ batchItemFailures }`). */
export type LambdaHandler = (event: MskEvent, context: Context) => Promise<unknown> | unknown;

/** Safe-to-log facts about a batch range: where it is, never what it holds. */
export interface RangeRef {
  function: string;
  topic: string;
  partition: number;
  firstOffset: string;
  lastOffset: string;
  count: number;
}

/** What the emulator reports as it works, for `npm start -- --demo` and tests. Never payload values. */
export interface EsmObserver {
  /** Before each invocation, with the records it carries. */
  invoking?(range: RangeRef, records: RawRecord[], invocation: number): void;
  result?(range: RangeRef, result: InvocationResult, invocation: number, records: RawRecord[]): void;
  /** An on-failure record was sent for this range. */
  discarded?(range: RangeRef, approximateInvokeCount: number): void;
}

export interface EsmOptions {
  source: EsmSource;
  /** The function to run instead of the one at `source.entry` (tests). */
  handler?: LambdaHandler;
  onFailure: OnFailureSink;
  /** A kafkajs client; default one from the environment (KAFKA_BROKERS, ...). */
  kafka?: Kafka;
  /** Bootstrap servers as the event shows them; default the brokers of KAFKA_BROKERS. */
  bootstrapServers?: string;
  /**
   * Multiplies MaximumBatchingWindowInSeconds (tests use e.g. 0.2 to wait 200 ms instead of 1 s). Default 1.
   */
  windowScale?: number;
  /** Pause between retries of a failing batch (AWS does not document one; default 100 ms). */
  retryDelayMs?: number;
  observer?: EsmObserver;
}

export interface RunningEsm {
  source: EsmSource;
  stop(): Promise<void>;
}

/** Imports `functions/<name>/handler.ts` in-process, as the Lambda runtime would load the bundle. */
export const loadHandler = async (entry: string): Promise<LambdaHandler> => {
  const module = (await import(resolve(REPO_ROOT, entry))) as { handler?: unknown };
  if (typeof module.handler !== 'function') throw new Error(`${entry} does not export a handler function`);
  return module.handler as LambdaHandler;
};

const toRaw = fromKafkaMessage;

const rangeOf = (fn: string, records: RawRecord[]): RangeRef => {
  const first = records[0] as RawRecord;
  const last = records[records.length - 1] as RawRecord;
  return {
    function: fn,
    topic: first.topic,
    partition: first.partition,
    firstOffset: first.offset,
    lastOffset: last.offset,
    count: records.length,
  };
};

/** Runs `invoke` within the function timeout; a timeout is an error, as Lambda reports it. */
const withTimeout = async <T>(work: Promise<T>, ms: number): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Task timed out after ${ms / 1000} seconds`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
};

/**
 * The MSK event-source mapping, locally: one kafkajs consumer group per consumer definition, which turns
 * what it fetches into MSK events (shared/lambda/msk-event.ts), invokes the function in-process and applies
 * the ESM's retry, bisection, partial-response and on-failure rules (batch.ts). kafkajs gives at most one
 * batch in flight per partition; offsets are resolved and committed only after success, or after the
 * on-failure record for a range has been sent.
 */
export const startEsm = async (options: EsmOptions): Promise<RunningEsm> => {
  const { source, observer } = options;
  const handler = options.handler ?? (await loadHandler(source.entry));
  registerCodecs(); // also for a client passed in: kafkajs reads only gzip by itself
  const kafka = options.kafka ?? (await createKafka());
  const bootstrapServers =
    options.bootstrapServers ?? (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean).join(',');
  const eventSource = { eventSourceArn: LOCAL_CLUSTER_ARN, bootstrapServers };
  const functionArn = localFunctionArn(source.name);
  const retryDelayMs = options.retryDelayMs ?? 100;
  const windowMs = Math.round(source.maxBatchingWindowSeconds * 1000 * (options.windowScale ?? 1));
  const policy = {
    retryAttempts: effectiveRetryAttempts(source.retryAttempts),
    bisectBatchOnError: source.bisectBatchOnError,
    reportBatchItemFailures: source.reportBatchItemFailures,
  };

  const consumer: Consumer = kafka.consumer({
    groupId: source.groupId,
    allowAutoTopicCreation: false,
    // The batching window: the broker holds each fetch until the window has passed (or 1 MiB is ready).
    maxWaitTimeInMs: Math.max(windowMs, 10),
    minBytes: windowMs > 0 ? 1024 * 1024 : 1,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
  });
  let running = true;
  await consumer.connect();
  await consumer.subscribe({
    topics: [...source.topics],
    fromBeginning: source.startingPosition === 'TRIM_HORIZON',
  });

  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: Math.max(1, source.pollers.maximum),
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      const all = batch.messages.map((m) => toRaw(batch.topic, batch.partition, m));
      const live = () => running && isRunning() && !isStale();
      for (let start = 0; start < all.length; start += source.batchSize) {
        if (!live()) return;
        const chunk = all.slice(start, start + source.batchSize);
        const beat = setInterval(() => void heartbeat().catch(() => undefined), 3_000);
        try {
          await runBatch(chunk, policy, {
            invoke: async (records, invocation) => {
              const event = toMskEvent(records, eventSource);
              const range = rangeOf(source.name, records);
              observer?.invoking?.(range, records, invocation);
              const context = lambdaContext(source);
              return withTimeout(
                Promise.resolve().then(() => handler(event, context)),
                source.timeoutSeconds * 1000,
              );
            },
            onResult: (records, result, invocation) => {
              const range = rangeOf(source.name, records);
              if (result.kind !== 'success')
                logger.warn('ESM invocation failed', { ...range, invocation, outcome: result.kind });
              observer?.result?.(range, result, invocation, records);
            },
            commit: async (last) => {
              resolveOffset(last.offset);
              const next = (BigInt(last.offset) + 1n).toString();
              await consumer.commitOffsets([
                { topic: batch.topic, partition: batch.partition, offset: next },
              ]);
            },
            discard: async (records, info) => {
              const payloadSize = Buffer.byteLength(JSON.stringify(toMskEvent(records, eventSource)));
              await options.onFailure.send(
                onFailureRecord({ records, functionArn, payloadSize, ...eventSource, ...info }),
              );
              const range = rangeOf(source.name, records);
              logger.error('ESM retries exhausted; on-failure record sent', {
                ...range,
                approximateInvokeCount: info.approximateInvokeCount,
              });
              observer?.discarded?.(range, info.approximateInvokeCount);
            },
            beforeRetry: async () => {
              await heartbeat().catch(() => undefined);
              await sleep(retryDelayMs);
              return live();
            },
          });
        } catch (error) {
          // Only commit or the on-failure send can throw here: leave the range unresolved so kafkajs
          // delivers it again (never dropped).
          logger.error('ESM batch could not be completed', {
            ...rangeOf(source.name, chunk),
            ...describeError(error),
          });
          throw error;
        } finally {
          clearInterval(beat);
        }
      }
    },
  });
  logger.info('ESM started', {
    function: source.name,
    groupId: source.groupId,
    topics: source.topics.length,
  });

  return {
    source,
    async stop() {
      running = false;
      await consumer.disconnect();
      logger.info('ESM stopped', { function: source.name });
    },
  };
};
