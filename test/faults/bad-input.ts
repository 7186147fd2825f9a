import { randomUUID } from 'node:crypto';
import type { IHeaders } from 'kafkajs';
import { EventBusError } from '../../shared/errors.ts';
import { encodeEvent } from '../../shared/events/envelope.ts';
import { MAX_EVENT_BYTES, TOPICS } from '../../shared/events/index.ts';
import { KafkaProducer } from '../../shared/kafka/producer.ts';
import { PHI_MARKER } from '../fixtures/events.ts';
import { faultMeta } from './events.ts';
import { check, type ScenarioResult, seconds } from './report.ts';
import {
  auditEntries,
  EsmChild,
  type FaultStack,
  kafkaDeadLetters,
  sqsDeadLetters,
  waitCaughtUp,
  waitFor,
} from './stack.ts';

const TOPIC = TOPICS.CONSULTATION_ACCESSED;

interface WireCase {
  name: string;
  /** The error code the dead letter must carry; undefined = the record is valid and must be processed. */
  expect?: string;
  key: string | null;
  value: Buffer | null;
  headers?: IHeaders;
  /** Set for valid records: their eventId. */
  eventId?: string;
}

const payload = (run: string, i: number) => ({
  consultationId: `c-${run}-${i}`,
  patientId: `p-${run}-${i}`,
  accessReason: `${PHI_MARKER} corpus ${i}`,
});

/** A valid record of TOPIC as publish() would write it. */
const goodRecord = (run: string, i: number, service: string) => {
  const encoded = encodeEvent(TOPIC, payload(run, i), faultMeta(service));
  return {
    key: encoded.key,
    value: Buffer.from(encoded.value),
    headers: encoded.headers,
    eventId: encoded.event.eventId,
  };
};

/** The bad-input corpus as bytes on the wire (what a buggy or foreign producer could write). */
const wireCorpus = (run: string, service: string, round: number): WireCase[] => {
  const base = (i: number) =>
    JSON.parse(goodRecord(run, i, service).value.toString()) as Record<string, unknown>;
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  const at = (k: number) => round * 100 + k;
  const { patientId: _dropped, ...missingField } = base(at(3));
  const junk = goodRecord(run, at(8), service);
  const keyless = goodRecord(run, at(9), service);
  return [
    {
      name: 'malformed JSON',
      expect: 'MALFORMED_RECORD',
      key: 'k',
      value: Buffer.from(`{"eventType":"${TOPIC}","accessReason":"${PHI_MARKER}`),
    },
    {
      name: 'wrong types',
      expect: 'VALIDATION_FAILED',
      key: 'k',
      value: json({ ...base(at(2)), patientId: 42 }),
    },
    { name: 'missing required field', expect: 'VALIDATION_FAILED', key: 'k', value: json(missingField) },
    {
      name: 'unknown eventType on a known topic',
      expect: 'UNKNOWN_EVENT_TYPE',
      key: 'k',
      value: json({ ...base(at(4)), eventType: 'medical.consultation.exploded' }),
    },
    { name: 'null value (tombstone)', expect: 'MALFORMED_RECORD', key: 'k', value: null },
    {
      name: 'non-UTF-8 bytes',
      expect: 'MALFORMED_RECORD',
      key: 'k',
      value: Buffer.concat([
        Buffer.from('{"eventType":"'),
        Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
        Buffer.from('"}'),
      ]),
    },
    {
      name: 'oversized payload',
      expect: 'MALFORMED_RECORD',
      key: 'k',
      value: json({ ...base(at(7)), accessReason: `${PHI_MARKER} ${'x'.repeat(MAX_EVENT_BYTES)}` }),
    },
    {
      name: 'junk headers (valid value)',
      key: junk.key,
      value: junk.value,
      eventId: junk.eventId,
      headers: {
        'event-type': 'not.a.topic',
        'content-type': Buffer.from([0xff, 0x00, 0xfe]),
        ce_id: '',
        'x-junk': Buffer.alloc(4096, 0xab),
      },
    },
    { name: 'missing key (valid value)', key: null, value: keyless.value, eventId: keyless.eventId },
  ];
};

