import { z } from 'zod';
import { AUDIT_TOPICS } from '../functions/audit/topics.ts';
import { CONSULTATION_DRAFTS_TOPICS } from '../functions/consultation-drafts/topics.ts';
import { NOTIFICATION_TOPICS } from '../functions/notification/topics.ts';
import { ConfigError } from '../shared/errors.ts';
import { TOPICS, type Topic } from '../shared/events/index.ts';
import type { RetryPolicy } from '../shared/kafka/retry.ts';
import type { TableKey } from './resources.ts';

/**
 * ONE definition per consumer function: which topics it reads, as which consumer group, with which
 * event-source-mapping settings. The CDK app (infra/stacks) and the local ESM emulator (infra/local) both
 * read this; nothing else restates these values, so the local run cannot silently differ from AWS.
 *
 * ESM settings follow the MSK event-source mapping (provisioned mode) parameters:
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk-configure.html
 */
export interface ConsumerDefinition {
  /** Function name suffix and folder under functions/. */
  name: string;
  /** Handler module (exports `handler`), relative to the repo root. */
  entry: string;
  description: string;
  /** What the function reads: its own list (functions/<name>/topics.ts), which its handler map covers. */
  topics: readonly Topic[];
  /** Topics the function publishes to (its only kafka-cluster:WriteData grants). */
  publishes: readonly Topic[];
  /** DynamoDB tables it reads/writes; SES when it sends e-mail. */
  tables: readonly TableKey[];
  sendsEmail: boolean;
  /** Kafka consumer group id (the ESM's AmazonManagedKafkaEventSourceConfig.ConsumerGroupId). */
  groupId: string;
  startingPosition: 'TRIM_HORIZON' | 'LATEST';
  /** Most records per invocation (ESM BatchSize, 1–10,000). */
  batchSize: number;
  /**
   * How long the ESM gathers records before invoking (MaximumBatchingWindowInSeconds): a whole number of
   * seconds, 0–300 (validateEsmSettings).
   */
  maxBatchingWindowSeconds: number;
  /**
   * Invocation retries after the first failure before the on-failure destination (MaximumRetryAttempts,
   * -1..10000; AWS caps -1 at 10 when an on-failure destination is set, so "until the record is too old" is
   * a large number here, with maxRecordAgeSeconds the real bound).
   */
  retryAttempts: number;
  /**
   * Records older than this are not retried any more but sent to the on-failure destination
   * (MaximumRecordAgeInSeconds: -1 for none, else 60..604800). A record failing for a transient reason is
   * reported with the rest of its partition as batch item failures and retried in order until then.
   */
  maxRecordAgeSeconds: number;
  /** Split a failing batch in two and retry each half (BisectBatchOnFunctionError). */
  bisectBatchOnError: boolean;
  /** Honour `batchItemFailures` in the response (FunctionResponseTypes: ReportBatchItemFailures). */
  reportBatchItemFailures: boolean;
  /** Where AWS sends the on-failure record once retries are exhausted: the SQS dead-letter queue. */
  onFailure: 'dlq';
  /** Provisioned pollers (ProvisionedPollerConfig). */
  pollers: { minimum: number; maximum: number };
  /** The in-function tier: bounded retry for transient errors before the record is dead-lettered. */
  recordRetry: RetryPolicy;
  timeoutSeconds: number;
  memoryMb: number;
  reservedConcurrency: number;
}

/**
 * The ESM settings' ranges as CloudFormation accepts them for an MSK event-source mapping
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-eventsourcemapping.html):
 * BatchSize 1–10,000, MaximumBatchingWindowInSeconds a whole number 0–300, MaximumRetryAttempts -1–10,000.
 * A definition outside them is refused here, when the module loads, rather than by a failed deployment.
 */
const esmSettingsSchema = z.object({
  name: z.string().min(1),
  batchSize: z.number().int().min(1).max(10_000),
  maxBatchingWindowSeconds: z.number().int().min(0).max(300),
  retryAttempts: z.number().int().min(-1).max(10_000),
});

export type EsmSettings = Pick<
  ConsumerDefinition,
  'name' | 'batchSize' | 'maxBatchingWindowSeconds' | 'retryAttempts'
>;

