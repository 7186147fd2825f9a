import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Kafka } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { auditKey } from '../../../functions/audit/audit.ts';
import { chainEntries, listChainHeads } from '../../../functions/audit/store.ts';
import { consumerByName } from '../../../infra/consumers.ts';
import { type LocalAws, startLocalAws } from '../../../infra/local/aws/index.ts';
import { loadHandler, type RunningEsm, startEsm } from '../../../infra/local/esm/emulator.ts';
import { onFailureRecord, sqsOnFailureSink } from '../../../infra/local/esm/on-failure.ts';
import { LOCAL_CLUSTER_ARN, localFunctionArn } from '../../../infra/local/esm/source.ts';
import { verifyAuditTrail } from '../../../infra/ops/audit-cli.ts';
import { PHI_HIDDEN } from '../../../infra/ops/dlq.ts';
import { type DlqContext, listEntries, main } from '../../../infra/ops/dlq-cli.ts';
import { CATALOG, type PayloadOf, TOPICS } from '../../../shared/events/index.ts';
import { provisionTopics } from '../../../shared/kafka/admin.ts';
import { createKafka } from '../../../shared/kafka/config.ts';
import { DeadLetterPublisher, originalRecord } from '../../../shared/kafka/dlq.ts';
import { KafkaProducer, producer } from '../../../shared/kafka/producer.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';
import { awsClientConfig, dynamo, resetClients } from '../../../shared/lambda/clients.ts';
import { recordRetryEnv } from '../../../shared/lambda/settings.ts';
import { PHI_MARKER, sampleMeta, samplePayloads } from '../../fixtures/events.ts';
import { eventually, unique } from '../../helpers/kafka.ts';
import { fetchRecords, json } from '../functions/kafka-io.ts';

const TOPIC = TOPICS.APPOINTMENT_REQUESTED;

/** The eventId of a Kafka dead letter's original record; the broker's DLQ also holds other tests' bad bytes. */
const letterEventId = (entry: { letter?: Parameters<typeof originalRecord>[0] }): unknown => {
  if (!entry.letter) return undefined;
  try {
    return json(originalRecord(entry.letter)).eventId;
  } catch {
    return undefined;
  }
};

const auditDefinition = () => {
  const definition = consumerByName('audit');
  if (!definition) throw new Error('infra/consumers.ts has no audit function');
  return definition;
};
type Requested = PayloadOf<typeof TOPIC>;

/**
 * `npm run dlq` against real parts: the run's Kafka broker, dynalite, ElasticMQ (the ESM's SQS on-failure
 * queue) and the ESM emulator driving the real audit function. Each tier dead-letters for a real reason;
 * the redrive then turns both kinds back into audit entries, and replaying again changes nothing.
 */
