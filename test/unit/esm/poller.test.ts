import { describe, expect, it } from 'vitest';
import { Poller, type PollerOptions, recordBytes } from '../../../infra/local/esm/poller.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';

const rec = (partition: number, offset: number, bytes = 1): RawRecord => ({
  topic: 't',
  partition,
  offset: String(offset),
  timestamp: '0',
  key: null,
  value: Buffer.alloc(bytes),
  headers: {},
});
const ref = (r: RawRecord) => `${r.partition}:${r.offset}`;

/** A poller whose batches finish when the test says so; the clock is the test's. */
const setUp = (options: Partial<PollerOptions> = {}) => {
  let time = 0;
  const batches: { refs: string[]; done(): void }[] = [];
  const paused: string[] = [];
  const poller = new Poller({
    batchSize: 3,
    windowMs: 1_000,
    concurrency: 2,
    now: () => time,
    run: (records) =>
      new Promise<void>((done) => {
        batches.push({ refs: records.map(ref), done });
      }),
    pause: (tp) => void paused.push(`pause ${tp.partition}`),
    resume: (tp) => void paused.push(`resume ${tp.partition}`),
    seek: () => undefined,
    ...options,
  });
  return {
    poller,
    batches,
    paused,
    advance(ms: number) {
      time += ms;
    },
  };
};

describe('Poller (the ESM batching rules)', () => {
  it('invokes as soon as batchSize records are ready, without waiting for the window', () => {
    const { poller, batches } = setUp();
    poller.add([rec(0, 0), rec(0, 1)]);
    expect(batches).toHaveLength(0);
    poller.add([rec(0, 2), rec(0, 3)]);
    expect(batches.map((b) => b.refs)).toEqual([['0:0', '0:1', '0:2']]);
  });

  it('invokes as soon as the payload reaches the size limit, with no more than the limit per event', () => {
    const size = recordBytes(rec(0, 0, 100));
    const { poller, batches } = setUp({ batchSize: 100, maxBytes: size * 2 + 1 });
    poller.add([rec(0, 0, 100), rec(0, 1, 100)]);
    expect(batches).toHaveLength(0);
    poller.add([rec(0, 2, 100)]);
    expect(batches.map((b) => b.refs)).toEqual([['0:0', '0:1']]);
  });

  it('invokes a smaller batch once its oldest record has waited the window', async () => {
    const { poller, batches } = setUp({ windowMs: 20, now: Date.now });
    poller.add([rec(0, 0)]);
    expect(batches).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 60));
    expect(batches.map((b) => b.refs)).toEqual([['0:0']]);
    batches[0]?.done();
    await poller.stop();
  });

  it('gathers the partitions that are ready together into one batch, oldest first', () => {
    const { poller, batches, advance } = setUp({ batchSize: 10 });
    poller.add([rec(1, 7)]);
    advance(10);
    poller.add([rec(0, 0), rec(0, 1)]);
    advance(1_000);
    poller.add([rec(2, 3)]);
    expect(batches.map((b) => b.refs)).toEqual([['1:7', '0:0', '0:1', '2:3']]);
  });

  it('keeps one batch in flight per partition; later records of that partition wait for it', async () => {
    const { poller, batches } = setUp({ batchSize: 2 });
    poller.add([rec(0, 0), rec(0, 1)]);
    poller.add([rec(0, 2), rec(0, 3)]);
    poller.add([rec(1, 0), rec(1, 1)]);
    expect(batches.map((b) => b.refs)).toEqual([
      ['0:0', '0:1'],
      ['1:0', '1:1'],
    ]);
    batches[0]?.done();
    await new Promise((r) => setImmediate(r));
    expect(batches.map((b) => b.refs)[2]).toEqual(['0:2', '0:3']);
  });

  it('pauses a partition holding a full batch and resumes it once drained; drops re-fetched records', async () => {
    const { poller, batches, paused } = setUp({ batchSize: 2, concurrency: 1 });
    poller.add([rec(0, 0), rec(0, 1)]);
    poller.add([rec(0, 2), rec(0, 3), rec(0, 4)]);
    expect(paused).toEqual(['pause 0']);
    // A re-fetch after a rebalance brings records already held.
    poller.add([rec(0, 1), rec(0, 2), rec(0, 3), rec(0, 4)]);
    batches[0]?.done();
    await new Promise((r) => setImmediate(r));
    batches[1]?.done();
    await new Promise((r) => setImmediate(r));
    expect(batches.map((b) => b.refs)).toEqual([
      ['0:0', '0:1'],
      ['0:2', '0:3'],
    ]);
    expect(poller.waiting).toBe(1);
    expect(paused).toEqual(['pause 0', 'resume 0']);
    await poller.stop();
  });

  it('forgets the partitions lost in a rebalance', () => {
    const { poller, batches } = setUp({ batchSize: 10 });
    poller.add([rec(0, 0)]);
    poller.add([rec(1, 0)]);
    poller.assigned({ t: [1] });
    expect(poller.owns('t', 0)).toBe(false);
    expect(poller.owns('t', 1)).toBe(true);
    expect(poller.waiting).toBe(1);
    expect(batches).toHaveLength(0);
  });
});
