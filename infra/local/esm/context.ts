import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { localFunctionArn, localFunctionName } from './source.ts';

/**
 * A Lambda-like context for an in-process invocation: the names and ARN the function would have, a fresh
 * request id, and `getRemainingTimeInMillis()` counting down from the function's timeout.
 */
export const lambdaContext = (
  fn: { name: string; timeoutSeconds: number; memoryMb: number },
  now: () => number = Date.now,
): Context => {
  const deadline = now() + fn.timeoutSeconds * 1000;
  const functionName = localFunctionName(fn.name);
  const awsRequestId = randomUUID();
  const unsupported = () => {
    throw new Error('Callback-style completion is not supported; return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: localFunctionArn(fn.name),
    memoryLimitInMB: String(fn.memoryMb),
    awsRequestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/[$LATEST]${awsRequestId.replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
};