/** Throws a ConfigError naming the consumer and every setting CloudFormation would refuse. */
export const validateEsmSettings = <T extends EsmSettings>(settings: T): T => {
  const parsed = esmSettingsSchema.safeParse(settings);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Consumer "${settings.name}" has invalid ESM settings (${problems.join('; ')})`);
  }
  return settings;
};

/** In a Lambda the retry budget must fit well inside the timeout: 3 attempts, 200 ms then 400 ms. */
const LAMBDA_RECORD_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 2_000, jitter: true };

/**
 * A transient failure (a downstream unreachable) keeps its partition retrying in order rather than being
 * dead-lettered, so the ESM's retry budget must outlast an outage: an hour of record age, with the retry
 * count high enough not to end it first (each retry spends the in-function budget, well under a second).
 */
const ESM_DEFAULTS = {
  startingPosition: 'TRIM_HORIZON',
  maxBatchingWindowSeconds: 1,
  retryAttempts: 10_000,
  maxRecordAgeSeconds: 3_600,
  bisectBatchOnError: true,
  reportBatchItemFailures: true,
  onFailure: 'dlq',
  pollers: { minimum: 1, maximum: 3 },
  recordRetry: LAMBDA_RECORD_RETRY,
  timeoutSeconds: 60,
  memoryMb: 512,
  reservedConcurrency: 10,
} as const;

function validateAll<T extends readonly EsmSettings[]>(consumers: T): T {
  for (const consumer of consumers) validateEsmSettings(consumer);
  return consumers;
}

export const CONSUMERS = validateAll([
  {
    ...ESM_DEFAULTS,
    name: 'audit',
    entry: 'functions/audit/handler.ts',
    description: 'Writes one audit entry per event on every service topic',
    topics: AUDIT_TOPICS,
    publishes: [],
    tables: ['audit'],
    sendsEmail: false,
    groupId: 'audit-service',
    // Nobody waits for an audit entry: it is read by an investigation or a verification, hours or years
    // later. A longer window gives larger batches, and the store appends a partition's batch with the same few
    // DynamoDB round trips as a single entry (functions/audit/store.ts), so fewer invocations and round trips
    // per record. 5 s and 500 records: under load a batch fills before the window ends; the payload (about
    // 1 KB a record) stays far below the 6 MB invocation limit and the work far inside the timeout.
    batchSize: 500,
    maxBatchingWindowSeconds: 5,
  },
  {
    ...ESM_DEFAULTS,
    name: 'notification',
    entry: 'functions/notification/handler.ts',
    description: 'Notifies patients and doctors in-app and by e-mail; keeps the contact projection',
    topics: NOTIFICATION_TOPICS,
    publishes: [TOPICS.NOTIFICATION_SENT],
    tables: ['contacts', 'inbox', 'deliveries'],
    sendsEmail: true,
    groupId: 'notification-service',
    batchSize: 50,
    // A patient or a doctor sees each notification (an appointment confirmed or cancelled): no window, the
    // mapping invokes as soon as records are there. Notification work is per record (an e-mail, an inbox
    // item), so a larger batch would save nothing, only add the wait.
    maxBatchingWindowSeconds: 0,
  },
  {
    ...ESM_DEFAULTS,
    name: 'consultation-drafts',
    entry: 'functions/consultation-drafts/handler.ts',
    description: 'Drafts a consultation when an appointment completes (seed flow 2)',
    topics: CONSULTATION_DRAFTS_TOPICS,
    publishes: [TOPICS.CONSULTATION_CREATED],
    tables: ['consultations'],
    sendsEmail: false,
    groupId: 'medical-records-service',
    batchSize: 20,
    // The draft waits for the doctor, who opens it after the appointment ends: the default 1 s window is
    // not seen, and lets the records of a busy moment share an invocation.
  },
] as const satisfies readonly ConsumerDefinition[]);

/**
 * An MSK event-source mapping reads ONE topic (the Lambda API's `Topics` holds exactly one item), and its
 * consumer group id "must be unique among all your Kafka event sources"
 * (https://docs.aws.amazon.com/lambda/latest/dg/kafka-consumer-group-id.html). A consumer reading several
 * topics therefore gets one mapping per topic, each in the group `<groupId>.<topic>`.
 */
export const esmConsumerGroupId = (consumer: Pick<ConsumerDefinition, 'groupId'>, topic: string): string =>
  `${consumer.groupId}.${topic}`;

export type ConsumerName = (typeof CONSUMERS)[number]['name'];

export const consumerByName = (name: string): ConsumerDefinition | undefined =>
  CONSUMERS.find((c) => c.name === name);
