import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { indexedEntries } from '../../functions/audit/store.ts';
import { startStack } from '../../infra/local/start.ts';
import { TOPICS } from '../../shared/events/index.ts';
import type { KafkaHealth } from '../../shared/kafka/health.ts';
import { producer } from '../../shared/kafka/producer.ts';
import { sampleMeta, samplePayloads } from '../fixtures/events.ts';
import { eventually, unique } from '../helpers/kafka.ts';
import { useOwnBroker } from '../helpers/own-broker.ts';

type Stack = Awaited<ReturnType<typeof startStack>>;

// The stack's progress lines and the functions' logs are not this test's output. Set before the logger
// is created: each invocation's context injection goes back to the logger's initial level.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
});

/**
 * `npm start`'s stack (its freePorts entry point, in this process): the audit consumer is killed behind
 * the emulator's back while events keep arriving. `/health/kafka` must say so, naming it, then be healthy
 * again after the automatic restart, with every event audited. Its own empty broker, as the demo test.
 */
describe('npm start: a killed consumer restarts and /health/kafka tells', () => {
  const broker = useOwnBroker();
  let stack: Stack | undefined;
  const health = async (): Promise<{ code: number; body: KafkaHealth }> => {
    const response = await fetch(`http://127.0.0.1:${stack?.port}/health/kafka`);
    return { code: response.status, body: (await response.json()) as KafkaHealth };
  };
  const publish = async (n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const payload = { ...samplePayloads[TOPICS.APPOINTMENT_REQUESTED], appointmentId: unique('apt') };
      ids.push((await producer.publish(TOPICS.APPOINTMENT_REQUESTED, payload, sampleMeta())).eventId);
    }
    await producer.flush();
    return ids;
  };

  beforeAll(async () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    process.env.KAFKA_BROKERS = broker.brokers();
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    stack = await startStack({ freePorts: true });
    log.mockRestore();
  }, 180_000);
  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it('is unhealthy naming the audit consumer, then healthy after the restart; nothing lost', {
    timeout: 180_000,
  }, async () => {
    // Prepare: everything running and caught up.
    const before = await publish(5);
    const ready = await eventually(async () => {
      const h = await health();
      return h.code === 200 && (await indexedEntries(before)).size === before.length ? h : undefined;
    }, 90_000);
    expect(ready?.body.status).toBe('healthy');
    expect(ready?.body.consumers?.map((c) => [c.name, c.state]).sort()).toEqual([
      ['audit', 'running'],
      ['consultation-drafts', 'running'],
      ['notification', 'running'],
    ]);
    // kafkajs may already have restarted a consumer by itself (a join refused on a broker just started).
    const restartsBefore = ready?.body.consumers?.find((c) => c.name === 'audit')?.restarts ?? 0;
    const audit = stack?.esms.find((e) => e.source.name === 'audit');
    const killed = audit?.consumer;

    // Act: kill the audit consumer; publish while it is down.
    const killedAt = Date.now();
    await killed?.disconnect();
    const down = await eventually(async () => {
      const h = await health();
      return h.code === 500 ? h : undefined;
    }, 30_000);
    const during = await publish(5);

    // Assess: unhealthy, naming it.
    expect(down?.body.status).toBe('unhealthy');
    expect(down?.body).toMatchObject({
      error: expect.stringContaining('consumer audit (group audit-service) is restarting'),
    });
    expect(down?.body.consumers?.find((c) => c.name === 'audit')).toMatchObject({
      state: 'restarting',
      lastError: { errorClass: 'ConsumerDisconnected' },
    });
    expect(down?.body.consumers?.find((c) => c.name === 'notification')?.state).toBe('running');

    // Act: wait for the automatic restart.
    const back = await eventually(async () => {
      const h = await health();
      return h.code === 200 ? h : undefined;
    }, 90_000);
    const healthyAfterMs = Date.now() - killedAt;
    const audited = await eventually(async () => {
      const found = await indexedEntries([...before, ...during]);
      return found.size === before.length + during.length ? found : undefined;
    }, 90_000);

    // Assess: healthy again with a new consumer, and every event audited.
    expect(back?.body.status).toBe('healthy');
    expect(back?.body.consumers?.find((c) => c.name === 'audit')).toMatchObject({
      state: 'running',
      restarts: restartsBefore + 1,
    });
    expect(audit?.consumer).toBeDefined();
    expect(audit?.consumer).not.toBe(killed);
    expect(audited?.size).toBe(10);
    console.log(
      `audit consumer killed: /health/kafka 500 naming it, 200 again ${(healthyAfterMs / 1000).toFixed(1)} s ` +
        `after the kill; ${audited?.size}/10 events audited (5 published while it was down)`,
    );
  });
});