/** The same corpus handed to the producer layer: each must throw a typed error before anything is sent. */
const publishCorpus = (run: string): { name: string; call: (p: KafkaProducer) => Promise<unknown> }[] => {
  const meta = () => faultMeta(`faults-corpus-publish-${run}`);
  const good = payload(run, 999);
  return [
    { name: 'malformed JSON', call: (p) => p.publish(TOPIC, `{"consultationId":` as never, meta()) },
    { name: 'wrong types', call: (p) => p.publish(TOPIC, { ...good, patientId: 42 } as never, meta()) },
    {
      name: 'missing required field',
      call: (p) => p.publish(TOPIC, { consultationId: good.consultationId } as never, meta()),
    },
    {
      name: 'unknown eventType on a known topic',
      call: (p) => p.sendEvent(TOPIC, { ...good, eventType: 'medical.consultation.exploded' }),
    },
    {
      name: 'unknown topic',
      call: (p) => p.publish('medical.consultation.exploded' as never, good as never, meta()),
    },
    { name: 'null value (tombstone)', call: (p) => p.publish(TOPIC, null as never, meta()) },
    {
      name: 'non-UTF-8 bytes',
      call: (p) => p.publish(TOPIC, { ...good, accessReason: Buffer.from([0xc3, 0x28]) } as never, meta()),
    },
    {
      name: 'oversized payload',
      call: (p) => p.publish(TOPIC, { ...good, accessReason: 'x'.repeat(MAX_EVENT_BYTES) }, meta()),
    },
    { name: 'junk headers', call: (p) => p.sendEvent(TOPIC, { ...good, headers: { 'x-junk': '\u0000' } }) },
    {
      name: 'missing key (no partition-key field)',
      call: (p) => p.publish(TOPIC, { patientId: good.patientId } as never, meta()),
    },
  ];
};

export interface BadInputOptions {
  /** How many times the corpus goes through (each round: every case between two good events). */
  rounds: number;
  dlqTimeoutMs?: number;
  /** Check "within 5 s" (the full run); the short test reports the time but does not assert it. */
  assertTiming?: boolean;
}

/**
 * The bad-input corpus through the bus: each case written to partition 0 of a topic between good events, the
 * ESM child consuming. Each bad record must be dead-lettered with its reason (code) and original bytes, the
 * good ones around it processed, the partition never blocked, no process crash. Then the same corpus given
 * to the producer layer must fail with typed errors and send nothing.
 */
