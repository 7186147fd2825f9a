import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AuditEntry, auditKey } from '../../../functions/audit/audit.ts';
import { handler as auditHandler } from '../../../functions/audit/handler.ts';
import { AUDIT_TABLE_ENV, queryAudit } from '../../../functions/audit/store.ts';
import { deliveryId, getDelivery } from '../../../functions/notification/deliveries.ts';
import { handler as notificationHandler } from '../../../functions/notification/handler.ts';
import { consumerByName } from '../../../infra/consumers.ts';
import { type LocalAws, startLocalAws } from '../../../infra/local/aws/index.ts';
import { type LambdaHandler, type RunningEsm, startEsm } from '../../../infra/local/esm/emulator.ts';
import type { OnFailureRecord } from '../../../infra/local/esm/on-failure.ts';
import { listKafkaDeadLetters } from '../../../infra/ops/dlq.ts';
import { originOf, TOPICS, type Topic, uuidV5 } from '../../../shared/events/index.ts';
import { provisionTopics } from '../../../shared/kafka/admin.ts';
import { createKafka } from '../../../shared/kafka/config.ts';
import { producer as sharedProducer } from '../../../shared/kafka/producer.ts';
import { dynamo, resetClients } from '../../../shared/lambda/clients.ts';
import { recordRetryEnv } from '../../../shared/lambda/settings.ts';
import { useOwnBroker } from '../../helpers/own-broker.ts';
import { eventually } from '../esm/harness.ts';
import { fetchRecords, json } from '../functions/kafka-io.ts';

/** The reference producer and usage example of the platform's specification, as services run them (CommonJS). */
interface SeedProducer {
  sendEvent(topic: string, event: Record<string, unknown>): Promise<unknown>;
  disconnect(): Promise<void>;
}
interface SeedAppointmentService {
  confirmAppointment(appointmentId: string, doctorId: string): Promise<unknown>;
  appointments: Map<string, Record<string, string>>;
}
const fixtures = createRequire(new URL('../../fixtures/seed-producer/', import.meta.url));

