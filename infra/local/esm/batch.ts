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
  /**
   * Partial batch response: in each partition named, the records from the lowest failed offset on are
   * `failing` (retried); every other record of the batch `succeeded`. Both keep the batch's order.
   */
  | { kind: 'partial'; succeeded: RawRecord[]; failing: RawRecord[] }
  /** The function threw or timed out (`Unhandled`). */
  | { kind: 'error'; functionError: 'Unhandled' }
  /** The function returned, but its batchItemFailures names a record that is not in the batch. */
  | { kind: 'invalid-response' };

export interface BatchCallbacks {
  /** Invokes the function once on these records; resolves with its response, rejects on error/timeout. */
  invoke(records: RawRecord[], invocation: number): Promise<unknown>;
  /**
   * These records are done (processed or sent to the on-failure destination): commit, per partition, past
   * the highest offset. Records are always finished in offset order within a partition.
   */
  commit(records: RawRecord[]): Promise<void>;
  /** Sends the on-failure record for these records; the range is committed afterwards. */
  discard(
    records: RawRecord[],
    info: { approximateInvokeCount: number; functionError?: string },
  ): Promise<void>;
  /** Between attempts: back off. Return false to stop (shutdown, partition lost): nothing more is committed. */
  beforeRetry(): Promise<boolean>;
  /**
   * Whether the outcome of an invocation may still be acted on (false once the ESM stops or a partition of
   * the batch is lost): when false, nothing more is committed, discarded or invoked.
   */
  live?(): boolean;
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
 * makes the whole batch a failure. Otherwise each partition named resumes from its lowest failed offset;
 * the partitions not named succeeded (an event may carry several partitions).
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
  /** Lowest failed offset per "topic-partition". */
  const lowest = new Map<string, bigint>();
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
    const found = records.some(
      (r) => partitionKey(r.topic, r.partition) === partition && r.offset === offsetText,
    );
    if (!found) return { kind: 'invalid-response' };
    const value = BigInt(offsetText);
    const before = lowest.get(partition);
    if (before === undefined || value < before) lowest.set(partition, value);
  }
  const succeeded: RawRecord[] = [];
  const failing: RawRecord[] = [];
  for (const record of records) {
    const from = lowest.get(partitionKey(record.topic, record.partition));
    (from !== undefined && BigInt(record.offset) >= from ? failing : succeeded).push(record);
  }
  return { kind: 'partial', succeeded, failing };
};

/** A range still to run, with what it has used of the retry budget. */
interface Attempt {
  records: RawRecord[];
  /** Retries used: invocations of this same range (or of the range it was split from) after a failure. */
  retries: number;
  /** Invocations that carried these records so far (approximateInvokeCount). */
  invokes: number;
}

/**
 * Runs one batch (one event's records, of one or several partitions) to completion, as the ESM does:
 *  - success commits the batch; a partial response commits what succeeded and retries, in each partition
 *    named, from its lowest failed offset;
 *  - a function error with BisectBatchOnFunctionError on splits the failing range in two (left half first,
 *    so each partition keeps its order). Splitting is not a retry: "Splitting a batch does not count towards
 *    the retry quota" (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html#services-kinesis-errors);
 *    the halves carry on with the retries their range had used;
 *  - a function error on a single record (or with bisection off), or an invalid partial response, retries
 *    the same range: that counts as a retry;
 *  - when a failure leaves no retries, only the failing range goes to the on-failure destination, is
 *    committed, and the rest of the batch (the other half, later records) goes on being processed.
 * See docs/esm-emulator.md for what is documented by AWS and what is inferred.
 */
export const runBatch = async (
  records: RawRecord[],
  policy: BatchPolicy,
  callbacks: BatchCallbacks,
): Promise<BatchReport> => {
  const pending: Attempt[] = [{ records, retries: 0, invokes: 0 }];
  let invocations = 0;
  let discarded = 0;
  while (pending.length > 0) {
    const current = pending.shift() as Attempt;
    invocations += 1;
    const invokes = current.invokes + 1;
    let result: InvocationResult;
    try {
      result = readResponse(
        await callbacks.invoke(current.records, invocations),
        current.records,
        policy.reportBatchItemFailures,
      );
    } catch {
      result = { kind: 'error', functionError: 'Unhandled' };
    }
    callbacks.onResult?.(current.records, result, invocations);
    // A sandbox stopped by a shutdown is not a function error to retry or dead-letter.
    if (callbacks.live && !callbacks.live()) return { invocations, discarded, stopped: true };
    if (result.kind === 'success') {
      await callbacks.commit(current.records);
      continue;
    }
    let failing = current.records;
    if (result.kind === 'partial') {
      if (result.succeeded.length > 0) await callbacks.commit(result.succeeded);
      failing = result.failing;
    }
    if (result.kind === 'error' && policy.bisectBatchOnError && failing.length > 1) {
      const half = Math.ceil(failing.length / 2);
      pending.unshift(
        { records: failing.slice(0, half), retries: current.retries, invokes },
        { records: failing.slice(half), retries: current.retries, invokes },
      );
    } else if (current.retries >= policy.retryAttempts) {
      await callbacks.discard(failing, {
        approximateInvokeCount: invokes,
        ...(result.kind === 'error' ? { functionError: result.functionError } : {}),
      });
      await callbacks.commit(failing);
      discarded += failing.length;
      continue;
    } else {
      pending.unshift({ records: failing, retries: current.retries + 1, invokes });
    }
    if (!(await callbacks.beforeRetry())) return { invocations, discarded, stopped: true };
  }
  return { invocations, discarded, stopped: false };
};
