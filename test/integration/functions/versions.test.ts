import { randomUUID } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as auditHandler } from '../../../functions/audit/handler.ts';
import { queryAudit } from '../../../functions/audit/store.ts';
import { handler as notificationHandler } from '../../../functions/notification/handler.ts';
import { type LocalAws, sentEmails, startLocalAws } from '../../../infra/local/aws/index.ts';
import { DLQ_TOPIC, encodeEvent, headersFor, type PayloadOf, TOPICS } from '../../../shared/events/index.ts';
import { createKafka } from '../../../shared/kafka/config.ts';
import type { DeadLetter } from '../../../shared/kafka/dlq.ts';
import { KafkaProducer, producer } from '../../../shared/kafka/producer.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';
import { dynamo, resetClients } from '../../../shared/lambda/clients.ts';
import { toMskEvent } from '../../../shared/lambda/msk-event.ts';
import { recordRetryEnv } from '../../../shared/lambda/settings.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';
import { lambdaContext } from '../../fixtures/msk/index.ts';
import { installConfirmedV2, V1_TIME_ZONE, VERSIONED_TOPIC } from '../../fixtures/versioned-catalog.ts';
import { fetchRecords, json, topicOffsets } from './kafka-io.ts';

/**
 * Two versions of one topic in flight: `appointment.appointment.confirmed` at v2 (a test-only catalog entry,
 * test/fixtures/versioned-catalog.ts), a v1 event from a producer not yet upgraded and a v2 event from the
 * layer, on the run's real broker, read back and handed in one batch to the real audit and notification
 * functions on dynalite and aws-ses-v2-local. A v3 event (from a producer ahead of the consumers) is
 * dead-lettered with its reason, so it can be replayed once consumers know v3.
 */
