import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { localFunctionArn, localFunctionName } from './source.ts';

/**
 * A Lambda-like context for a local invocation: the names and ARN the function would have, a fresh request
 * id, and `getRemainingTimeInMillis()` counting down from the function's timeout (or to `deadline`, an epoch
 * in milliseconds, when the invocation started elsewhere: the sandbox passes the one its timer uses).
 */
export const lambdaContext = (
  fn: { name: string; timeoutSeconds: number; memoryMb: number },
  now: () => number = Date.now,
  invocation: { deadline?: number; awsRequestId?: string } = {},
): Context => {
  const deadline = invocation.deadline ?? now() + fn.timeoutSeconds * 1000;
  const functionName = localFunctionName(fn.name);
  const awsRequestId = invocation.awsRequestId ?? randomUUID();
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
