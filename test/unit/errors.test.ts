import { describe, expect, it } from 'vitest';
import { EventBusError, isTransient, PermanentError } from '../../shared/errors.ts';

/** Errors shaped as the AWS SDK v3 and kafkajs throw them (name, $fault, $metadata, retriable, code). */
const aws = (name: string, status: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(name), {
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    ...extra,
  });
const kafkajs = (name: string, retriable: boolean, cause?: unknown) =>
  Object.assign(new Error(name), { name, retriable, ...(cause ? { cause } : {}) });
const network = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

describe('isTransient', () => {
  it.each([
    ['a retryable EventBusError', new EventBusError('STORE_CONTENTION', 'x', { retryable: true }), true],
    ['a non-retryable EventBusError', new EventBusError('VALIDATION_FAILED', 'x'), false],
    ['a PermanentError', new PermanentError('x'), false],
    ['DynamoDB throttling (400)', aws('ProvisionedThroughputExceededException', 400), true],
    [
      'SES throttling via $retryable',
      aws('TooManyRequestsException', 429, { $retryable: { throttling: true } }),
      true,
    ],
    ['a 500 InternalServerError', aws('InternalServerError', 500), true],
    ['a 503 ServiceUnavailable', aws('ServiceUnavailable', 503), true],
    ['a missing table (400)', aws('ResourceNotFoundException', 400), false],
    ['a validation error (400)', aws('ValidationException', 400), false],
    ['access denied (403)', aws('AccessDeniedException', 403), false],
    ['connection refused', network('ECONNREFUSED'), true],
    ['connection reset', network('ECONNRESET'), true],
    ['DNS failure', network('ENOTFOUND'), true],
    [
      'fetch failed with a network cause',
      new TypeError('fetch failed', { cause: network('ECONNREFUSED') }),
      true,
    ],
    ['a TypeError (a bug)', new TypeError("Cannot read properties of undefined (reading 'id')"), false],
    ['kafkajs: leader not available (retriable)', kafkajs('KafkaJSProtocolError', true), true],
    ['kafkajs: message too large (not retriable)', kafkajs('KafkaJSProtocolError', false), false],
    [
      'kafkajs: retries exceeded on a connection error',
      kafkajs('KafkaJSNumberOfRetriesExceeded', false, kafkajs('KafkaJSConnectionError', true)),
      true,
    ],
    ['an unknown Error', new Error('something odd'), true],
  ])('%s → transient: %s', (_label, error, expected) => {
    expect(isTransient(error)).toBe(expected);
    expect(EventBusError.isRetryable(error)).toBe(expected);
  });
});
