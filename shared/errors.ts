import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';

/**
 * One base error for the whole bus. Every subclass sets `name`, a closed `code` and whether a retry can
 * help (`retryable`), and keeps the `cause`. Messages never carry payload values (health data): they
 * name fields, topics and offsets only.
 */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'UNKNOWN_TOPIC'
  | 'UNKNOWN_EVENT_TYPE'
  | 'MALFORMED_RECORD'
  | 'HANDLER_FAILED'
  | 'NO_HANDLER'
  | 'RETRIES_EXHAUSTED'
  | 'PRODUCER_CLOSED'
  | 'CONFIG_INVALID'
  | 'KAFKA_UNAVAILABLE'
  | 'STORE_CONTENTION';

export class EventBusError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EventBusError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }

  /** Whether a retry can help: see `isTransient`. */
  static isRetryable(error: unknown): boolean {
    return isTransient(error);
  }
}

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `actor.type` or `medications.0.name`. */
  path: string;
  /** What is wrong, without the value. */
  message: string;
}

/** A payload or record does not match the catalog. Lists every bad field path; never retryable. */
export class EventValidationError extends EventBusError {
  readonly topic: string;
  readonly issues: FieldIssue[];

  constructor(
    topic: string,
    issues: FieldIssue[],
    options: { cause?: unknown; code?: 'VALIDATION_FAILED' | 'UNKNOWN_EVENT_TYPE' } = {},
  ) {
    const list = issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
    super(options.code ?? 'VALIDATION_FAILED', `Invalid event for ${topic}: ${list}`, {
      retryable: false,
      cause: options.cause,
    });
    this.name = 'EventValidationError';
    this.topic = topic;
    this.issues = issues;
  }
}

/** A topic that is not in the catalog. */
export class UnknownTopicError extends EventBusError {
  readonly topic: string;
  constructor(topic: string) {
    super('UNKNOWN_TOPIC', `Topic "${topic}" is not in the event catalog`);
    this.name = 'UnknownTopicError';
    this.topic = topic;
  }
}

/** Record bytes that cannot be decoded (null value, not UTF-8, not JSON, too large). */
export class MalformedRecordError extends EventBusError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('MALFORMED_RECORD', message, { retryable: false, ...options });
    this.name = 'MalformedRecordError';
  }
}

/** Thrown by handlers for failures that no retry can fix (the record is dead-lettered at once). */
export class PermanentError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PermanentError';
  }
}

export class ConfigError extends EventBusError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('CONFIG_INVALID', message, { retryable: false, ...options });
    this.name = 'ConfigError';
  }
}

/** The class name and code of an error, safe to log. */
export const describeError = (error: unknown): { errorClass: string; errorCode?: string } => {
  if (error instanceof EventBusError) return { errorClass: error.name, errorCode: error.code };
  if (error instanceof Error) return { errorClass: error.name };
  return { errorClass: typeof error };
};

type Classifiable = Error & {
  retriable?: unknown;
  code?: unknown;
  cause?: unknown;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
};

/**
 * Whether an error can clear by itself (transient: retry, keep the record's place) or never will (permanent:
 * dead-letter it). The error's own word first:
 * - an EventBusError's `retryable`; a PermanentError is permanent;
 * - kafkajs errors carry `retriable` (KafkaJSNumberOfRetriesExceeded is judged by the error it gave up on);
 * - AWS SDK errors, by the SDK's own classification (@smithy/core/retry): throttling, `$retryable`,
 *   5xx, timeouts and network errors (ECONNREFUSED, ECONNRESET, ENOTFOUND, ...) anywhere in the cause chain
 *   are transient; any other service error (a 4xx: validation, missing table, access denied) is permanent;
 * - a programming error (TypeError, ReferenceError, SyntaxError, RangeError) without a network cause is
 *   permanent: no retry fixes the code;
 * - anything else is presumed transient, bounded by the retry budget of the path it is on.
 */
export const isTransient = (error: unknown, depth = 0): boolean => {
  if (error instanceof EventBusError) return error.retryable;
  if (error instanceof PermanentError) return false;
  if (!error || typeof error !== 'object') return true;
  const e = error as Classifiable;
  if (typeof e.name === 'string' && e.name.startsWith('KafkaJS')) {
    if (e.name === 'KafkaJSNumberOfRetriesExceeded' && e.cause && depth < 5)
      return isTransient(e.cause, depth + 1);
    if (typeof e.retriable === 'boolean') return e.retriable;
  }
  const sdk = e as unknown as Parameters<typeof isTransientError>[0];
  if (isThrottlingError(sdk) || isTransientError(sdk) || isServerError(sdk)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (e.$fault === 'client' || (status !== undefined && status >= 400 && status < 500)) return false;
  if (e.$fault === 'server') return true;
  if (
    error instanceof TypeError ||
    error instanceof ReferenceError ||
    error instanceof SyntaxError ||
    error instanceof RangeError
  )
    return false;
  return true;
};
