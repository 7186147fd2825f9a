import { describe, expect, it } from 'vitest';
import {
  type BatchPolicy,
  type InvocationResult,
  readResponse,
  runBatch,
} from '../../../infra/local/esm/batch.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';

const rec = (partition: number, offset: number, value = 'ok'): RawRecord => ({
  topic: 't',
  partition,
  offset: String(offset),
  timestamp: '0',
  key: null,
  value: Buffer.from(value),
  headers: {},
});
const ref = (r: RawRecord) => `${r.partition}:${r.offset}`;
const policy = (p: Partial<BatchPolicy> = {}): BatchPolicy => ({
  retryAttempts: 2,
  bisectBatchOnError: true,
  reportBatchItemFailures: true,
  ...p,
});

/** Runs a batch against a fake function; records what the ESM did. */
const run = async (
  records: RawRecord[],
  p: BatchPolicy,
  fn: (records: RawRecord[], invocation: number) => unknown,
) => {
  const invocations: string[][] = [];
  const commits: string[][] = [];
  const discards: { records: string[]; approximateInvokeCount: number; functionError?: string }[] = [];
  const results: InvocationResult['kind'][] = [];
  const report = await runBatch(records, p, {
    invoke: async (rs, n) => {
      invocations.push(rs.map(ref));
      return fn(rs, n);
    },
    commit: async (rs) => void commits.push(rs.map(ref)),
    discard: async (rs, info) => void discards.push({ records: rs.map(ref), ...info }),
    beforeRetry: async () => true,
    onResult: (_rs, result) => void results.push(result.kind),
  });
  return { report, invocations, commits, discards, results };
};

const failIfBad = (rs: RawRecord[]) => {
  if (rs.some((r) => r.value?.toString() === 'bad')) throw new Error('bad record');
};

describe('runBatch: bisection and the retry budget', () => {
  it('splits without counting a retry and sends only the failing record to the on-failure destination', async () => {
    // Prepare
    const records = [rec(0, 0), rec(0, 1), rec(0, 2, 'bad'), rec(0, 3)];
    // Act
    const out = await run(records, policy({ retryAttempts: 1 }), failIfBad);
    // Assess: [0-3] and [2,3] are splits; [2] alone is tried once and retried once.
    expect(out.invocations).toEqual([
      ['0:0', '0:1', '0:2', '0:3'],
      ['0:0', '0:1'],
      ['0:2', '0:3'],
      ['0:2'],
      ['0:2'],
      ['0:3'],
    ]);
    expect(out.discards).toEqual([
      { records: ['0:2'], approximateInvokeCount: 4, functionError: 'Unhandled' },
    ]);
    expect(out.commits).toEqual([['0:0', '0:1'], ['0:2'], ['0:3']]);
    expect(out.report).toEqual({ invocations: 6, discarded: 1, stopped: false });
  });

  it('still splits with no retries configured', async () => {
    const out = await run([rec(0, 0, 'bad'), rec(0, 1)], policy({ retryAttempts: 0 }), failIfBad);
    expect(out.invocations).toEqual([['0:0', '0:1'], ['0:0'], ['0:1']]);
    expect(out.discards.map((d) => d.records)).toEqual([['0:0']]);
  });

  it('spends one retry per repeated invocation of the same range when bisection is off', async () => {
    const out = await run([rec(0, 0, 'bad'), rec(0, 1)], policy({ bisectBatchOnError: false }), failIfBad);
    expect(out.invocations).toHaveLength(3);
    expect(out.discards).toEqual([
      { records: ['0:0', '0:1'], approximateInvokeCount: 3, functionError: 'Unhandled' },
    ]);
  });

  it('retries the failing tail of a partial response (a retry, no split) and discards it without functionError', async () => {
    const out = await run([rec(0, 0), rec(0, 1), rec(0, 2)], policy({ retryAttempts: 1 }), () => ({
      batchItemFailures: [{ itemIdentifier: { partition: 't-0', offset: 1 } }],
    }));
    expect(out.invocations).toEqual([
      ['0:0', '0:1', '0:2'],
      ['0:1', '0:2'],
    ]);
    expect(out.commits).toEqual([['0:0'], ['0:1', '0:2']]);
    expect(out.discards).toEqual([{ records: ['0:1', '0:2'], approximateInvokeCount: 2 }]);
  });
});

describe('runBatch: events of several partitions', () => {
  it('resumes each failed partition from its own lowest failed offset and commits the others', async () => {
    // Prepare
    const records = [rec(0, 5), rec(0, 6), rec(1, 0), rec(1, 1), rec(2, 9)];
    // Act
    const out = await run(records, policy(), (_rs, n) =>
      n === 1
        ? {
            batchItemFailures: [
              { itemIdentifier: { partition: 't-1', offset: 1 } },
              { itemIdentifier: { partition: 't-0', offset: 6 } },
            ],
          }
        : null,
    );
    // Assess
    expect(out.invocations).toEqual([
      ['0:5', '0:6', '1:0', '1:1', '2:9'],
      ['0:6', '1:1'],
    ]);
    expect(out.commits).toEqual([
      ['0:5', '1:0', '2:9'],
      ['0:6', '1:1'],
    ]);
  });

  it('bisects a multi-partition batch keeping each partition in offset order', async () => {
    const records = [rec(0, 0), rec(0, 1), rec(0, 2), rec(1, 0, 'bad')];
    const out = await run(records, policy({ retryAttempts: 0 }), failIfBad);
    expect(out.invocations).toEqual([
      ['0:0', '0:1', '0:2', '1:0'],
      ['0:0', '0:1'],
      ['0:2', '1:0'],
      ['0:2'],
      ['1:0'],
    ]);
    expect(out.commits.flat()).toEqual(['0:0', '0:1', '0:2', '1:0']);
    expect(out.discards.map((d) => d.records)).toEqual([['1:0']]);
  });

  it('reads a partial response naming a record of another partition of the batch as partial, not invalid', () => {
    const result = readResponse(
      { batchItemFailures: [{ itemIdentifier: { partition: 't-1', offset: '0' } }] },
      [rec(0, 0), rec(1, 0)],
      true,
    );
    expect(result).toMatchObject({ kind: 'partial' });
    if (result.kind !== 'partial') return;
    expect(result.succeeded.map(ref)).toEqual(['0:0']);
    expect(result.failing.map(ref)).toEqual(['1:0']);
  });
});

describe('runBatch: stopping', () => {
  it('neither commits, retries nor dead-letters an invocation that failed because the ESM is stopping', async () => {
    let live = true;
    const commits: string[][] = [];
    const discards: string[][] = [];
    const report = await runBatch([rec(0, 0), rec(0, 1)], policy({ retryAttempts: 0 }), {
      invoke: async () => {
        live = false; // the shutdown stops the sandbox mid-invocation
        throw new Error('The sandbox exited');
      },
      live: () => live,
      commit: async (rs) => void commits.push(rs.map(ref)),
      discard: async (rs) => void discards.push(rs.map(ref)),
      beforeRetry: async () => true,
    });
    expect(report).toEqual({ invocations: 1, discarded: 0, stopped: true });
    expect(commits).toEqual([]);
    expect(discards).toEqual([]);
  });
});