describe('npm run dlq', () => {
  let aws: LocalAws;
  let kafka: Kafka;
  let publisher: KafkaProducer;
  let sqs: SQSClient;
  let ctx: DlqContext & { lines: string[] };
  let esm: RunningEsm | undefined;
  const saved = { ...process.env };

  beforeAll(async () => {
    process.env.KAFKA_BROKERS = inject('kafkaBrokers');
    aws = await startLocalAws({ dynamoPort: 0, sesPort: 0, sqsPort: 0, env: {} });
    Object.assign(
      process.env,
      aws.env,
      recordRetryEnv({ attempts: 2, baseDelayMs: 10, maxDelayMs: 20, jitter: false }),
    );
    kafka = await createKafka();
    await provisionTopics(kafka);
    publisher = new KafkaProducer({ handleSignals: false, kafka });
    sqs = new SQSClient(awsClientConfig('sqs'));
    const lines: string[] = [];
    ctx = {
      kafka,
      sqs: { client: sqs, queueUrl: aws.env.ESM_DLQ_URL as string },
      print: (line) => void lines.push(...line.split('\n')),
      lines,
    };
  });

  afterEach(async () => {
    await esm?.stop();
    esm = undefined;
    ctx.lines.length = 0;
  });

  afterAll(async () => {
    await publisher?.disconnect();
    await producer.disconnect();
    await resetClients();
    sqs?.destroy();
    await aws?.stop();
    process.env = saved;
  });

  const run = async (...argv: string[]) => {
    ctx.lines.length = 0;
    const code = await main(argv, ctx);
    return { code, out: ctx.lines.join('\n') };
  };

  const requested = (appointmentId: string, reason: string): Requested => ({
    ...samplePayloads[TOPIC],
    appointmentId,
    patientId: `p-${randomUUID()}`,
    reason,
  });

  /** The group's lag on the topic is zero: everything published so far was handled (or discarded). */
  const caughtUp = async (groupId: string) => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const high = await admin.fetchTopicOffsets(TOPIC);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [TOPIC] });
      return high.every(
        (p) => committed?.partitions.find((c) => c.partition === p.partition)?.offset === p.high,
      );
    } finally {
      await admin.disconnect();
    }
  };

  /** Every audit entry in this file's fresh table, as eventIds (one per entry of every hash chain). */
  const auditedEventIds = async () => {
    const ids: string[] = [];
    for (const head of await listChainHeads()) {
      ids.push(...(await chainEntries(head.chainKey)).map((e) => e.eventId));
    }
    return ids.sort();
  };

  const recordedAt = async (eventId: string) =>
    (
      await dynamo().send(
        new GetCommand({ TableName: process.env.AUDIT_TABLE, Key: auditKey(eventId), ConsistentRead: true }),
      )
    ).Item?.recordedAt as string | undefined;

  it('redrives a dead letter of each tier into exactly one audit entry per event, however often it is replayed', async () => {
    // Prepare: the real audit function behind the ESM, on a fresh group that starts at the topic's end.
    // `crashing` makes the whole invocation fail (as a runtime crash would) so the ESM gives the batch up.
    const groupId = unique('dlq-redrive');
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(TOPIC);
    await admin.setOffsets({
      groupId,
      topic: TOPIC,
      partitions: ends.map(({ partition, high }) => ({ partition, offset: high })),
    });
    await admin.disconnect();
    const audit = await loadHandler('functions/audit/handler.ts');
    let crashing = false;
    esm = await startEsm({
      // A small retry budget, so the crashing tier gives its batch up within the test.
      source: { ...auditDefinition(), topics: [TOPIC], groupId, retryAttempts: 2 },
      handler: (event, context) => {
        if (crashing) throw new Error('Runtime exited with error: signal: killed');
        return audit(event, context);
      },
      onFailure: sqsOnFailureSink(),
      kafka,
      windowScale: 0.1,
      retryDelayMs: 10,
    });
    const appointment = `a-${randomUUID()}`;
    const table = process.env.AUDIT_TABLE as string;

    // Tier 1: the audit table is unreachable; the in-function tier retries, then dead-letters to esante.dlq.
    process.env.AUDIT_TABLE = `missing-${randomUUID()}`;
    const poison = await publisher.publish(
      TOPIC,
      requested(appointment, `${PHI_MARKER} poison`),
      sampleMeta(),
    );
    await publisher.flush();
    await eventually(() => caughtUp(groupId), 30_000);
    process.env.AUDIT_TABLE = table;

    // Tier 2: the function crashes on every invocation; the ESM retries, bisects, then sends the on-failure
    // record (offsets only) to SQS. Same appointment, so the same partition and one batch.
    crashing = true;
    const crashed = [
      await publisher.publish(TOPIC, requested(appointment, `${PHI_MARKER} crash 1`), sampleMeta()),
      await publisher.publish(TOPIC, requested(appointment, `${PHI_MARKER} crash 2`), sampleMeta()),
    ];
    await publisher.flush();
    await eventually(() => caughtUp(groupId), 30_000);
    crashing = false;
    const allIds = [poison.eventId, ...crashed.map((c) => c.eventId)].sort();
    expect(await auditedEventIds()).toEqual([]);

    const entries = await listEntries(ctx);
    const kafkaEntry = entries.find((e) => letterEventId(e) === poison.eventId);
    const sqsEntries = entries.filter((e) => e.source === 'sqs');
    expect(kafkaEntry?.failedBy).toBe('audit');
    expect(kafkaEntry?.reason).toMatch(/ResourceNotFound|RETRIES_EXHAUSTED/);
    expect(sqsEntries.length).toBeGreaterThanOrEqual(1);
    expect(sqsEntries.every((e) => e.failedBy === localFunctionArn('audit'))).toBe(true);
    const ids = [kafkaEntry?.id as string, ...sqsEntries.map((e) => e.id)];

    // Act: list, replay keeping the SQS entries, replay again (which deletes them), then let the ESM drain
    const listed = await run('list');
    const first = await run('replay', ...ids, '--keep');
    await eventually(async () => (await auditedEventIds()).length === 3 && caughtUp(groupId), 30_000);
    const stamps = await Promise.all(allIds.map(recordedAt));
    const afterKeep = await listEntries(ctx, 'sqs');
    const second = await run('replay', ...ids);
    await eventually(() => caughtUp(groupId), 30_000);
    const afterSecond = await run('list', '--source', 'sqs');

    // Assess: every event audited exactly once, the trail's hash chains intact (a second write would have
    // claimed another chain position), the first entries untouched, the SQS entries gone only after --keep
    expect(listed.code).toBe(0);
    for (const id of ids) expect(listed.out).toContain(id);
    expect(listed.out).not.toContain(PHI_MARKER);
    expect(first.code).toBe(0);
    expect(first.out).toContain(`${kafkaEntry?.id}: 1 record(s) → topic ${TOPIC}`);
    expect(first.out).toMatch(/sqs:\S+: \d record\(s\) → function audit/);
    expect(second.code).toBe(0);
    expect(await auditedEventIds()).toEqual(allIds);
    expect(await Promise.all(allIds.map(recordedAt))).toEqual(stamps);
    expect(stamps.every(Boolean)).toBe(true);
    const report = await verifyAuditTrail();
    expect(report.problems).toEqual([]);
    expect(report.pendingClaims).toEqual([]);
    expect(afterKeep.map((e) => e.id).sort()).toEqual(sqsEntries.map((e) => e.id).sort());
    expect(afterSecond.out).toBe('0 dead letter(s)');
    const replays = await fetchRecords(
      kafka,
      TOPIC,
      (r) => r.headers['dlq-replay-of']?.toString() === kafkaEntry?.id,
      2,
    );
    expect(replays.map((r) => json(r).eventId)).toEqual([poison.eventId, poison.eventId]);
  });

  it('shows both kinds of entry with PHI fields hidden unless --show-phi, and leaves the queue as it was', async () => {
    // Prepare: a dead letter written by the in-function tier's publisher, and an on-failure record for a
    // record still in Kafka (as the ESM sends it: offsets only)
    const reason = `${PHI_MARKER} ${randomUUID()}`;
    const { eventId } = await publisher.publish(TOPIC, requested(`a-${randomUUID()}`, reason), sampleMeta());
    await publisher.flush();
    const [record] = (await fetchRecords(kafka, TOPIC, (r) => json(r).eventId === eventId, 1)) as RawRecord[];
    const dlqProducer = kafka.producer();
    await dlqProducer.connect();
    await new DeadLetterPublisher(dlqProducer, 'audit').send(
      record as RawRecord,
      new Error(`handler refused ${reason}`), // a careless message quoting the payload
      3,
    );
    await dlqProducer.disconnect();
    await sqsOnFailureSink().send(
      onFailureRecord({
        records: [record as RawRecord],
        functionArn: localFunctionArn('audit'),
        eventSourceArn: LOCAL_CLUSTER_ARN,
        bootstrapServers: process.env.KAFKA_BROKERS ?? '',
        payloadSize: 1,
        approximateInvokeCount: 4,
        functionError: 'Unhandled',
      }),
    );
    const entries = await listEntries(ctx);
    const kafkaId = entries.find((e) => letterEventId(e) === eventId)?.id;
    const sqsId = entries.find(
      (e) =>
        e.source === 'sqs' &&
        e.ranges[0]?.first === record?.offset &&
        e.ranges[0]?.partition === record?.partition,
    )?.id;
    expect(kafkaId).toBeDefined();
    expect(sqsId).toBeDefined();

    // Act
    const hidden = [await run('show', kafkaId as string), await run('show', sqsId as string)];
    const listed = await run('list');
    const shown = [
      await run('show', kafkaId as string, '--show-phi'),
      await run('show', sqsId as string, '--show-phi'),
    ];
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.env.ESM_DLQ_URL,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );

    // Assess
    expect(CATALOG[TOPIC].phi).toContain('reason');
    for (const { code, out } of hidden) {
      expect(code).toBe(0);
      expect(out).not.toContain(PHI_MARKER);
      const shownEntry = JSON.parse(out) as { records: { value: Record<string, unknown> }[] };
      expect(shownEntry.records).toHaveLength(1);
      expect(shownEntry.records[0]?.value).toMatchObject({
        eventId,
        reason: PHI_HIDDEN,
        patientId: expect.any(String),
      });
    }
    expect(listed.out).toContain(kafkaId);
    expect(listed.out).not.toContain(PHI_MARKER);
    for (const { code, out } of shown) {
      expect(code).toBe(0);
      const shownEntry = JSON.parse(out) as { records: { value: Record<string, unknown> }[] };
      expect(shownEntry.records[0]?.value).toMatchObject({ eventId, reason });
    }
    expect(Messages.map((m) => `sqs:${m.MessageId}`)).toContain(sqsId);
  });
});
