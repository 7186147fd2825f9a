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

  static isRetryable(error: unknown): boolean {
    if (error instanceof EventBusError) return error.retryable;
    // Unknown errors (network, throttling, a downstream 5xx) are presumed transient; permanent ones
    // must say so by being an EventBusError with retryable=false or a PermanentError.
    return !(error instanceof PermanentError);
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
