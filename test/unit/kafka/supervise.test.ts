import { EventEmitter } from 'node:events';
import type { Consumer } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { superviseConsumer } from '../../../shared/kafka/supervise.ts';
import { logger } from '../../../shared/log.ts';

/**
 * A stand-in for the kafkajs consumer (outside the unit): it emits the instrumentation events kafkajs
 * emits, when the test says so. The real-broker behaviour is in test/integration/kafka/supervise.test.ts.
 */
const fakeConsumer = () => {
  const emitter = new EventEmitter();
  const events = {
    CRASH: 'consumer.crash',
    GROUP_JOIN: 'consumer.group_join',
    DISCONNECT: 'consumer.disconnect',
  };
  const consumer = {
    events,
    on: (name: string, listener: (e: unknown) => void) => {
      emitter.on(name, listener);
      return () => emitter.off(name, listener);
    },
    disconnect: vi.fn(async () => undefined),
    join: () => emitter.emit(events.GROUP_JOIN, { payload: {} }),
    crash: (error: Error, restart: boolean) => emitter.emit(events.CRASH, { payload: { error, restart } }),
  };
  return consumer;
};
type Fake = ReturnType<typeof fakeConsumer>;

const supervise = async (created: Fake[], joins = true) =>
  superviseConsumer({
    name: 'unit',
    groupId: 'unit-group',
    topics: () => ['t'],
    backoff: { initialMs: 100, maxMs: 500 },
    create: () => {
      const c = fakeConsumer();
      created.push(c);
      return c as unknown as Consumer;
    },
    start: async (c) => {
      if (joins) (c as unknown as Fake).join();
    },
  });

beforeEach(() => {
  vi.useFakeTimers();
  logger.setLogLevel('SILENT');
});
afterEach(() => {
  vi.useRealTimers();
  logger.setLogLevel('INFO');
});

describe('superviseConsumer (restart policy)', () => {
  it('restarts what kafkajs gives up on after 100, 200, 400, then 500 ms (capped)', async () => {
    const created: Fake[] = [];
    const supervised = await supervise(created);
    const delays: number[] = [];
    for (let crash = 0; crash < 5; crash++) {
      const before = created.length;
      created[created.length - 1]?.crash(new TypeError('bug'), false);
      expect(supervised.status().state).toBe('restarting');
      const crashedAt = Date.now();
      while (created.length === before) await vi.advanceTimersByTimeAsync(10);
      delays.push(Date.now() - crashedAt);
      expect(supervised.status().state).toBe('running');
    }
    expect(delays).toEqual([100, 200, 400, 500, 500]);
    expect(supervised.status()).toMatchObject({ restarts: 5, lastError: { errorClass: 'TypeError' } });
    await supervised.stop();
  });

  it('leaves a retriable crash to kafkajs: no new consumer, restarting until the group is joined again', async () => {
    const created: Fake[] = [];
    const supervised = await supervise(created);
    const first = created[0] as Fake;
    first.crash(Object.assign(new Error('x'), { name: 'KafkaJSNumberOfRetriesExceeded' }), true);
    expect(supervised.status()).toMatchObject({ state: 'restarting', restarts: 1 });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(created).toHaveLength(1);
    first.join();
    expect(supervised.status().state).toBe('running');
    await supervised.stop();
  });

  it('starts the backoff over once a consumer has run for the cap', async () => {
    const created: Fake[] = [];
    const supervised = await supervise(created);
    (created[0] as Fake).crash(new TypeError('bug'), false);
    await vi.advanceTimersByTimeAsync(100);
    (created[1] as Fake).crash(new TypeError('bug'), false);
    await vi.advanceTimersByTimeAsync(200);
    expect(created).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(500); // ran for the cap
    (created[2] as Fake).crash(new TypeError('bug'), false);
    await vi.advanceTimersByTimeAsync(100);
    expect(created).toHaveLength(4);
    await supervised.stop();
  });

  it('does not restart a consumer stopped on purpose, and reports it stopped', async () => {
    const created: Fake[] = [];
    const supervised = await supervise(created);
    await supervised.stop();
    (created[0] as Fake).crash(new TypeError('late'), false);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(created).toHaveLength(1);
    expect(supervised.status()).toMatchObject({ state: 'stopped', restarts: 0 });
    expect(created[0]?.disconnect).toHaveBeenCalledOnce();
  });

  it('fails the first start loudly instead of retrying it', async () => {
    await expect(
      superviseConsumer({
        name: 'unit',
        groupId: 'unit-group',
        topics: () => [],
        create: () => fakeConsumer() as unknown as Consumer,
        start: async () => {
          throw new Error('no such topic');
        },
      }),
    ).rejects.toThrow('no such topic');
  });
});