export const badInput = async (stack: FaultStack, options: BadInputOptions): Promise<ScenarioResult> => {
  const run = randomUUID().slice(0, 8);
  const suffix = stack.groupSuffix;
  const service = `faults-corpus-${run}`;
  const child = new EsmChild(stack, suffix);
  await child.start();
  const raw = stack.kafka.producer({ allowAutoTopicCreation: false });
  await raw.connect();

  const sent: { case: WireCase; offset: string; at: number }[] = [];
  const goods: string[] = [];
  const send = async (c: WireCase) => {
    const [meta] = await raw.send({
      topic: TOPIC,
      acks: -1,
      messages: [{ partition: 0, key: c.key, value: c.value, headers: c.headers ?? {} }],
    });
    return { offset: String(meta?.baseOffset ?? '-1'), at: Date.now() };
  };
  let g = 0;
  const sendGood = async () => {
    const good = goodRecord(run, 10_000 + g++, service);
    goods.push(good.eventId);
    await send({ name: 'good', key: good.key, value: good.value, headers: good.headers });
  };
  for (let round = 0; round < options.rounds; round++) {
    for (const c of wireCorpus(run, service, round)) {
      await sendGood();
      sent.push({ case: c, ...(await send(c)) });
    }
  }
  await sendGood();
  await raw.disconnect();

  const bad = sent.filter((s) => s.case.expect);
  const badOffsets = new Set(bad.map((s) => s.offset));
  const isMine = (e: {
    letter?: { originalTopic: string; original: { partition: number; offset: string } };
  }) =>
    e.letter?.originalTopic === TOPIC &&
    e.letter.original.partition === 0 &&
    badOffsets.has(e.letter.original.offset);
  let letters = await kafkaDeadLetters(stack.kafka, isMine);
  await waitFor(
    async () => {
      letters = await kafkaDeadLetters(stack.kafka, isMine);
      return letters.length >= bad.length;
    },
    options.dlqTimeoutMs ?? 60_000,
    1_000,
  );
  const caughtUp = await waitCaughtUp(stack.kafka, suffix, [TOPIC], 60_000);
  const childAlive = child.running;
  await child.stop();
  const audit = await auditEntries(service);

  const rows: string[][] = [
    ['Case', 'Expected', 'Outcome (per round)', 'Time to dead letter (max)', 'Bytes kept'],
  ];
  const checks: ScenarioResult['checks'] = [];
  let slowest = 0;
  const names = [...new Set(sent.map((s) => s.case.name))];
  for (const name of names) {
    const mine = sent.filter((s) => s.case.name === name);
    const expect = mine[0]?.case.expect;
    if (expect) {
      const found = mine.map((s) => ({
        s,
        letter: letters.find((l) => l.letter?.original.offset === s.offset)?.letter,
      }));
      const outcomes = found.map(({ letter }) =>
        letter ? `${letter.errorCode ?? letter.errorClass}` : 'NOT dead-lettered',
      );
      const delays = found.map(({ s, letter }) => (letter ? letter.timestamp - s.at : Number.NaN));
      const maxDelay = Math.max(...delays);
      slowest = Math.max(slowest, Number.isNaN(maxDelay) ? Number.POSITIVE_INFINITY : maxDelay);
      const bytesKept = found.every(
        ({ s, letter }) =>
          letter !== undefined &&
          letter.original.value === (s.case.value === null ? null : s.case.value.toString('base64')),
      );
      const reasonOk = found.every(({ letter }) => letter?.errorCode === expect && Boolean(letter.error));
      rows.push([
        name,
        `dead letter ${expect}`,
        [...new Set(outcomes)].join(', '),
        seconds(maxDelay),
        bytesKept ? 'yes' : 'NO',
      ]);
      checks.push(
        check(`${name}: dead-lettered with reason ${expect} and its original bytes`, reasonOk && bytesKept),
      );
    } else {
      const processed = mine.every((s) => s.case.eventId !== undefined && audit.get(s.case.eventId) === 1);
      const wrongly = mine.filter((s) => letters.some((l) => l.letter?.original.offset === s.offset)).length;
      rows.push([
        name,
        'processed (the value is valid)',
        processed ? 'processed once' : 'NOT processed',
        '-',
        '-',
      ]);
      checks.push(check(`${name}: processed exactly once, not dead-lettered`, processed && wrongly === 0));
    }
  }
  const goodsProcessed = goods.filter((id) => audit.get(id) === 1).length;
  checks.push(
    check(
      'every good event around the bad ones processed exactly once',
      goodsProcessed === goods.length,
      `${goodsProcessed}/${goods.length}`,
    ),
    check('the partition is not blocked (everything committed)', caughtUp !== null),
    check('no process crashed', childAlive && child.crashes.length === 0, child.crashes.join('; ')),
  );

  // The same corpus given to publish(): typed errors, nothing sent (no connection was even opened).
  const admin = stack.kafka.admin();
  await admin.connect();
  const end = async () => (await admin.fetchTopicOffsets(TOPIC)).map((p) => p.high).join(',');
  const before = await end();
  const producer = new KafkaProducer({ handleSignals: false });
  const publishRows: string[][] = [];
  let typed = 0;
  const corpus = publishCorpus(run);
  for (const c of corpus) {
    try {
      await c.call(producer);
      publishRows.push([c.name, 'SENT (no error)']);
    } catch (error) {
      const ok = error instanceof EventBusError;
      if (ok) typed += 1;
      publishRows.push([c.name, ok ? `${error.name} ${error.code}` : `untyped ${(error as Error).name}`]);
    }
  }
  const after = await end();
  await admin.disconnect();
  const connected = producer.isConnected;
  await producer.disconnect();
  checks.push(
    check(
      'publish(): every corpus case throws a typed EventBusError',
      typed === corpus.length,
      `${typed}/${corpus.length}`,
    ),
    check(
      'publish(): nothing sent (end offsets unchanged, producer never connected)',
      before === after && !connected,
    ),
  );
  const onFailure = await sqsDeadLetters(stack);

  return {
    name: 'Bad-input corpus',
    figures: [
      ['Corpus cases on the wire (per round)', names.length],
      ['Rounds', options.rounds],
      ['Bad records sent / dead-lettered with a reason', `${bad.length} / ${letters.length}`],
      ['Good events around them / processed', `${goods.length} / ${goodsProcessed}`],
      ['Slowest time from write to dead letter', seconds(slowest)],
      ['ESM on-failure records (SQS)', onFailure.length],
      ['Process crashes', child.crashes.length],
      ['publish() corpus: typed errors / cases', `${typed} / ${corpus.length}`],
    ],
    checks: [
      ...checks,
      ...(options.assertTiming === false
        ? []
        : [check('every bad record dead-lettered within 5 s', slowest <= 5_000, seconds(slowest))]),
    ],
    notes: [
      `All records go to partition 0 of ${TOPIC} (read by the audit function only), each bad one between two good ones.`,
      `publish() corpus: ${publishRows.map(([n, r]) => `${n} → ${r}`).join('; ')}`,
      'Junk headers and a missing key do not make a record undecodable: the consumer validates the value ' +
        'against the catalog and does not trust headers, so a valid value with them is processed (see the table).',
    ],
    table: rows,
  };
};
