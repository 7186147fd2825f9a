import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { handler as auditHandler } from '../../../functions/audit/handler.ts';
import { queryAudit } from '../../../functions/audit/store.ts';
import { consumerByName } from '../../../infra/consumers.ts';
import { type LocalAws, startLocalAws } from '../../../infra/local/aws/index.ts';
import { type RunningEsm, startEsm } from '../../../infra/local/esm/emulator.ts';
import type { OnFailureRecord } from '../../../infra/local/esm/on-failure.ts';
import { encodeEvent, TOPICS } from '../../../shared/events/index.ts';
import { provisionTopics } from '../../../shared/kafka/admin.ts';
import type { CompressionName } from '../../../shared/kafka/codecs.ts';
import { createKafka } from '../../../shared/kafka/config.ts';
import { KafkaConsumer } from '../../../shared/kafka/consumer.ts';
import { KafkaProducer } from '../../../shared/kafka/producer.ts';
import type { RawRecord } from '../../../shared/kafka/record.ts';
import { resetClients } from '../../../shared/lambda/clients.ts';
import { recordRetryEnv } from '../../../shared/lambda/settings.ts';
import { sampleMeta, samplePayloads } from '../../fixtures/events.ts';
import { eventually } from '../esm/harness.ts';
import { fetchRecords } from '../functions/kafka-io.ts';
import { headersOf, type JavaClient, type JavaRecord, javaClient } from './java.ts';

const TOPIC = TOPICS.APPOINTMENT_CONFIRMED;
const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const;

/** An appointment-confirmed event as the layer encodes it, as a record for the Java client to write. */
const javaRecord = (appointmentId: string, extra: Partial<JavaRecord> = {}): JavaRecord => {
  const encoded = encodeEvent(TOPIC, { ...samplePayloads[TOPIC], appointmentId }, sampleMeta());
  return {
    key: Buffer.from(encoded.key),
    value: Buffer.from(encoded.value),
    headers: Object.fromEntries(Object.entries(encoded.headers).map(([k, v]) => [k, Buffer.from(v)])),
    ...extra,
  };
};

const withHeader = (record: JavaRecord, name: string, value: Buffer): JavaRecord => ({
  ...record,
  headers: { ...record.headers, [name]: value },
});

const appointmentOf = (record: RawRecord): string =>
  String((JSON.parse(record.value?.toString('utf8') ?? '{}') as { appointmentId?: unknown }).appointmentId);

/**
 * Kafka's Java client on one side, the bus on the other, on the run's real broker: records the Java producer
 * writes (every codec, null keys, binary headers, transactions) go through the ESM emulator into the real
 * audit function (dynalite) and through the consumer utility; events our producer writes are read back by
 * the Java consumer.
 */
