import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from 'aws-lambda';
import type { Consumer, ConsumerRunConfig, Kafka } from 'kafkajs';
import { describeError } from '../../../shared/errors.ts';
import { registerCodecs } from '../../../shared/kafka/codecs.ts';
import { createKafka } from '../../../shared/kafka/config.ts';
import { fromKafkaMessage, type RawRecord } from '../../../shared/kafka/record.ts';
import { type RestartBackoff, superviseConsumer } from '../../../shared/kafka/supervise.ts';
import { type MskEvent, partitionKey, toMskEvent } from '../../../shared/lambda/msk-event.ts';
import { logger } from '../../../shared/log.ts';
import { validateEsmSettings } from '../../consumers.ts';
import { REPO_ROOT } from '../kafka/jvm.ts';
import { type InvocationResult, runBatch } from './batch.ts';
import { lambdaContext } from './context.ts';
import { type OnFailureSink, onFailureRecord } from './on-failure.ts';
import { Poller } from './poller.ts';
import { createSandboxPool, type SandboxEvents } from './sandbox.ts';
import { type EsmSource, effectiveRetryAttempts, LOCAL_CLUSTER_ARN, localFunctionArn } from './source.ts';

/** A Lambda handler as the functions export it (`handler(event, context)` → `{ batchItemFailures }`). */
export type LambdaHandler = (event: MskEvent, context: Context) => Promise<unknown> | unknown;

/** Where one partition's part of a batch is: never what it holds. */
export interface PartitionRange {
  topic: string;
  partition: number;
  firstOffset: string;
  lastOffset: string;
  count: number;
}

/** Safe-to-log facts about a batch (one event: records of one or several partitions). */
export interface RangeRef {
  function: string;
  count: number;
  /** `topic-partition@first..last` per partition, for logs. */
  ranges: string;
  partitions: PartitionRange[];
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
  /**
   * A function value to run in-process instead of the module at `source.entry` (tests of the ESM rules).
   * An in-process handler cannot be stopped: when it times out its work goes on (the result is ignored).
   * Without it, the handler runs in a sandbox (a worker thread) that is stopped on timeout, as Lambda does.
   */
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
  /** Cold starts and stopped sandboxes (only without `handler`). */
  sandboxEvents?: SandboxEvents;
  /** Backoff of the automatic restart after a consumer crash kafkajs does not recover from. */
  restartBackoff?: Partial<RestartBackoff>;
}

export interface RunningEsm {
  source: EsmSource;
  /** The kafkajs consumer polling for this mapping now (a new one after each automatic restart). */
  readonly consumer: Consumer | undefined;
  stop(): Promise<void>;
}

/** Imports `functions/<name>/handler.ts` in-process, as the Lambda runtime would load the bundle. */
export const loadHandler = async (entry: string): Promise<LambdaHandler> => {
  const module = (await import(resolve(REPO_ROOT, entry))) as { handler?: unknown };
  if (typeof module.handler !== 'function') throw new Error(`${entry} does not export a handler function`);
  return module.handler as LambdaHandler;
};

const toRaw = fromKafkaMessage;

export const rangeOf = (fn: string, records: RawRecord[]): RangeRef => {
  const groups = new Map<string, RawRecord[]>();
  for (const record of records) {
    const key = partitionKey(record.topic, record.partition);
    groups.set(key, [...(groups.get(key) ?? []), record]);
  }
  const partitions = [...groups.values()].map((group): PartitionRange => {
    const first = group[0] as RawRecord;
    const last = group[group.length - 1] as RawRecord;
    return {
      topic: first.topic,
      partition: first.partition,
      firstOffset: first.offset,
      lastOffset: last.offset,
      count: group.length,
    };
  });
  return {
    function: fn,
    count: records.length,
    ranges: partitions.map((p) => `${p.topic}-${p.partition}@${p.firstOffset}..${p.lastOffset}`).join(','),
    partitions,
  };
};

/** For an in-process handler only: a timeout is an error, as Lambda reports it, but the work goes on. */
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

/** Safe-to-log fields of a range: no per-partition list, no payload. */
const logRange = ({ partitions: _partitions, ...range }: RangeRef) => range;

/**
 * The MSK event-source mapping, locally: one kafkajs consumer group per consumer definition feeding a
 * poller (poller.ts) that gathers records of several partitions into one MSK event
 * (shared/lambda/msk-event.ts) and invokes as soon as the batch is full (BatchSize or 6 MB) or the batching
 * window has passed. Each invocation runs in a sandbox that is stopped on timeout (sandbox.ts), and its
 * outcome goes through the ESM's retry, bisection, partial-response and on-failure rules (batch.ts). A
 * partition has at most one batch in flight; offsets are committed only after success, or after the
 * on-failure record for a range has been sent.
 */
