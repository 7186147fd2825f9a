import { randomUUID } from 'node:crypto';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as auditHandler } from '../../../functions/audit/handler.ts';
import { queryAudit } from '../../../functions/audit/store.ts';
import { handler as draftsHandler } from '../../../functions/consultation-drafts/handler.ts';
import { handler as healthHandler } from '../../../functions/health/handler.ts';
import { handler as notificationHandler } from '../../../functions/notification/handler.ts';
import { type LocalAws, sentEmails, startLocalAws } from '../../../infra/local/aws/index.ts';
import {
  catalogTopics,
  DLQ_TOPIC,
  type PayloadOf,
  TOPICS,
  type Topic,
} from '../../../shared/events/index.ts';
import { provisionTopics } from '../../../shared/kafka/admin.ts';
import { createKafka } from '../../../shared/kafka/config.ts';
import type { DeadLetter } from '../../../shared/kafka/dlq.ts';
import { KafkaProducer, producer } from '../../../shared/kafka/producer.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';
import { dynamo, resetClients } from '../../../shared/lambda/clients.ts';
import { toMskEvent } from '../../../shared/lambda/msk-event.ts';
import { recordRetryEnv } from '../../../shared/lambda/settings.ts';
import { PHI_MARKER, sampleMeta, samplePayloads } from '../../fixtures/events.ts';
import { lambdaContext } from '../../fixtures/msk/index.ts';
import { fetchRecords, json, topicOffsets } from './kafka-io.ts';

/**
 * The four functions against real parts: the run's Kafka broker, dynalite and aws-ses-v2-local provisioned by
 * startLocalAws. Inputs are published to the broker and read back as they would reach the ESM; outputs are
 * read from DynamoDB, the SES store and the broker.
 */
