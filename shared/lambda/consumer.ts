import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import { ConfigError } from '../errors.ts';
import type { Topic } from '../events/catalog.ts';
import type { BusEvent } from '../events/envelope.ts';
import type { DeadLetterPublisher } from '../kafka/dlq.ts';
import type { Handler, RecordContext } from '../kafka/process.ts';
import type { RetryPolicy } from '../kafka/retry.ts';
import { logger } from '../log.ts';
import { type BatchOptions, type PartitionHandler, processMskEvent } from './batch.ts';
import { deadLetters } from './clients.ts';
import { injectLambdaContext, middy } from './middy.ts';
import type { KafkaBatchResponse } from './msk-event.ts';
import { readRecordRetry } from './settings.ts';

/** One typed handler per topic the function reads; the catalog decides the event type each one gets. */
export type TopicHandlers = {
  [T in Topic]?: (event: BusEvent<T>, context: RecordContext) => Promise<void> | void;
};

/** Handlers for exactly the listed topics (a function's topics.ts): a missing one does not compile. */
export type HandlersFor<Ts extends readonly Topic[]> = {
  [T in Ts[number]]: (event: BusEvent<T>, context: RecordContext) => Promise<void> | void;
};

/** Per topic, a handler taking a partition's records at once (see BatchOptions.resolvePartitionHandler). */
export type PartitionHandlers = {
  [T in Topic]?: PartitionHandler<BusEvent<T>>;
};

/** The topics of `topics` that `handlers` has no handler for. */
export const missingHandlers = (topics: readonly string[], handlers: TopicHandlers): string[] =>
  topics.filter((topic) => typeof handlers[topic as Topic] !== 'function');

export interface ConsumerOptions {
  /** The function's name: `failedBy` on its dead letters, the metrics service. */
  name: string;
  /**
   * The topics the function is subscribed to (its topics.ts, which infra/consumers.ts reads). When given, a
   * topic without a handler fails the function's start-up, rather than dead-lettering every record of it.
   */
  topics?: readonly string[];
  handlers: TopicHandlers;
  /** Optional: topics whose partitions are handled in one step (the per-record handler stays the fallback). */
  partitionHandlers?: PartitionHandlers;
  /** Default: RECORD_RETRY from the environment (see settings.ts). */
  retry?: RetryPolicy;
  /** Default: esante.dlq on the container's Kafka connection. */
  deadLetters?: Pick<DeadLetterPublisher, 'send'>;
  reserveMs?: number;
}

export type MskHandler = middy.MiddyfiedHandler<unknown, KafkaBatchResponse, Error, Context>;

const OUTCOME_METRIC = {
  processed: 'RecordsProcessed',
  'dead-lettered': 'RecordsDeadLettered',
  transient: 'RecordsRetriedLater',
} as const;

/** The options processMskEvent runs with for a consumer: its handlers, retry policy and dead-letter sink. */
export const batchOptionsFor = (options: ConsumerOptions, metrics?: Metrics): BatchOptions => ({
  resolveHandler: (topic) => options.handlers[topic as Topic] as Handler | undefined,
  resolvePartitionHandler: (topic) =>
    options.partitionHandlers?.[topic as Topic] as PartitionHandler | undefined,
  retry: options.retry ?? readRecordRetry(),
  deadLetters: options.deadLetters ?? deadLetters(options.name),
  ...(options.reserveMs === undefined ? {} : { reserveMs: options.reserveMs }),
  onOutcome: (_record, outcome) => {
    metrics?.addMetric(OUTCOME_METRIC[outcome.status], MetricUnit.Count, 1);
    // Which consumers still receive the seed's shape (no envelope): the audit entries name the services.
    if (outcome.status === 'processed' && outcome.anomalies?.includes('seed-shaped')) {
      metrics?.addMetric('SeedShapedRecords', MetricUnit.Count, 1);
    }
  },
});

/**
 * A Lambda handler for an MSK event-source mapping: middy with Powertools Logger (Lambda context on every
 * line) and Metrics (processed / dead-lettered / failed counts, flushed per invocation as EMF), around
 * processMskEvent. The response is the Kafka partial batch response.
 */
export const mskConsumer = (options: ConsumerOptions): MskHandler => {
  const missing = missingHandlers(options.topics ?? [], options.handlers);
  if (missing.length > 0) {
    throw new ConfigError(`Function ${options.name} has no handler for its topic(s): ${missing.join(', ')}`);
  }
  const metrics = new Metrics({ namespace: 'esante', serviceName: options.name });
  return middy<unknown, KafkaBatchResponse, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (event, context) => {
      const response = await processMskEvent(event, {
        ...batchOptionsFor(options, metrics),
        // A caller that passes no real context (a script, a bare test) gets no deadline.
        ...(typeof context?.getRemainingTimeInMillis === 'function'
          ? { remainingTimeMs: () => context.getRemainingTimeInMillis() }
          : {}),
      });
      if (response.batchItemFailures.length > 0) {
        metrics.addMetric('RecordsFailed', MetricUnit.Count, response.batchItemFailures.length);
      }
      return response;
    });
};
