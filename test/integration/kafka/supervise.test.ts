import type { Consumer } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { TOPICS } from '../../../shared/events/index.ts';
import { KafkaConsumer } from '../../../shared/kafka/consumer.ts';
import { consumerStatuses, registerConsumerStatus } from '../../../shared/kafka/consumer-status.ts';
import { checkKafkaHealth, localConsumers, StallTracker } from '../../../shared/kafka/health.ts';
import { type SupervisedConsumer, superviseConsumer } from '../../../shared/kafka/supervise.ts';
import { ensureCatalogTopics, eventually, testKafka, unique } from '../../helpers/kafka.ts';
import { captureLogs } from '../../helpers/logs.ts';

const kafka = testKafka('supervise-test');
const running: SupervisedConsumer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

const topicWith = async (values: string[]): Promise<string> => {
  const topic = unique('supervise');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: values.map((value) => ({ value })) });
  await producer.disconnect();
  return topic;
};

const health = () =>
  checkKafkaHealth({
    env: { KAFKA_BROKERS: process.env.KAFKA_BROKERS },
    consumers: localConsumers(new StallTracker()),
  });

/** A gate the test opens: the supervisor's restart waits on it, so the `restarting` state can be observed. */
const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
};

describe('superviseConsumer against the real broker', () => {
  it('restarts a consumer kafkajs gave up on; /health/kafka names it meanwhile; nothing is lost', async () => {
    // Prepare: a handler bug (TypeError) on the second record, once. kafkajs treats a TypeError as not
    // retriable: it disconnects the consumer and does not restart it.
    const topic = await topicWith(['a', 'b', 'c']);
    const groupId = unique('supervised');
    const seen: string[] = [];
    let crashOnce = true;
    let starts = 0;
    const restart = gate();
    const { result: during, lines } = await captureLogs(async () => {
      const supervised = await superviseConsumer({
        name: 'supervised-test',
        groupId,
        topics: () => [topic],
        backoff: { initialMs: 10, maxMs: 100 },
        create: () => kafka.consumer({ groupId, maxWaitTimeInMs: 100 }),
        start: async (consumer: Consumer) => {
          starts += 1;
          if (starts === 2) await restart.opened;
          await consumer.connect();
          await consumer.subscribe({ topics: [topic], fromBeginning: true });
          await consumer.run({
            eachMessage: async ({ message }) => {
              const value = String(message.value);
              if (value === 'b' && crashOnce) {
                crashOnce = false;
                throw new TypeError(`cannot handle ${value}`);
              }
              seen.push(value);
            },
          });
        },
      });
      running.push(supervised);
      // Act: wait for the crash; the restart is held at the gate.
      await eventually(() => starts === 2, 30_000);
      return { status: supervised.status(), health: await health(), supervised };
    });

    // Assess: while it is down, the consumer is named and the answer is unhealthy.
    expect(during.status.state).toBe('restarting');
    // At least this crash; on a broker that just started, a join can also fail once (kafkajs restarts that).
    expect(during.status.restarts).toBeGreaterThanOrEqual(1);
    expect(during.status.lastError?.errorClass).toBe('KafkaJSNonRetriableError');
    expect(during.health.status).toBe('unhealthy');
    expect(during.health).toMatchObject({
      error: expect.stringContaining(`consumer supervised-test (group ${groupId}) is restarting`),
      consumers: [{ name: 'supervised-test', groupId, state: 'restarting' }],
    });
    expect(during.health.consumers?.[0]?.lag[topic]).toBeGreaterThanOrEqual(2);
    // The crash is logged with its classes, never the message (which here carries a record value).
    const crash = lines
      .map((l) => JSON.parse(l))
      .find((l) => l.message === 'Kafka consumer crashed' && l.cause === 'TypeError');
    expect(crash).toMatchObject({
      errorClass: 'KafkaJSNonRetriableError',
      cause: 'TypeError',
      restartedBy: 'supervisor',
      groupId,
    });
    expect(lines.join('\n')).not.toContain('cannot handle');

    // Act: let the restart through.
    const { result: recovery } = await captureLogs(async () => {
      restart.open();
      const all = await eventually(() => ['a', 'b', 'c'].every((v) => seen.includes(v)), 30_000);
      const after = await eventually(async () => {
        const h = await health();
        return h.status === 'healthy' && h.consumers?.[0]?.lag[topic] === 0 ? h : undefined;
      }, 30_000);
      return { all, after };
    });
    const { all, after } = recovery;

    // Assess: back to healthy, every record handled (at least once: the crash may precede a commit).
    expect(all).toBe(true);
    expect(after).toMatchObject({
      status: 'healthy',
      consumers: [{ name: 'supervised-test', state: 'running', lag: { [topic]: 0 } }],
    });
    expect(during.supervised.status().state).toBe('running');
  });

  it('restarts a consumer that was disconnected behind its back, and forgets one stopped on purpose', async () => {
    // Prepare
    const topic = await topicWith(['x']);
    const groupId = unique('killed');
    const { result } = await captureLogs(async () => {
      const supervised = await superviseConsumer({
        name: 'killed-test',
        groupId,
        topics: () => [topic],
        backoff: { initialMs: 10, maxMs: 100 },
        create: () => kafka.consumer({ groupId, maxWaitTimeInMs: 100 }),
        start: async (consumer) => {
          await consumer.connect();
          await consumer.subscribe({ topics: [topic], fromBeginning: true });
          await consumer.run({ eachMessage: async () => undefined });
        },
      });
      const first = supervised.consumer;
      const before = supervised.status().restarts;
      // Act: kill it from outside the supervisor.
      await first?.disconnect();
      const restarted = await eventually(
        () => supervised.status().state === 'running' && supervised.consumer !== first,
        30_000,
      );
      const status = supervised.status();
      await supervised.stop();
      return { restarted, before, status, afterStop: consumerStatuses() };
    });
    // Assess
    expect(result.restarted).toBe(true);
    expect(result.status).toMatchObject({
      restarts: result.before + 1,
      lastError: { errorClass: 'ConsumerDisconnected' },
    });
    expect(result.afterStop.find((s) => s.groupId === groupId)).toBeUndefined();
  });

  it('reports a running consumer whose partition has lag and does not move as stalled', async () => {
    // Prepare: a handler that never returns on the second record (a hung downstream call).
    const topic = await topicWith(['p', 'q', 'r']);
    const groupId = unique('stalled');
    const hang = gate();
    const handled: string[] = [];
    const supervised = await superviseConsumer({
      name: 'stalled-test',
      groupId,
      topics: () => [topic],
      create: () => kafka.consumer({ groupId, maxWaitTimeInMs: 100 }),
      start: async (consumer) => {
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            if (String(message.value) === 'q') await hang.opened;
            handled.push(String(message.value));
          },
        });
      },
    });
    running.push(supervised);
    const tracker = new StallTracker();
    const check = () =>
      checkKafkaHealth({
        env: { KAFKA_BROKERS: process.env.KAFKA_BROKERS },
        stallAfterMs: 300,
        consumers: localConsumers(tracker),
      });
    // Act: the first check that sees the lag starts the count; a later one past the bound reports it.
    const { result, lines } = await captureLogs(async () => {
      const stalled = await eventually(async () => {
        const h = await check();
        return h.consumers?.[0]?.stalled.length ? h : undefined;
      }, 30_000);
      hang.open();
      const recovered = await eventually(async () => {
        const h = await check();
        return h.status === 'healthy' && h.consumers?.[0]?.lag[topic] === 0 ? h : undefined;
      }, 30_000);
      return { stalled, recovered };
    });
    const { stalled, recovered } = result;

    // Assess
    expect(stalled?.status).toBe('unhealthy');
    expect(stalled?.consumers?.[0]).toMatchObject({
      state: 'running',
      stalled: [{ topic, partition: 0, lag: expect.any(Number) }],
    });
    expect(stalled?.consumers?.[0]?.stalled[0]?.lag).toBeGreaterThanOrEqual(2);
    expect(stalled).toMatchObject({ error: expect.stringContaining(`has not moved on ${topic}[0]`) });
    expect(recovered?.consumers?.[0]?.stalled).toEqual([]);
    expect(handled).toEqual(['p', 'q', 'r']);
    expect(lines.some((l) => l.includes('"consumers unhealthy"') || l.includes('stalled-test'))).toBe(true);
  });

  it('the consumer utility reports itself while it runs and leaves the report when disconnected', async () => {
    // Prepare
    await captureLogs(ensureCatalogTopics);
    const groupId = unique('utility');
    const consumer = new KafkaConsumer(groupId, [TOPICS.APPOINTMENT_REQUESTED]);
    consumer.registerHandler(TOPICS.APPOINTMENT_REQUESTED, () => undefined);
    // Act
    const { result } = await captureLogs(async () => {
      await consumer.startConsuming();
      const whileRunning = consumerStatuses().find((s) => s.groupId === groupId);
      await consumer.disconnect();
      return { whileRunning, afterDisconnect: consumerStatuses().find((s) => s.groupId === groupId) };
    });
    // Assess
    expect(result.whileRunning).toMatchObject({
      name: groupId,
      state: 'running',
      topics: [TOPICS.APPOINTMENT_REQUESTED],
      restarts: 0,
    });
    expect(result.afterDisconnect).toBeUndefined();
  });

  it('still lists the consumers and their states when the broker does not answer', async () => {
    // Prepare: a consumer that says it is restarting; no broker at that address.
    const unregister = registerConsumerStatus({
      status: () => ({
        name: 'orphan',
        groupId: 'orphan-group',
        state: 'restarting',
        topics: ['t'],
        restarts: 3,
        lastError: { errorClass: 'KafkaJSConnectionError', at: '2026-11-30T10:00:00.000Z' },
      }),
    });
    // Act
    const { result } = await captureLogs(() =>
      checkKafkaHealth({ env: { KAFKA_BROKERS: '127.0.0.1:1' }, timeoutMs: 2_000 }),
    );
    unregister();
    // Assess
    expect(result).toMatchObject({
      status: 'unhealthy',
      error: expect.any(String),
      consumers: [{ name: 'orphan', state: 'restarting', restarts: 3, lag: {}, stalled: [] }],
    });
  });
});