export const startEsm = async (options: EsmOptions): Promise<RunningEsm> => {
  const { source, observer } = options;
  validateEsmSettings(source);
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
  const sandboxes = options.handler
    ? undefined
    : createSandboxPool({ entry: source.entry, fn: source }, options.sandboxEvents);
  // Load the handler before consuming, as the in-process loader did: a module that cannot load fails here.
  await sandboxes?.warm();
  const invokeFunction = (event: MskEvent): Promise<unknown> => {
    if (sandboxes) return sandboxes.invoke(event);
    const handler = options.handler as LambdaHandler;
    const context = lambdaContext(source);
    return withTimeout(
      Promise.resolve().then(() => handler(event, context)),
      source.timeoutSeconds * 1000,
    );
  };

  // The consumer fetching now; a crash kafkajs gives up on replaces it (supervise.ts), and the poller pauses,
  // resumes, seeks and commits through whichever is current.
  let consumer: Consumer;
  let running = true;

  const poller: Poller = new Poller({
    batchSize: source.batchSize,
    windowMs,
    concurrency: Math.max(1, source.pollers.maximum),
    pause: (tp) => consumer.pause([{ topic: tp.topic, partitions: [tp.partition] }]),
    resume: (tp) => consumer.resume([{ topic: tp.topic, partitions: [tp.partition] }]),
    seek: (tp, offset) => {
      try {
        consumer.seek({ topic: tp.topic, partition: tp.partition, offset });
      } catch (error) {
        // Not running any more: the next start reads from the committed offset anyway.
        logger.warn('ESM could not fetch a partition again', { ...tp, offset, ...describeError(error) });
      }
    },
    run: async (chunk) => {
      const live = () => running && chunk.every((r) => poller.owns(r.topic, r.partition));
      let report: Awaited<ReturnType<typeof runBatch>>;
      try {
        report = await runBatch(chunk, policy, {
          invoke: async (records, invocation) => {
            observer?.invoking?.(rangeOf(source.name, records), records, invocation);
            return invokeFunction(toMskEvent(records, eventSource));
          },
          onResult: (records, result, invocation) => {
            const range = rangeOf(source.name, records);
            if (result.kind !== 'success')
              logger.warn('ESM invocation failed', { ...logRange(range), invocation, outcome: result.kind });
            observer?.result?.(range, result, invocation, records);
          },
          live,
          commit: async (records) => {
            const next = new Map<string, { topic: string; partition: number; offset: bigint }>();
            for (const r of records) {
              const key = partitionKey(r.topic, r.partition);
              const offset = BigInt(r.offset) + 1n;
              if ((next.get(key)?.offset ?? -1n) < offset)
                next.set(key, { topic: r.topic, partition: r.partition, offset });
            }
            await consumer.commitOffsets(
              [...next.values()].map((n) => ({ ...n, offset: n.offset.toString() })),
            );
            poller.finished(records);
          },
          discard: async (records, info) => {
            const payloadSize = Buffer.byteLength(JSON.stringify(toMskEvent(records, eventSource)));
            await options.onFailure.send(
              onFailureRecord({ records, functionArn, payloadSize, ...eventSource, ...info }),
            );
            const range = rangeOf(source.name, records);
            logger.error('ESM retries exhausted; on-failure record sent', {
              ...logRange(range),
              approximateInvokeCount: info.approximateInvokeCount,
            });
            observer?.discarded?.(range, info.approximateInvokeCount);
          },
          beforeRetry: async () => {
            await sleep(retryDelayMs);
            return live();
          },
        });
      } catch (error) {
        // Only a commit or the on-failure send can throw here: the poller fetches the range again from
        // its last finished offset (never dropped).
        logger.error('ESM batch could not be completed', {
          ...logRange(rangeOf(source.name, chunk)),
          ...describeError(error),
        });
        throw error;
      }
      if (report.stopped && running) {
        // A partition of the batch went to another consumer in a rebalance: what is left of the batch was
        // neither committed nor discarded; the poller fetches the partitions it still owns again.
        logger.info('ESM batch left to a rebalance', logRange(rangeOf(source.name, chunk)));
        throw new Error('A partition of the batch was lost in a rebalance');
      }
    },
  });

  const run: ConsumerRunConfig = {
    autoCommit: false,
    eachBatchAutoResolve: false,
    // kafkajs only fetches; the poller batches, invokes and commits. Resolving hands the records over
    // (the fetch position moves on); nothing is committed until the function is done with them.
    eachBatch: async ({ batch, resolveOffset }) => {
      if (batch.messages.length === 0) return;
      poller.add(batch.messages.map((m) => toRaw(batch.topic, batch.partition, m)));
      resolveOffset(batch.lastOffset());
    },
  };
  const supervised = await superviseConsumer({
    name: source.name,
    groupId: source.groupId,
    topics: () => source.topics,
    create: () => {
      consumer = kafka.consumer({
        groupId: source.groupId,
        allowAutoTopicCreation: false,
        // The batching window is the poller's: a fetch returns as soon as records are there (minBytes 1), so
        // the wait only paces polling when the topics are idle.
        maxWaitTimeInMs: Math.min(Math.max(windowMs, 100), 500),
        sessionTimeout: 30_000,
        heartbeatInterval: 3_000,
      });
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => poller.assigned(payload.memberAssignment));
      return consumer;
    },
    start: async (created) => {
      await created.connect();
      await created.subscribe({
        topics: [...source.topics],
        fromBeginning: source.startingPosition === 'TRIM_HORIZON',
      });
      await created.run(run);
    },
    backoff: options.restartBackoff,
  });
  logger.info('ESM started', {
    function: source.name,
    groupId: source.groupId,
    topics: source.topics.length,
  });

  return {
    source,
    get consumer() {
      return supervised.consumer;
    },
    async stop() {
      running = false;
      // A running invocation is stopped with its sandbox (its records are not committed: redelivered).
      await sandboxes?.close();
      await poller.stop();
      await supervised.stop();
      logger.info('ESM stopped', { function: source.name });
    },
  };
};
