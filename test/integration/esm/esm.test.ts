import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LambdaHandler, loadHandler, startEsm } from '../../../infra/local/esm/emulator.ts';
import { REPO_ROOT } from '../../../infra/local/kafka/jvm.ts';
import type { MskEvent } from '../../../shared/lambda/msk-event.ts';
import { type EsmCase, type EsmHarness, eventually, newCase, offsetsOf, startHarness } from './harness.ts';

const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/aws', name), 'utf8')) as T;

const fail = () => {
  throw new Error('function failed');
};

/** Every key path of a JSON value (arrays collapse to `[]`), to compare shapes field for field. */
const shape = (value: unknown, prefix = ''): string[] => {
  if (Array.isArray(value)) return [`${prefix}[]`, ...value.flatMap((v) => shape(v, `${prefix}[]`))];
  if (value !== null && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => [
      `${prefix}.${k}:${typeof v}`,
      ...shape(v, `${prefix}.${k}`),
    ]);
  return [];
};
const uniq = (xs: string[]) => [...new Set(xs)].sort();

/**
 * The local ESM emulator against the real broker and a real SQS (ElasticMQ): one test per behaviour AWS
 * documents for the MSK event-source mapping (docs/esm-emulator.md lists them with their sources).
 */
describe('ESM emulator', () => {
  let h: EsmHarness;
  let c: EsmCase | undefined;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('builds events field for field as AWS documents them', async () => {
    // Prepare
    c = await newCase(h);
    await c.produce(['{"hello":"msk"}']);
    const events: MskEvent[] = [];
    // Act
    await c.start({ handler: (event) => void events.push(event) });
    const event = await eventually(() => events[0], 'an invocation');
    // Assess
    const documented = fixture<MskEvent>('msk-event.json');
    // Compare shapes under AWS's names: its topic-partition key and header name are examples.
    const rename = (e: MskEvent) => ({
      ...e,
      records: {
        'mytopic-0': Object.values(e.records)[0]?.map((r) => ({
          ...r,
          headers: r.headers.map((header) => ({ headerKey: Object.values(header)[0] })),
        })),
      },
    });
    expect(uniq(shape(rename(event)))).toEqual(uniq(shape(documented)));
    expect(event.eventSource).toBe('aws:kafka');
    expect(event.eventSourceArn).toMatch(/^arn:aws:kafka:[a-z0-9-]+:\d{12}:cluster\/[\w-]+\/[0-9a-f-]+-\d+$/);
    expect(event.bootstrapServers).toBe(h.brokers.join(','));
    expect(Object.keys(event.records)).toEqual([`${c.topic}-0`]);
    const [record] = event.records[`${c.topic}-0`] ?? [];
    expect(record).toMatchObject({ topic: c.topic, partition: 0, offset: 0, timestampType: 'CREATE_TIME' });
    expect(Buffer.from(record?.key ?? '', 'base64').toString()).toBe('k0');
    expect(Buffer.from(record?.value ?? '', 'base64').toString()).toBe('{"hello":"msk"}');
    expect(record?.headers).toEqual([{ 'event-type': [...Buffer.from('test')] }, { trace: [0, 1, 255] }]);
  });

  it('invokes with at most batchSize records', async () => {
    // Prepare
    c = await newCase(h, { batchSize: 3 });
    await c.produce(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    const sizes: number[] = [];
    // Act
    await c.start({ handler: (event) => void sizes.push(offsetsOf(event).length) });
    await eventually(async () => (await c?.committed()) === '7', 'all seven committed');
    // Assess
    expect(sizes).toEqual([3, 3, 1]);
  });

  it('keeps at most one batch in flight per partition, in offset order', async () => {
    // Prepare
    c = await newCase(h, { batchSize: 2 }, 3);
    for (const p of [0, 1, 2]) await c.produce(['a', 'b', 'c', 'd'], p);
    const inFlight = new Map<string, number>();
    const maxInFlight = new Map<string, number>();
    const seen = new Map<string, number[]>();
    // Act
    await c.start({
      handler: async (event) => {
        const keys = Object.keys(event.records);
        for (const key of keys) {
          inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
          maxInFlight.set(key, Math.max(maxInFlight.get(key) ?? 0, inFlight.get(key) ?? 0));
          seen.set(key, [...(seen.get(key) ?? []), ...(event.records[key] ?? []).map((r) => r.offset)]);
        }
        await new Promise((r) => setTimeout(r, 50));
        for (const key of keys) inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
      },
    });
    for (const p of [0, 1, 2])
      await eventually(async () => (await c?.committed(p)) === '4', `partition ${p}`);
    // Assess
    expect([...maxInFlight.values()]).toEqual([1, 1, 1]);
    for (const offsets of seen.values()) expect(offsets).toEqual([0, 1, 2, 3]);
  });

  it('commits offsets only after the invocation succeeds', async () => {
    // Prepare
    c = await newCase(h);
    await c.produce(['a', 'b']);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let invoked = false;
    // Act
    await c.start({
      handler: async () => {
        invoked = true;
        await gate;
      },
    });
    await eventually(() => invoked, 'the invocation');
    const whileRunning = await c.committed();
    release();
    // Assess
    expect(whileRunning).toBeUndefined();
    await eventually(async () => (await c?.committed()) === '2', 'the commit after success');
  });

  it('bisects without spending retries, then sends only the failing record to the on-failure destination', async () => {
    // Prepare: one bad record among good ones; splitting is not a retry, the good records are processed.
    c = await newCase(h, { batchSize: 4, retryAttempts: 2, bisectBatchOnError: true });
    // A value no random id can contain (a requestId's hex once held "bad").
    const bad = 'poison-value';
    await c.produce(['ok', bad, 'ok', 'ok']);
    const invocations: number[][] = [];
    const processed: number[] = [];
    // Act
    await c.start({
      handler: (event) => {
        invocations.push(offsetsOf(event));
        const records = Object.values(event.records).flat();
        if (records.some((r) => Buffer.from(r.value ?? '', 'base64').toString() === bad)) fail();
        processed.push(...records.map((r) => r.offset));
      },
    });
    await eventually(async () => (await c?.committed()) === '4', 'the batch finished');
    await c.produce(['ok']);
    await eventually(async () => (await c?.committed()) === '5', 'the next record processed');
    // Assess: [0-3] and [0,1] are split (no retry used); [1] alone is tried 1 + 2 retries.
    expect(invocations).toEqual([[0, 1, 2, 3], [0, 1], [0], [1], [1], [1], [2, 3], [4]]);
    expect(processed).toEqual([0, 2, 3, 4]);
    const records = await c.onFailureRecords();
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(uniq(shape(record).filter((p) => !p.includes('recordsInfo.')))).toEqual(
      uniq(shape(fixture('on-failure-sqs.json')).filter((p) => !p.includes('recordsInfo.'))),
    );
    expect(record).toMatchObject({
      requestContext: {
        functionArn: expect.stringMatching(/^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:esante-local-audit$/),
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 5,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      KafkaBatchInfo: {
        batchSize: 1,
        eventSourceArn: expect.stringMatching(/^arn:aws:kafka:/),
        bootstrapServers: h.brokers.join(','),
        recordsInfo: {
          [`${c.topic}-0`]: {
            firstRecordOffset: '1',
            lastRecordOffset: '1',
            firstRecordTimestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
            lastRecordTimestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
          },
        },
      },
    });
    expect(record).not.toHaveProperty('payload');
    expect(JSON.stringify(record)).not.toContain(bad);
  });

  it('retries the whole batch when bisection is off', async () => {
    // Prepare
    c = await newCase(h, { batchSize: 4, retryAttempts: 2, bisectBatchOnError: false });
    await c.produce(['a', 'b', 'c']);
    const invocations: number[][] = [];
    // Act
    await c.start({
      handler: (event) => {
        invocations.push(offsetsOf(event));
        fail();
      },
    });
    await eventually(async () => (await c?.committed()) === '3', 'the discarded batch committed');
    // Assess
    expect(invocations).toEqual([
      [0, 1, 2],
      [0, 1, 2],
      [0, 1, 2],
    ]);
    const records = await c.onFailureRecords();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ requestContext: { approximateInvokeCount: 3 } });
  });

  it('resumes from the lowest failed offset of a partial batch response', async () => {
    // Prepare
    c = await newCase(h, { batchSize: 10 });
    await c.produce(['a', 'b', 'c', 'd', 'e']);
    const invocations: number[][] = [];
    // Act
    await c.start({
      handler: (event) => {
        invocations.push(offsetsOf(event));
        const partition = Object.keys(event.records)[0] as string;
        return invocations.length === 1
          ? { batchItemFailures: [3, 2].map((offset) => ({ itemIdentifier: { partition, offset } })) }
          : { batchItemFailures: [] };
      },
    });
    await eventually(async () => (await c?.committed()) === '5', 'all committed');
    // Assess
    expect(invocations).toEqual([
      [0, 1, 2, 3, 4],
      [2, 3, 4],
    ]);
    expect(await c.onFailureRecords(0)).toHaveLength(0);
  });

  it('retries the whole batch when an identifier names a record that is not in the batch', async () => {
    // Prepare
    c = await newCase(h, { batchSize: 10 });
    await c.produce(['a', 'b', 'c']);
    const invocations: number[][] = [];
    // Act
    await c.start({
      handler: (event) => {
        invocations.push(offsetsOf(event));
        const partition = Object.keys(event.records)[0] as string;
        return invocations.length === 1
          ? { batchItemFailures: [{ itemIdentifier: { partition, offset: 99 } }] }
          : undefined;
      },
    });
    await eventually(async () => (await c?.committed()) === '3', 'all committed');
    // Assess
    expect(invocations).toEqual([
      [0, 1, 2],
      [0, 1, 2],
    ]);
  });

  it('ignores batchItemFailures when ReportBatchItemFailures is off', async () => {
    // Prepare
    c = await newCase(h, { reportBatchItemFailures: false });
    await c.produce(['a', 'b']);
    let invocations = 0;
    // Act
    await c.start({
      handler: (event) => {
        invocations += 1;
        const partition = Object.keys(event.records)[0] as string;
        return { batchItemFailures: [{ itemIdentifier: { partition, offset: 0 } }] };
      },
    });
    await eventually(async () => (await c?.committed()) === '2', 'all committed');
    // Assess
    expect(invocations).toBe(1);
  });

  it('sends the unprocessed tail of a partial response to the on-failure destination when retries run out', async () => {
    // Prepare
    c = await newCase(h, { batchSize: 10, retryAttempts: 1 });
    await c.produce(['a', 'b', 'c', 'd']);
    const invocations: number[][] = [];
    // Act
    await c.start({
      handler: (event) => {
        invocations.push(offsetsOf(event));
        const partition = Object.keys(event.records)[0] as string;
        return { batchItemFailures: [{ itemIdentifier: { partition, offset: 1 } }] };
      },
    });
    await eventually(async () => (await c?.committed()) === '4', 'the tail committed');
    // Assess
    expect(invocations).toEqual([
      [0, 1, 2, 3],
      [1, 2, 3],
    ]);
    const [record, ...more] = await c.onFailureRecords();
    expect(more).toHaveLength(0);
    expect(record).toMatchObject({
      requestContext: { approximateInvokeCount: 2 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      KafkaBatchInfo: {
        batchSize: 3,
        recordsInfo: { [`${c.topic}-0`]: { firstRecordOffset: '1', lastRecordOffset: '3' } },
      },
    });
    expect(record?.responseContext).not.toHaveProperty('functionError');
  });

  it('treats an invocation that outlives the function timeout as a function error', async () => {
    // Prepare
    c = await newCase(h, { timeoutSeconds: 0.2, retryAttempts: 0 });
    await c.produce(['slow']);
    let remainingAtStart = -1;
    // Act
    await c.start({
      handler: async (_event, context) => {
        remainingAtStart = context.getRemainingTimeInMillis();
        await new Promise((r) => setTimeout(r, 1_000));
      },
    });
    await eventually(async () => (await c?.committed()) === '1', 'the discarded record committed');
    // Assess
    expect(remainingAtStart).toBeGreaterThan(0);
    expect(remainingAtStart).toBeLessThanOrEqual(200);
    const records = await c.onFailureRecords();
    expect(records).toMatchObject([{ responseContext: { functionError: 'Unhandled' } }]);
  });

  it('gathers the records of several partitions ready together into one event, and resumes each partition from its own failed offset', async () => {
    // Prepare: three partitions filled before the mapping starts, so one fetch brings them all.
    c = await newCase(h, { batchSize: 100 }, 3);
    for (const p of [0, 1, 2]) await c.produce(['a', 'b', 'c'], p);
    const events: Record<string, number[]>[] = [];
    // Act
    await c.start({
      handler: (event) => {
        events.push(
          Object.fromEntries(Object.entries(event.records).map(([k, rs]) => [k, rs.map((r) => r.offset)])),
        );
        // The first event: partition 1 fails from offset 1; the other partitions succeed.
        if (events.length > 1) return { batchItemFailures: [] };
        return { batchItemFailures: [{ itemIdentifier: { partition: `${c?.topic}-1`, offset: 1 } }] };
      },
    });
    for (const p of [0, 1, 2])
      await eventually(async () => (await c?.committed(p)) === '3', `partition ${p} committed`);
    // Assess
    expect(events[0]).toEqual({
      [`${c.topic}-0`]: [0, 1, 2],
      [`${c.topic}-1`]: [0, 1, 2],
      [`${c.topic}-2`]: [0, 1, 2],
    });
    expect(events.slice(1)).toEqual([{ [`${c.topic}-1`]: [1, 2] }]);
  });

  it('invokes as soon as the batch reaches batchSize, before the batching window ends', async () => {
    // Prepare: a 300 s window (30 s at the test scale), far longer than the wait below.
    c = await newCase(h, { batchSize: 5, maxBatchingWindowSeconds: 300 });
    const sizes: number[] = [];
    await c.start({ handler: (event) => void sizes.push(offsetsOf(event).length) });
    // Act
    await c.produce(['a', 'b', 'c', 'd', 'e', 'f']);
    // Assess: five records invoked at once; the sixth waits for the window.
    await eventually(async () => (await c?.committed()) === '5', 'the full batch committed', 15_000);
    expect(sizes).toEqual([5]);
  });

  it('invokes as soon as the batch reaches 6 MB of payload, with at most 6 MB per event', async () => {
    // Prepare: records of 1 MB (1.33 MB once base64-encoded in the event); a 30 s window at the test scale.
    c = await newCase(h, { batchSize: 100, maxBatchingWindowSeconds: 300 });
    const events: { count: number; bytes: number }[] = [];
    await c.start({
      handler: (event) =>
        void events.push({ count: offsetsOf(event).length, bytes: Buffer.byteLength(JSON.stringify(event)) }),
    });
    // Act
    for (let i = 0; i < 5; i += 1) await c.produce(['x'.repeat(1_000_000)]);
    // Assess
    await eventually(() => events[0], 'an invocation before the window ends', 15_000);
    expect(events[0]?.count).toBe(4);
    expect(events[0]?.bytes).toBeLessThanOrEqual(6 * 1024 * 1024);
  });

  it('hands partitions over in a rebalance without losing a record', async () => {
    // Prepare: four partitions, a second emulator joining the same group while batches are in flight.
    c = await newCase(h, { batchSize: 5 }, 4);
    const seen = new Map<string, Set<number>>();
    const handler: LambdaHandler = async (event) => {
      for (const [key, records] of Object.entries(event.records))
        for (const r of records) seen.set(key, (seen.get(key) ?? new Set()).add(r.offset));
      await new Promise((r) => setTimeout(r, 20));
    };
    const values = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);
    await c.start({ handler });
    for (const p of [0, 1, 2, 3]) await c.produce(values(20), p);
    const second = await startEsm({
      source: c.source,
      handler,
      onFailure: c.sink,
      kafka: h.kafka,
      bootstrapServers: h.brokers.join(','),
      windowScale: 0.1,
      retryDelayMs: 10,
    });
    try {
      // Act
      for (const p of [0, 1, 2, 3]) await c.produce(values(20), p);
      for (const p of [0, 1, 2, 3])
        await eventually(async () => (await c?.committed(p)) === '40', `partition ${p} committed`);
    } finally {
      await second.stop();
    }
    // Assess: every record of every partition was delivered (at least once, as AWS promises).
    const all = Array.from({ length: 40 }, (_, i) => i);
    for (const p of [0, 1, 2, 3])
      expect([...(seen.get(`${c.topic}-${p}`) ?? [])].sort((a, b) => a - b)).toEqual(all);
    expect(await c.onFailureRecords(0)).toHaveLength(0);
  });

  describe('a timed-out invocation', () => {
    const entry = 'test/fixtures/esm/slow-handler.ts';
    let dir = '';
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'esm-timeout-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    const lines = (journal: string) =>
      existsSync(journal) ? readFileSync(journal, 'utf8').trim().split('\n') : [];

    it('is stopped with its sandbox before the retry: nothing it started lands afterwards', async () => {
      // Prepare
      c = await newCase(h, { entry, timeoutSeconds: 1, retryAttempts: 1 });
      const journal = join(dir, 'sandbox.log');
      await c.produce([JSON.stringify({ journal })]);
      const order: string[] = [];
      // Act
      await c.start({
        sandboxEvents: { stopped: (reason) => void order.push(`stopped:${reason}`) },
        observer: { invoking: (_range, _records, invocation) => void order.push(`invoke:${invocation}`) },
      });
      await eventually(async () => (await c?.committed()) === '1', 'the retry committed');
      writeFileSync(`${journal}.release`, '');
      // The timed-out handler polls every 20 ms: were it alive, it would write within a few polls.
      await new Promise((r) => setTimeout(r, 500));
      // Assess
      expect(order).toEqual(['invoke:1', 'stopped:timeout', 'invoke:2']);
      expect(lines(journal)).toEqual(['first:start', 'retry:start']);
      expect(await c.onFailureRecords(0)).toHaveLength(0);
    });

    it('keeps running when the handler runs in-process (the test-only path), which the sandbox prevents', async () => {
      // Prepare
      c = await newCase(h, { timeoutSeconds: 1, retryAttempts: 1 });
      const journal = join(dir, 'in-process.log');
      await c.produce([JSON.stringify({ journal })]);
      // Act
      await c.start({ handler: await loadHandler(entry) });
      await eventually(async () => (await c?.committed()) === '1', 'the retry committed');
      writeFileSync(`${journal}.release`, '');
      // Assess: the side effect lands after the retry.
      await eventually(() => lines(journal).includes('first:late'), 'the late write');
      expect(lines(journal)).toEqual(['first:start', 'retry:start', 'first:late']);
    });
  });
});
