import type { RawRecord } from '../../../shared/kafka/record.ts';
import { partitionKey } from '../../../shared/lambda/msk-event.ts';

/** The ESM settings that decide what happens after an invocation (from infra/consumers.ts). */
export interface BatchPolicy {
  /** Retries after the first invocation (already capped: see effectiveRetryAttempts). */
  retryAttempts: number;
  bisectBatchOnError: boolean;
  reportBatchItemFailures: boolean;
}

/** What one invocation came to, as the ESM reads it. */
export type InvocationResult =
  | { kind: 'success' }
  /** Partial batch response: records from index `from` (the lowest failed offset) on are retried. */
  | { kind: 'partial'; from: number }
  /** The function threw or timed out (`Unhandled`). */
  | { kind: 'error'; functionError: 'Unhandled' }
  /** The function returned, but its batchItemFailures names a record that is not in the batch. */
  | { kind: 'invalid-response' };

export interface BatchCallbacks {
  /** Invokes the function once on these records; resolves with its response, rejects on error/timeout. */
  invoke(records: RawRecord[], invocation: number): Promise<unknown>;
  /** Marks every record up to and including this one as done (commit). */
  commit(last: RawRecord): Promise<void>;
  /** Sends the on-failure record for these records; the range is committed afterwards. */
  discard(
    records: RawRecord[],
    info: { approximateInvokeCount: number; functionError?: string },
  ): Promise<void>;
  /** Between attempts: heartbeat and back off. Return false to stop (shutdown): nothing more is committed. */
  beforeRetry(retry: number): Promise<boolean>;
  /** Told the outcome of every invocation (logs, demo, tests). */
  onResult?(records: RawRecord[], result: InvocationResult, invocation: number): void;
}

export interface BatchReport {
  invocations: number;
  /** Records handed to the on-failure destination. */
  discarded: number;
  /** True when a shutdown stopped the batch before it finished (its remaining records are not committed). */
  stopped: boolean;
}

/**
 * Reads a function response the way the ESM does when ReportBatchItemFailures is on
 * (https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html, and the stream rules it
 * follows: https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html).
 * A null/empty response or list is a full success. Each identifier must be `{ partition: "topic-partition",
 * offset }` naming a record of this batch; anything else (null, empty, bad key, a record not in the batch)
 * makes the whole batch a failure. Otherwise processing resumes from the lowest failed offset.
 */
export const readResponse = (
  response: unknown,
  records: RawRecord[],
  reportBatchItemFailures: boolean,
): InvocationResult => {
  if (!reportBatchItemFailures || response === null || typeof response !== 'object')
    return { kind: 'success' };
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) return { kind: 'invalid-response' };
  if (failures.length === 0) return { kind: 'success' };
  let from = Number.POSITIVE_INFINITY;
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (id === null || typeof id !== 'object') return { kind: 'invalid-response' };
    const { partition, offset } = id as { partition?: unknown; offset?: unknown };
    const offsetText =
      typeof offset === 'number' && Number.isSafeInteger(offset)
        ? String(offset)
        : typeof offset === 'string' && /^\d+$/.test(offset)
          ? offset
          : undefined;
    if (typeof partition !== 'string' || offsetText === undefined) return { kind: 'invalid-response' };
    const index = records.findIndex(
      (r) => partitionKey(r.topic, r.partition) === partition && r.offset === offsetText,
    );
    if (index < 0) return { kind: 'invalid-response' };
    from = Math.min(from, index);
  }
  return { kind: 'partial', from };
};

/**
 * Runs one batch of one partition to completion, as the MSK ESM does:
 *  - success commits the batch; a partial response commits what precedes the lowest failed offset and
 *    retries from there;
 *  - a function error retries, bisecting the failing range first when BisectBatchOnFunctionError is on
 *    (halves are retried in order, the left one first);
 *  - an invalid partial response retries the whole range (no bisection: the function did not error);
 *  - every invocation after the first failure is a retry of this batch; when a failure leaves no retries,
 *    everything not yet processed (from the failing range to the end of the batch) goes to the on-failure
 *    destination as one record, is committed, and consumption moves on.
 * See docs/esm-emulator.md for what is documented by AWS and what is inferred.
 */
export const runBatch = async (
  records: RawRecord[],
  policy: BatchPolicy,
  callbacks: BatchCallbacks,
): Promise<BatchReport> => {
  const pending: RawRecord[][] = [records];
  let invocations = 0;
  while (pending.length > 0) {
    const current = pending.shift() as RawRecord[];
    invocations += 1;
    let result: InvocationResult;
    try {
      result = readResponse(
        await callbacks.invoke(current, invocations),
        current,
        policy.reportBatchItemFailures,
      );
    } catch {
      result = { kind: 'error', functionError: 'Unhandled' };
    }
    callbacks.onResult?.(current, result, invocations);
    if (result.kind === 'success') {
      await callbacks.commit(current[current.length - 1] as RawRecord);
      continue;
    }
    let failing = current;
    if (result.kind === 'partial') {
      if (result.from > 0) await callbacks.commit(current[result.from - 1] as RawRecord);
      failing = current.slice(result.from);
    }
    const retriesUsed = invocations - 1;
    if (retriesUsed >= policy.retryAttempts) {
      const rest = [...failing, ...pending.flat()];
      await callbacks.discard(rest, {
        approximateInvokeCount: invocations,
        ...(result.kind === 'error' ? { functionError: result.functionError } : {}),
      });
      await callbacks.commit(rest[rest.length - 1] as RawRecord);
      return { invocations, discarded: rest.length, stopped: false };
    }
    if (result.kind === 'error' && policy.bisectBatchOnError && failing.length > 1) {
      const half = Math.ceil(failing.length / 2);
      pending.unshift(failing.slice(0, half), failing.slice(half));
    } else {
      pending.unshift(failing);
    }
    if (!(await callbacks.beforeRetry(retriesUsed + 1))) return { invocations, discarded: 0, stopped: true };
  }
  return { invocations, discarded: 0, stopped: false };
};