describe('two schema versions of one topic, side by side', () => {
  let aws: LocalAws;
  let kafka: Kafka;
  let publisher: KafkaProducer;
  let yesterday: Producer;
  let restore: () => void;
  const saved = { ...process.env };
  const source = () => ({
    eventSourceArn: 'arn:aws:kafka:us-east-1:000000000000:cluster/local/x',
    bootstrapServers: process.env.KAFKA_BROKERS ?? '',
  });
  const invoke = <R>(
    fn: (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<R>,
    records: RawRecord[],
  ) => fn(toMskEvent(records, source()), lambdaContext());

  beforeAll(async () => {
    restore = installConfirmedV2();
    process.env.KAFKA_BROKERS = inject('kafkaBrokers');
    aws = await startLocalAws({ dynamoPort: 0, sesPort: 0, sqs: false, env: {} });
    Object.assign(
      process.env,
      aws.env,
      recordRetryEnv({ attempts: 2, baseDelayMs: 10, maxDelayMs: 20, jitter: false }),
    );
    kafka = await createKafka();
    publisher = new KafkaProducer({ handleSignals: false, kafka });
    yesterday = kafka.producer();
    await yesterday.connect();
  });

  afterAll(async () => {
    await yesterday?.disconnect();
    await publisher?.disconnect();
    await producer.disconnect();
    await resetClients();
    await aws?.stop();
    process.env = saved;
    restore?.();
  });

  /** What a producer still on v1 (or one already on v3) writes: the envelope, that version's payload. */
  const publishRaw = async (payload: Record<string, unknown>, schemaVersion: number) => {
    const v2Shaped = { ...samplePayloads[VERSIONED_TOPIC], timeZone: 'x' };
    const { event } = encodeEvent(VERSIONED_TOPIC, v2Shaped, sampleMeta());
    const { timeZone: _, ...envelope } = event as unknown as Record<string, unknown>;
    const value = JSON.stringify({ ...envelope, ...payload, schemaVersion });
    await yesterday.send({
      topic: VERSIONED_TOPIC,
      acks: -1,
      messages: [{ key: String(payload.appointmentId), value, headers: headersFor(event) }],
    });
    return event.eventId;
  };

  it('audits and notifies a v1 and a v2 event of one topic, and dead-letters a v3 event with its reason', async () => {
    // Prepare: a patient with an e-mail address, then three confirmations of three appointments
    const patientId = `p-${randomUUID()}`;
    const email = `${patientId}@example.org`;
    const registered = await publisher.publish(
      TOPICS.USER_REGISTERED,
      { userId: patientId, email, role: 'patient', language: 'en' },
      sampleMeta(),
    );
    const appointment = (n: number) => ({
      ...samplePayloads[VERSIONED_TOPIC],
      appointmentId: `a-${randomUUID()}-${n}`,
      patientId,
    });
    const [a1, a2, a3] = [appointment(1), appointment(2), appointment(3)];
    const v1Id = await publishRaw(a1, 1);
    const v2 = await publisher.publish(
      VERSIONED_TOPIC,
      { ...a2, timeZone: 'America/Martinique' } as PayloadOf<typeof VERSIONED_TOPIC>,
      sampleMeta(),
    );
    const v3Id = await publishRaw({ ...a3, startsAt: '2026-12-01T09:30:00-04:00' }, 3);
    const ids = new Set([v1Id, v2.eventId, v3Id]);
    const records = await fetchRecords(kafka, VERSIONED_TOPIC, (r) => ids.has(json(r).eventId as string), 3);
    const [contact] = await fetchRecords(
      kafka,
      TOPICS.USER_REGISTERED,
      (r) => json(r).eventId === registered.eventId,
      1,
    );

    const dlqBefore = await topicOffsets(kafka, DLQ_TOPIC);

    // Act: one batch each, as the event-source mapping delivers a partition's records
    expect(await invoke(notificationHandler, [contact as RawRecord])).toEqual({ batchItemFailures: [] });
    const audited = await invoke(auditHandler, records);
    const notified = await invoke(notificationHandler, records);

    // Assess: nothing left for a retry; v1 and v2 audited with the version they were published in
    expect(audited).toEqual({ batchItemFailures: [] });
    expect(notified).toEqual({ batchItemFailures: [] });
    const entry = async (appointmentId: string) =>
      (await queryAudit('byResource', `appointment#${appointmentId}`))[0];
    expect(await entry(a1.appointmentId)).toMatchObject({ eventId: v1Id, schemaVersion: 1 });
    expect((await entry(a1.appointmentId))?.metadata).toMatchObject({ timeZone: V1_TIME_ZONE });
    expect(await entry(a2.appointmentId)).toMatchObject({ eventId: v2.eventId, schemaVersion: 2 });
    expect((await entry(a2.appointmentId))?.metadata).toMatchObject({ timeZone: 'America/Martinique' });
    expect(await entry(a3.appointmentId)).toBeUndefined();

    // Both notified in-app and by e-mail; the v3 event notified nobody
    const emails = await sentEmails(aws.env.SES_ENDPOINT as string, email);
    expect(emails.map((e) => e.subject)).toEqual(['Appointment confirmed', 'Appointment confirmed']);
    const inbox = await dynamo().send(
      new QueryCommand({
        TableName: aws.env.INBOX_TABLE,
        KeyConditionExpression: 'recipientId = :r',
        ExpressionAttributeValues: { ':r': patientId },
      }),
    );
    expect((inbox.Items ?? []).map((i) => i.sourceEventId).sort()).toEqual([v1Id, v2.eventId].sort());

    // The v3 record is dead-lettered (twice: once per function), its reason naming the accepted versions
    const letters = await fetchRecords(
      kafka,
      DLQ_TOPIC,
      (r) => {
        const letter = json(r) as unknown as DeadLetter;
        // esante.dlq also holds replay markers, which have no `original`
        return Buffer.from(letter.original?.value ?? '', 'base64')
          .toString()
          .includes(a3.appointmentId);
      },
      2,
      30_000,
      dlqBefore,
    );
    for (const record of letters) {
      expect(json(record)).toMatchObject({
        originalTopic: VERSIONED_TOPIC,
        errorClass: 'EventValidationError',
        errorCode: 'VALIDATION_FAILED',
      });
      expect(json(record).error).toContain('version 3 is not accepted here (accepted: 1, 2)');
    }
    expect(letters.map((r) => json(r).failedBy).sort()).toEqual(['audit', 'notification']);
    console.log(
      `${VERSIONED_TOPIC}: v1 and v2 events audited (schemaVersion 1 and 2) and e-mailed (${emails.length}); v3 dead-lettered by ${letters.length} functions`,
    );
  });
});