describe('Lambda functions on real local parts', () => {
  let aws: LocalAws;
  let kafka: Kafka;
  let publisher: KafkaProducer;
  const saved = { ...process.env };
  const source = () => ({
    eventSourceArn: 'arn:aws:kafka:us-east-1:000000000000:cluster/local/x',
    bootstrapServers: process.env.KAFKA_BROKERS ?? '',
  });

  beforeAll(async () => {
    process.env.KAFKA_BROKERS = inject('kafkaBrokers');
    aws = await startLocalAws({ dynamoPort: 0, sesPort: 0, sqs: false, env: {} });
    Object.assign(
      process.env,
      aws.env,
      recordRetryEnv({ attempts: 2, baseDelayMs: 10, maxDelayMs: 20, jitter: false }),
    );
    kafka = await createKafka();
    await provisionTopics(kafka);
    publisher = new KafkaProducer({ handleSignals: false, kafka });
  });

  afterAll(async () => {
    await publisher?.disconnect();
    await producer.disconnect();
    await resetClients();
    await aws?.stop();
    process.env = saved;
  });

  /** Publishes an event to the real broker and reads its record back. */
  const published = async <T extends Topic>(
    topic: T,
    payload: PayloadOf<T>,
    meta = sampleMeta(),
  ): Promise<RawRecord> => {
    const { eventId } = await publisher.publish(topic, payload, meta);
    const [record] = await fetchRecords(kafka, topic, (r) => json(r).eventId === eventId, 1);
    if (!record) throw new Error('record not found');
    return record;
  };

  const invoke = <R>(
    fn: (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<R>,
    records: RawRecord[],
  ) => fn(toMskEvent(records, source()), lambdaContext());

  it('audit writes one entry per event, once under redelivery, queryable by resource and patient', async () => {
    // Prepare
    const appointmentId = `a-${randomUUID()}`;
    const patientId = `p-${randomUUID()}`;
    const record = await published(TOPICS.APPOINTMENT_REQUESTED, {
      ...samplePayloads[TOPICS.APPOINTMENT_REQUESTED],
      appointmentId,
      patientId,
    });

    // Act: the same record delivered twice, in two invocations
    const first = await invoke(auditHandler, [record]);
    const [written] = await queryAudit('byResource', `appointment#${appointmentId}`);
    const second = await invoke(auditHandler, [record]);

    // Assess
    expect(first).toEqual({ batchItemFailures: [] });
    expect(second).toEqual({ batchItemFailures: [] });
    const byResource = await queryAudit('byResource', `appointment#${appointmentId}`);
    expect(byResource).toHaveLength(1);
    expect(byResource[0]?.recordedAt).toBe(written?.recordedAt);
    expect(byResource[0]).toMatchObject({
      action: TOPICS.APPOINTMENT_REQUESTED,
      patientId,
      performedBy: 'doc-1',
    });
    expect(byResource[0]?.metadata).not.toHaveProperty('reason');
    expect(JSON.stringify(byResource[0])).not.toContain(PHI_MARKER);
    expect(await queryAudit('byPatient', patientId)).toHaveLength(1);
  });

  it('dead-letters a poison record to esante.dlq with its reason and processes the rest of the batch', async () => {
    const appointmentId = `a-${randomUUID()}`;
    const good = await published(TOPICS.APPOINTMENT_CONFIRMED, {
      ...samplePayloads[TOPICS.APPOINTMENT_CONFIRMED],
      appointmentId,
    });
    const poisonBytes = `{"eventType":"${TOPICS.APPOINTMENT_CONFIRMED}","appointmentId":"${appointmentId}"`;
    const poison: RawRecord = {
      ...good,
      offset: String(Number(good.offset) + 1),
      value: Buffer.from(poisonBytes),
    };

    const dlqBefore = await topicOffsets(kafka, DLQ_TOPIC);
    const response = await invoke(auditHandler, [good, poison]);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(await queryAudit('byResource', `appointment#${appointmentId}`)).toHaveLength(1);
    const [letter] = await fetchRecords(
      kafka,
      DLQ_TOPIC,
      (r) =>
        // esante.dlq also holds replay markers, which have no `original`
        Buffer.from((json(r) as unknown as DeadLetter).original?.value ?? '', 'base64').toString() ===
        poisonBytes,
      1,
      30_000,
      dlqBefore,
    );
    expect(json(letter as RawRecord)).toMatchObject({
      originalTopic: TOPICS.APPOINTMENT_CONFIRMED,
      errorClass: 'MalformedRecordError',
      errorCode: 'MALFORMED_RECORD',
      failedBy: 'audit',
      original: { partition: good.partition, offset: poison.offset },
    });
  });

  it('notification delivers in-app and one e-mail in the recipient language, once under redelivery, and announces both', async () => {
    // Prepare: the patient registers (contact projection), then their appointment is confirmed
    const patientId = `p-${randomUUID()}`;
    const email = `${patientId}@example.org`;
    const registered = await published(TOPICS.USER_REGISTERED, {
      userId: patientId,
      email,
      role: 'patient',
      firstName: `${PHI_MARKER}-first`,
      language: 'en',
    });
    const confirmed = await published(TOPICS.APPOINTMENT_CONFIRMED, {
      ...samplePayloads[TOPICS.APPOINTMENT_CONFIRMED],
      appointmentId: `a-${randomUUID()}`,
      patientId,
    });
    const eventId = json(confirmed).eventId as string;

    // Act
    expect(await invoke(notificationHandler, [registered])).toEqual({ batchItemFailures: [] });
    expect(await invoke(notificationHandler, [confirmed])).toEqual({ batchItemFailures: [] });
    expect(await invoke(notificationHandler, [confirmed])).toEqual({ batchItemFailures: [] });

    // Assess
    const emails = await sentEmails(aws.env.SES_ENDPOINT as string, email);
    expect(emails).toHaveLength(1);
    expect(emails[0]?.subject).toBe('Appointment confirmed');
    expect(emails[0]?.body.text).toContain('2026-12-01 at 09:30');
    expect(JSON.stringify(emails)).not.toContain(PHI_MARKER);
    const inbox = await dynamo().send(
      new QueryCommand({
        TableName: aws.env.INBOX_TABLE,
        KeyConditionExpression: 'recipientId = :r',
        ExpressionAttributeValues: { ':r': patientId },
      }),
    );
    expect(inbox.Items).toHaveLength(1);
    expect(inbox.Items?.[0]).toMatchObject({
      template: 'appointment.confirmed',
      language: 'en',
      sourceEventId: eventId,
    });
    const sent = await fetchRecords(
      kafka,
      TOPICS.NOTIFICATION_SENT,
      (r) => json(r).sourceEventId === eventId,
      2,
    );
    expect(sent.map((r) => json(r).channel).sort()).toEqual(['email', 'in_app']);
    expect(sent.map((r) => json(r))).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          causationId: eventId,
          actor: { id: 'notification-service', type: 'system' },
        }),
      ]),
    );
  });

  it('notification does not e-mail an appointment event older than one already notified (confirmed after cancelled), and e-mails both in order', async () => {
    // Prepare: one patient, two appointments, each confirmed then cancelled a second later
    const patientId = `p-${randomUUID()}`;
    const email = `${patientId}@example.org`;
    const registered = await published(TOPICS.USER_REGISTERED, {
      userId: patientId,
      email,
      role: 'patient',
      language: 'en',
    });
    const life = async (timestamp: number) => {
      const appointment = {
        ...samplePayloads[TOPICS.APPOINTMENT_CONFIRMED],
        appointmentId: `a-${randomUUID()}`,
        patientId,
      };
      return {
        confirmed: await published(TOPICS.APPOINTMENT_CONFIRMED, appointment, sampleMeta({ timestamp })),
        cancelled: await published(
          TOPICS.APPOINTMENT_CANCELLED,
          {
            appointmentId: appointment.appointmentId,
            patientId,
            doctorId: appointment.doctorId,
            cancelledBy: 'patient',
          },
          sampleMeta({ timestamp: timestamp + 1000 }),
        ),
      };
    };
    const late = await life(Date.now() - 10_000);
    const inOrder = await life(Date.now() - 5_000);
    expect(await invoke(notificationHandler, [registered])).toEqual({ batchItemFailures: [] });

    // Act 1: the cancelled event is handled first, then the confirmed one, twice (a redelivery)
    for (const record of [late.cancelled, late.confirmed, late.confirmed]) {
      expect(await invoke(notificationHandler, [record])).toEqual({ batchItemFailures: [] });
    }
    const afterLate = (await sentEmails(aws.env.SES_ENDPOINT as string, email)).map((e) => e.subject);

    // Act 2: the other appointment's events in publish order
    for (const record of [inOrder.confirmed, inOrder.cancelled]) {
      expect(await invoke(notificationHandler, [record])).toEqual({ batchItemFailures: [] });
    }

    // Assess: no "confirmed" e-mail after "cancelled"; both e-mails when handled in order
    expect(afterLate).toEqual(['Appointment cancelled']);
    const emails = await sentEmails(aws.env.SES_ENDPOINT as string, email);
    expect(emails.map((e) => e.subject)).toEqual([
      'Appointment cancelled',
      'Appointment confirmed',
      'Appointment cancelled',
    ]);
    // The late event's in-app item is still written, flagged, and its in-app delivery announced
    const lateConfirmedId = json(late.confirmed).eventId as string;
    const inbox = await dynamo().send(
      new QueryCommand({
        TableName: aws.env.INBOX_TABLE,
        KeyConditionExpression: 'recipientId = :r',
        ExpressionAttributeValues: { ':r': patientId },
      }),
    );
    expect(inbox.Items).toHaveLength(4);
    const flagged = (inbox.Items ?? []).filter((i) => i.superseded === true).map((i) => i.sourceEventId);
    expect(flagged).toEqual([lateConfirmedId]);
    // notification.sent is keyed by recipient: one partition, so reading up to the in-order appointment's
    // two announcements of its cancelled event has read every announcement of the late one.
    const watched = new Set([lateConfirmedId, json(inOrder.cancelled).eventId as string]);
    const announced = await fetchRecords(
      kafka,
      TOPICS.NOTIFICATION_SENT,
      (r) => watched.has(json(r).sourceEventId as string),
      3,
    );
    expect(
      announced.filter((r) => json(r).sourceEventId === lateConfirmedId).map((r) => json(r).channel),
    ).toEqual(['in_app']);
  });

  it('consultation-drafts stores one draft and publishes medical.consultation.created once', async () => {
    const appointmentId = `a-${randomUUID()}`;
    const completed = await published(TOPICS.APPOINTMENT_COMPLETED, {
      ...samplePayloads[TOPICS.APPOINTMENT_COMPLETED],
      appointmentId,
    });

    expect(await invoke(draftsHandler, [completed])).toEqual({ batchItemFailures: [] });
    expect(await invoke(draftsHandler, [completed])).toEqual({ batchItemFailures: [] });

    const created = await fetchRecords(
      kafka,
      TOPICS.CONSULTATION_CREATED,
      (r) => json(r).appointmentId === appointmentId,
      1,
    );
    const event = json(created[0] as RawRecord);
    expect(event).toMatchObject({
      status: 'draft',
      diagnosis: '',
      patientId: 'p-1',
      causationId: json(completed).eventId,
    });
    const stored = await dynamo().send(
      new GetCommand({
        TableName: aws.env.CONSULTATIONS_TABLE,
        Key: { consultationId: event.consultationId },
      }),
    );
    expect(stored.Item).toMatchObject({ appointmentId, status: 'draft' });
    expect(stored.Item?.publishedAt).toBeDefined();
    // A second created event would carry the same deterministic eventId; only one is on the topic.
    const again = await fetchRecords(
      kafka,
      TOPICS.CONSULTATION_CREATED,
      (r) => json(r).appointmentId === appointmentId,
      2,
      3_000,
    ).catch((error: Error) => error);
    expect(again).toBeInstanceOf(Error);
  });

  it('health answers 200 with the broker and topic counts', async () => {
    const response = await healthHandler({}, lambdaContext('health'));

    expect(response.statusCode).toBe(200);
    const body = JSON.parse(response.body ?? '{}');
    expect(body).toMatchObject({ status: 'healthy', kafka: { connected: true, brokers: 1 } });
    expect(body.kafka.topics).toBeGreaterThanOrEqual(catalogTopics().length);
  });
});