describe('the Kafka Java client and the bus', () => {
  const brokers = inject('kafkaBrokers');
  const run = randomUUID().slice(0, 8);
  const saved = { ...process.env };
  let aws: LocalAws;
  let kafka: Kafka;
  let java: JavaClient;
  let esm: RunningEsm;
  let consumer: KafkaConsumer;
  const onFailure: OnFailureRecord[] = [];
  /** Records the consumer utility handled, by appointmentId (only this file's). */
  const handled = new Map<string, RawRecord>();

  const audited = async (appointmentId: string) => queryAudit('byResource', `appointment#${appointmentId}`);
  const allAudited = (ids: string[]) =>
    eventually(
      async () => (await Promise.all(ids.map(audited))).every((entries) => entries.length === 1),
      `audit entries for ${ids.length} events`,
      60_000,
    );
  const allHandled = (ids: string[]) =>
    eventually(
      () => ids.every((id) => handled.has(id)),
      `the consumer utility to handle ${ids.length} events`,
      60_000,
    );

  beforeAll(async () => {
    process.env.KAFKA_BROKERS = brokers;
    aws = await startLocalAws({ dynamoPort: 0, sesPort: 0, sqs: false, env: {} });
    Object.assign(
      process.env,
      aws.env,
      recordRetryEnv({ attempts: 2, baseDelayMs: 10, maxDelayMs: 20, jitter: false }),
    );
    kafka = await createKafka();
    await provisionTopics(kafka);
    java = await javaClient();
    const audit = consumerByName('audit');
    if (!audit) throw new Error('consumers.ts has no audit definition');
    esm = await startEsm({
      source: {
        ...audit,
        topics: [TOPIC],
        groupId: `interop-audit-${run}`,
        startingPosition: 'TRIM_HORIZON',
      },
      handler: auditHandler,
      onFailure: { send: async (record) => void onFailure.push(record) },
      kafka,
      bootstrapServers: brokers,
      windowScale: 0.1,
    });
    consumer = new KafkaConsumer(`interop-utility-${run}`, [TOPIC], { kafka, fromBeginning: true });
    consumer.registerHandler(TOPIC, (_event, { record }) => {
      const id = appointmentOf(record);
      if (id.includes(run)) handled.set(id, record);
    });
    await consumer.startConsuming();
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([esm?.stop(), consumer?.disconnect()]);
    await java?.close();
    await resetClients();
    await aws?.stop();
    process.env = saved;
  });

  it('audits and handles Java records of every codec, then an uncompressed event after them', async () => {
    // Prepare: two events per codec, each codec's in one compressed batch
    const ids = CODECS.map((codec) => [0, 1].map((i) => `a-${run}-${codec}-${i}`));
    const plain = `a-${run}-plain`;

    // Act
    await java.produce(
      brokers,
      CODECS.map((compression, c) => ({
        topic: TOPIC,
        compression,
        records: (ids[c] ?? []).map((id) => javaRecord(id)),
      })),
    );
    const producer = new KafkaProducer({ kafka, compression: 'none', handleSignals: false });
    await producer.publish(TOPIC, { ...samplePayloads[TOPIC], appointmentId: plain }, sampleMeta());
    await producer.disconnect();

    // Assess
    const every = [...ids.flat(), plain];
    await allAudited(every);
    await allHandled(every);
    expect(onFailure).toEqual([]);
    console.log(
      `${every.length} events (2 per codec: ${CODECS.join(', ')}; then 1 uncompressed) audited and handled`,
    );
  }, 120_000);

  it('keeps a null key and binary header values as they were written', async () => {
    const ids = [0, 1].map((i) => `a-${run}-nullkey-${i}`);
    const binary = Buffer.from([0x00, 0xff, 0x80, 0x0a, 0xfe]);

    await java.produce(brokers, [
      { topic: TOPIC, compression: 'lz4', records: ids.map((id) => javaRecord(id, { key: null })) },
    ]);
    await java.produce(brokers, [
      {
        topic: TOPIC,
        compression: 'none',
        records: [withHeader(javaRecord(`a-${run}-binary`), 'trace', binary)],
      },
    ]);

    await allHandled([...ids, `a-${run}-binary`]);
    await allAudited([...ids, `a-${run}-binary`]);
    for (const id of ids) expect(handled.get(id)?.key).toBeNull();
    expect(handled.get(`a-${run}-binary`)?.headers.trace).toEqual(binary);
  }, 120_000);

  it('never processes the records of an aborted transaction, and processes the committed ones', async () => {
    const aborted = [0, 1].map((i) => `a-${run}-aborted-${i}`);
    const committed = [0, 1].map((i) => `a-${run}-committed-${i}`);

    await java.transactional(
      brokers,
      TOPIC,
      aborted.map((id) => javaRecord(id, { partition: 0 })),
      committed.map((id) => javaRecord(id, { partition: 0 })),
    );

    // The committed records come after the aborted ones in the same partition: once they are processed, the
    // aborted ones have been passed over.
    await allAudited(committed);
    await allHandled(committed);
    for (const id of aborted) {
      expect(handled.has(id)).toBe(false);
      expect(await audited(id)).toEqual([]);
    }
  }, 120_000);

  it('lets the Java consumer read what our producer wrote, with every codec, key, value and headers intact', async () => {
    const marker = `b-${run}`;
    const codecs: CompressionName[] = ['none', ...CODECS];
    const eventIds = new Map<string, string>();

    for (const compression of codecs) {
      const producer = new KafkaProducer({ kafka, compression, handleSignals: false });
      const appointmentId = `${marker}-${compression}`;
      const { eventId } = await producer.publish(
        TOPIC,
        { ...samplePayloads[TOPIC], appointmentId },
        sampleMeta(),
      );
      await producer.disconnect();
      eventIds.set(appointmentId, eventId);
    }
    const read = await java.consume(brokers, TOPIC, marker, codecs.length);
    const ours = await fetchRecords(kafka, TOPIC, (r) => appointmentOf(r).startsWith(marker), codecs.length);

    expect(read).toHaveLength(codecs.length);
    for (const record of read) {
      const mine = ours.find((r) => r.partition === record.partition && r.offset === record.offset);
      const event = JSON.parse(record.value.toString('utf8')) as Record<string, unknown>;
      expect(event.eventId).toBe(eventIds.get(String(event.appointmentId)));
      expect(record.key?.toString('utf8')).toBe(event.appointmentId);
      expect(record.value.equals(mine?.value ?? Buffer.alloc(0))).toBe(true);
      expect(record.headers).toEqual(headersOf(mine as RawRecord));
      expect(record.headers.ce_id?.toString('utf8')).toBe(event.eventId);
    }
    console.log(`Java consumer read ${read.length} events written with ${codecs.join(', ')}, bytes intact`);
  }, 120_000);
});
