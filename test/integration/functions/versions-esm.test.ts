import { randomUUID } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditEntry, auditKey } from '../../../functions/audit/audit.ts';
import { handler as auditHandler } from '../../../functions/audit/handler.ts';
import { AUDIT_TABLE_ENV } from '../../../functions/audit/store.ts';
import { deliveryId, getDelivery } from '../../../functions/notification/deliveries.ts';
import { handler as notificationHandler } from '../../../functions/notification/handler.ts';
import { consumerByName } from '../../../infra/consumers.ts';
import { type LocalAws, startLocalAws } from '../../../infra/local/aws/index.ts';
import { type LambdaHandler, type RunningEsm, startEsm } from '../../../infra/local/esm/emulator.ts';
import type { OnFailureRecord } from '../../../infra/local/esm/on-failure.ts';
import { encodeEvent, headersFor, type PayloadOf } from '../../../shared/events/index.ts';
import { provisionTopics } from '../../../shared/kafka/admin.ts';
import { createKafka } from '../../../shared/kafka/config.ts';
import { KafkaProducer, producer as sharedProducer } from '../../../shared/kafka/producer.ts';
import { dynamo, resetClients } from '../../../shared/lambda/clients.ts';
import { recordRetryEnv } from '../../../shared/lambda/settings.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';
import { installConfirmedV2, VERSIONED_TOPIC } from '../../fixtures/versioned-catalog.ts';
import { useOwnBroker } from '../../helpers/own-broker.ts';
import { eventually } from '../esm/harness.ts';

/**
 * The same two versions through the local event-source mapping: the audit and notification functions'
 * mappings (infra/consumers.ts settings, TRIM_HORIZON) read a v1 and a v2 event of one topic from a broker of
 * this file's own and process both, with no on-failure record.
 */
describe('two schema versions of one topic behind the event-source mapping', () => {
  const own = useOwnBroker();
  const run = randomUUID().slice(0, 8);
  const saved = { ...process.env };
  let restore: () => void;
  let aws: LocalAws;
  let kafka: Kafka;
  let publisher: KafkaProducer;
  let yesterday: Producer;
  const running: RunningEsm[] = [];
  const onFailure: OnFailureRecord[] = [];

  beforeAll(async () => {
    restore = installConfirmedV2();
    process.env.KAFKA_BROKERS = own.brokers();
    aws = await startLocalAws({ dynamoPort: 0, sesPort: 0, sqs: false, env: {} });
    Object.assign(
      process.env,
      aws.env,
      recordRetryEnv({ attempts: 2, baseDelayMs: 10, maxDelayMs: 20, jitter: false }),
    );
    kafka = await createKafka();
    await provisionTopics(kafka);
    publisher = new KafkaProducer({ handleSignals: false, kafka });
    yesterday = kafka.producer();
    await yesterday.connect();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(running.map((esm) => esm.stop()));
    await yesterday?.disconnect();
    await publisher?.disconnect();
    await sharedProducer.disconnect();
    await resetClients();
    await aws?.stop();
    process.env = saved;
    restore?.();
  });

  it('audits and notifies both, with nothing sent to the on-failure destination', async () => {
    // Prepare: a v1 event as a producer not yet upgraded writes it, then a v2 event from the layer
    const patientId = `p-${run}`;
    const a1 = { ...samplePayloads[VERSIONED_TOPIC], appointmentId: `a-${run}-1`, patientId };
    const a2 = { ...a1, appointmentId: `a-${run}-2`, timeZone: 'America/Martinique' };
    const { event } = encodeEvent(VERSIONED_TOPIC, a2 as PayloadOf<typeof VERSIONED_TOPIC>, sampleMeta());
    const { timeZone: _, ...v1Envelope } = event as unknown as Record<string, unknown>;
    await yesterday.send({
      topic: VERSIONED_TOPIC,
      acks: -1,
      messages: [
        {
          key: a1.appointmentId,
          value: JSON.stringify({ ...v1Envelope, ...a1, schemaVersion: 1 }),
          headers: headersFor(event),
        },
      ],
    });
    const v1Id = event.eventId;
    const v2 = await publisher.publish(
      VERSIONED_TOPIC,
      a2 as PayloadOf<typeof VERSIONED_TOPIC>,
      sampleMeta(),
    );

    // Act: the two functions' mappings on that topic, from the beginning
    for (const [name, handler] of [
      ['audit', auditHandler],
      ['notification', notificationHandler],
    ] as const) {
      const definition = consumerByName(name);
      if (!definition) throw new Error(`consumers.ts has no ${name} definition`);
      running.push(
        await startEsm({
          source: {
            ...definition,
            topics: [VERSIONED_TOPIC],
            groupId: `versions-${name}-${run}`,
            startingPosition: 'TRIM_HORIZON' as const,
          },
          handler: handler as LambdaHandler,
          onFailure: { send: async (record) => void onFailure.push(record) },
          kafka,
          bootstrapServers: own.brokers(),
          windowScale: 0.1,
        }),
      );
    }

    // Assess: both audited with their version, both notified in-app, nothing failed
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
    const entries = await eventually(
      async () => {
        const both = await Promise.all([entryOf(v1Id), entryOf(v2.eventId)]);
        return both.every(Boolean) ? both : undefined;
      },
      'both events audited',
      90_000,
    );
    expect(entries.map((e) => e?.schemaVersion)).toEqual([1, 2]);
    const deliveries = await eventually(
      async () => {
        const both = await Promise.all(
          [v1Id, v2.eventId].map((id) => getDelivery(deliveryId(id, patientId, 'in_app'))),
        );
        return both.every((d) => d?.status === 'published') ? both : undefined;
      },
      'both events notified',
      90_000,
    );
    expect(deliveries).toHaveLength(2);
    expect(onFailure).toEqual([]);
    console.log(
      `${VERSIONED_TOPIC} behind the ESM emulator: v1 and v2 audited and notified, 0 on-failure records`,
    );
  }, 240_000);
});