/** The reference code logs every event it sends (payload included) to the console: not in our test output. */
const quietly = async <T>(work: () => Promise<T>): Promise<T> => {
  const spies = [vi.spyOn(console, 'log'), vi.spyOn(console, 'info')].map((s) =>
    s.mockImplementation(() => {}),
  );
  try {
    return await work();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
};

const TOPICS_USED = [
  TOPICS.USER_REGISTERED,
  TOPICS.APPOINTMENT_CONFIRMED,
  TOPICS.CONSULTATION_CREATED,
  TOPICS.MESSAGE_SENT,
] as const;

/**
 * A service that follows the specification to the letter — its producer code verbatim (kafkajs, `sendEvent`,
 * value `{...event, timestamp, service}`, key `event.id || event.userId || Date.now()`), the four documented
 * event shapes and the usage example's short `eventType` — against the real broker, the ESM emulator and the
 * real audit and notification functions on dynalite.
 */
describe('events from the specification’s own producer', () => {
  // A broker of its own: fresh consumer groups read these topics from the beginning (TRIM_HORIZON, as
  // deployed), and on the run's shared broker they would first work through what other test files left there.
  const own = useOwnBroker();
  const run = randomUUID().slice(0, 8);
  const saved = { ...process.env };
  let aws: LocalAws;
  let kafka: Kafka;
  let admin: Admin;
  let seed: SeedProducer;
  let service: SeedAppointmentService;
  const running: RunningEsm[] = [];
  const onFailure: OnFailureRecord[] = [];

  const startConsumers = async (generation: string) => {
    for (const [name, handler] of [
      ['audit', auditHandler],
      ['notification', notificationHandler],
    ] as const) {
      const definition = consumerByName(name);
      if (!definition) throw new Error(`consumers.ts has no ${name} definition`);
      const source = {
        ...definition,
        topics: definition.topics.filter((t) => (TOPICS_USED as readonly string[]).includes(t)),
        groupId: `seed-${name}-${run}-${generation}`,
        startingPosition: 'TRIM_HORIZON' as const,
      };
      running.push(
        await startEsm({
          source,
          handler: handler as LambdaHandler,
          onFailure: { send: async (record) => void onFailure.push(record) },
          kafka,
          bootstrapServers: own.brokers(),
          windowScale: 0.1,
        }),
      );
    }
  };
  const stopConsumers = async () => {
    await Promise.all(running.splice(0).map((esm) => esm.stop()));
  };

  /** Until both consumer groups of `generation` have committed every offset below `ends`. */
  const caughtUp = (generation: string, ends: Map<string, bigint>) =>
    eventually(
      async () => {
        for (const name of ['audit', 'notification']) {
          const groupId = `seed-${name}-${run}-${generation}`;
          const topics = consumerByName(name)?.topics.filter((t) =>
            (TOPICS_USED as readonly string[]).includes(t),
          );
          for (const t of await admin.fetchOffsets({ groupId, topics })) {
            for (const p of t.partitions) {
              const end = ends.get(`${t.topic}/${p.partition}`) ?? 0n;
              if (end > 0n && BigInt(p.offset) < end) return false;
            }
          }
        }
        return true;
      },
      `consumers of generation ${generation} to catch up`,
      90_000,
    );

  beforeAll(async () => {
    process.env.KAFKA_BROKERS = own.brokers();
    process.env.SERVICE_NAME = 'rdv-service';
    process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
    aws = await startLocalAws({ dynamoPort: 0, sesPort: 0, sqs: false, env: {} });
    Object.assign(
      process.env,
      aws.env,
      recordRetryEnv({ attempts: 2, baseDelayMs: 10, maxDelayMs: 20, jitter: false }),
    );
    kafka = await createKafka();
    await provisionTopics(kafka);
    admin = kafka.admin();
    await admin.connect();
    seed = fixtures('./shared/kafka/producer.js') as SeedProducer;
    service = fixtures('./services/appointment/confirm.js') as SeedAppointmentService;
  }, 120_000);

  afterAll(async () => {
    await stopConsumers();
    await quietly(() => seed?.disconnect());
    await sharedProducer.disconnect();
    await admin?.disconnect();
    await resetClients();
    await aws?.stop();
    process.env = saved;
  });

  it('audits every event once (seed-shaped, actor unknown), notifies by the rules, dead-letters none, and a redelivery adds nothing', async () => {
    // Prepare: the four documented shapes, then the usage example (short eventType)
    const patientId = `p-${run}`;
    const doctorId = `d-${run}`;
    const ids = {
      appointment: `a-${run}`,
      example: `a-${run}-example`,
      consultation: `c-${run}`,
      message: `m-${run}`,
    };
    service.appointments.set(ids.example, {
      patientId,
      appointmentDate: '2026-12-03',
      appointmentTime: '14:00',
    });

    // Act
    await quietly(async () => {
      await seed.sendEvent(TOPICS.USER_REGISTERED, {
        eventType: 'auth.user.registered',
        userId: patientId,
        email: `${run}@example.org`,
        role: 'patient',
      });
      await seed.sendEvent(TOPICS.APPOINTMENT_CONFIRMED, {
        eventType: 'appointment.appointment.confirmed',
        appointmentId: ids.appointment,
        patientId,
        doctorId,
        appointmentDate: '2026-12-01',
        appointmentTime: '09:30',
        timestamp: Date.now(),
      });
      await seed.sendEvent(TOPICS.CONSULTATION_CREATED, {
        eventType: 'medical.consultation.created',
        consultationId: ids.consultation,
        appointmentId: ids.appointment,
        patientId,
        doctorId,
        consultationDate: '2026-12-01',
        diagnosis: 'phi-marker-7f3a',
        timestamp: new Date().toISOString(),
      });
      await seed.sendEvent(TOPICS.MESSAGE_SENT, {
        eventType: 'message.message.sent',
        messageId: ids.message,
        conversationId: `conv-${run}`,
        senderId: doctorId,
        receiverId: patientId,
        messageType: 'text',
      });
      await service.confirmAppointment(ids.example, doctorId);
    });

    // Where each record landed: its eventId is derived from those coordinates.
    const mine = (topic: Topic, count: number) =>
      fetchRecords(kafka, topic, (r) => r.value?.toString('utf8').includes(run) === true, count);
    const records = [
      ...(await mine(TOPICS.USER_REGISTERED, 1)),
      ...(await mine(TOPICS.APPOINTMENT_CONFIRMED, 2)),
      ...(await mine(TOPICS.CONSULTATION_CREATED, 1)),
      ...(await mine(TOPICS.MESSAGE_SENT, 1)),
    ];
    const eventIdOf = (match: (v: Record<string, unknown>) => boolean) => {
      const r = records.find((x) => match(json(x)));
      if (!r) throw new Error('record not found');
      return uuidV5(originOf(r.topic, r.partition, r.offset));
    };
    const expected = {
      registered: eventIdOf((v) => v.userId === patientId),
      confirmed: eventIdOf((v) => v.appointmentId === ids.appointment && !v.consultationId),
      example: eventIdOf((v) => v.appointmentId === ids.example),
      consultation: eventIdOf((v) => v.consultationId === ids.consultation),
      message: eventIdOf((v) => v.messageId === ids.message),
    };
    const ends = new Map<string, bigint>();
    for (const topic of TOPICS_USED) {
      for (const p of await admin.fetchTopicOffsets(topic))
        ends.set(`${topic}/${p.partition}`, BigInt(p.high));
    }

    await startConsumers('first');
    await caughtUp('first', ends);

    // Assess: audited once each, as seed-shaped with no actor
    const entryOf = async (eventId: string) =>
      (
        await dynamo().send(
          new GetCommand({
            TableName: process.env[AUDIT_TABLE_ENV],
            Key: auditKey(eventId),
            ConsistentRead: true,
          }),
        )
      ).Item as AuditEntry | undefined;
    for (const eventId of Object.values(expected)) {
      const entry = await entryOf(eventId);
      expect(entry).toMatchObject({
        eventId,
        correlationId: eventId,
        schemaVersion: 1,
        seedShaped: true,
        actorGiven: false,
        performedByType: 'unknown',
        service: 'rdv-service',
      });
      expect(entry).not.toHaveProperty('performedBy');
    }
    expect((await entryOf(expected.example))?.decodeAnomalies).toContain('event-type-short-form');
    const byResource = async () =>
      (
        await Promise.all(
          [
            `user#${patientId}`,
            `appointment#${ids.appointment}`,
            `appointment#${ids.example}`,
            `consultation#${ids.consultation}`,
            `message#${ids.message}`,
          ].map((key) => queryAudit('byResource', key)),
        )
      ).map((entries) => entries.length);
    expect(await byResource()).toEqual([1, 1, 1, 1, 1]);

    // Notified where the rules say: the patient for both confirmations and the consultation, the receiver
    // (the patient) for the message; nobody for the registration.
    const inApp = (eventId: string) => getDelivery(deliveryId(eventId, patientId, 'in_app'));
    const deliveries = async () =>
      Promise.all([expected.confirmed, expected.example, expected.consultation, expected.message].map(inApp));
    const first = await deliveries();
    for (const delivery of first) expect(delivery?.status).toBe('published');
    expect(await getDelivery(deliveryId(expected.registered, patientId, 'in_app'))).toBeUndefined();

    // No dead letters, no on-failure records
    const letters = (await listKafkaDeadLetters(kafka)).filter((e) =>
      Buffer.from(e.letter?.original.value ?? '', 'base64')
        .toString('utf8')
        .includes(run),
    );
    expect(letters).toEqual([]);
    expect(onFailure).toEqual([]);

    // Act again: the same records delivered a second time (new consumer groups read them from the start)
    await stopConsumers();
    await startConsumers('second');
    await caughtUp('second', ends);

    // Assess: nothing new
    expect(await byResource()).toEqual([1, 1, 1, 1, 1]);
    expect(await deliveries()).toEqual(first);
    console.log(
      `5 events from the reference producer: 5 audit entries (seed-shaped, actor unknown), ${first.length} notifications, 0 dead letters; redelivered: nothing added`,
    );
  }, 240_000);
});
