import { randomUUID } from 'node:crypto';
import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { render } from '../../functions/notification/templates.ts';
import { verifyAuditTrail } from '../../infra/ops/audit-cli.ts';
import { TABLES } from '../../infra/resources.ts';
import { TOPICS } from '../../shared/events/index.ts';
import { KafkaProducer } from '../../shared/kafka/producer.ts';
import { dynamo } from '../../shared/lambda/clients.ts';
import { PHI_MARKER } from '../fixtures/events.ts';
import { doctorEmail, doctorRegistered, type FaultEvent, faultMeta } from './events.ts';
import type { FaultProxy } from './proxy.ts';
import { check, type ScenarioResult, seconds } from './report.ts';
import {
  EsmChild,
  type FaultStack,
  kafkaDeadLetters,
  lag,
  sentEmailsTo,
  sleep,
  sqsDeadLetters,
  waitCaughtUp,
} from './stack.ts';

export interface DownstreamOptions {
  /** How long each endpoint stays unreachable (the acceptance run: 30 s). */
  outageMs: number;
  /** Appointment requests published during each outage besides the one appointment's three events. */
  others: number;
  doctors: number;
  catchUpTimeoutMs?: number;
}

const patientEmail = (run: string, phase: number) => `phi-marker-7f3a.${run}.patient-${phase}@example.org`;

/** One appointment's life: requested (e-mail to its doctor), confirmed and cancelled (e-mails to its patient). */
const appointmentLife = (run: string, phase: number, service: string): FaultEvent[] => {
  const appointmentId = `a-${run}-life-${phase}`;
  const patientId = `patient-${run}-${phase}`;
  const doctorId = `doctor-${run}-0`;
  const when = { appointmentDate: '2026-12-01', appointmentTime: '09:30' };
  return [
    {
      topic: TOPICS.APPOINTMENT_REQUESTED,
      meta: faultMeta(service),
      payload: { appointmentId, patientId, doctorId, ...when, reason: `${PHI_MARKER} life ${phase}` },
    },
    {
      topic: TOPICS.APPOINTMENT_CONFIRMED,
      meta: faultMeta(service),
      payload: { appointmentId, patientId, doctorId, ...when },
    },
    {
      topic: TOPICS.APPOINTMENT_CANCELLED,
      meta: faultMeta(service),
      payload: { appointmentId, patientId, doctorId, cancelledBy: 'patient', reason: `${PHI_MARKER} cancel` },
    },
  ] as FaultEvent[];
};

const patientRegistered = (run: string, phase: number, service: string): FaultEvent => ({
  topic: TOPICS.USER_REGISTERED,
  meta: faultMeta(service),
  payload: {
    userId: `patient-${run}-${phase}`,
    email: patientEmail(run, phase),
    role: 'patient',
    firstName: `${PHI_MARKER}-patient`,
    language: 'fr',
  },
});

/** An appointment request to doctor `doctor` (one audit entry, one e-mail to that doctor). */
const request = (run: string, i: number, doctor: number, service: string): FaultEvent => ({
  topic: TOPICS.APPOINTMENT_REQUESTED,
  meta: faultMeta(service),
  payload: {
    appointmentId: `a-${run}-${i}`,
    patientId: `p-${run}-${i}`,
    doctorId: `doctor-${run}-${doctor}`,
    appointmentDate: '2026-12-01',
    appointmentTime: '09:30',
    reason: `${PHI_MARKER} chest pain ${i}`,
  },
});

interface AuditRow {
  eventId: string;
  chainKey: string;
  chainSeq: number;
  recordedAt: string;
}

const auditRows = async (service: string): Promise<AuditRow[]> => {
  const rows: AuditRow[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await dynamo().send(
      new ScanCommand({
        TableName: TABLES.audit.name,
        FilterExpression: 'sk = :audit AND service = :service',
        ProjectionExpression: 'eventId, chainKey, chainSeq, recordedAt',
        ExpressionAttributeValues: { ':audit': 'AUDIT', ':service': service },
        ExclusiveStartKey: start,
      }),
    );
    rows.push(...((out.Items ?? []) as AuditRow[]));
    start = out.LastEvaluatedKey;
  } while (start);
  return rows;
};

/** The appointment's audit trail as a reader gets it: the byResource index, sorted by the event's own time. */
const auditTrailOf = async (appointmentId: string): Promise<string[]> => {
  const out = await dynamo().send(
    new QueryCommand({
      TableName: TABLES.audit.name,
      IndexName: 'byResource',
      KeyConditionExpression: 'resourceKey = :k',
      ExpressionAttributeValues: { ':k': `appointment#${appointmentId}` },
      ProjectionExpression: 'eventId',
      ScanIndexForward: true,
    }),
  );
  return (out.Items ?? []).map((i) => i.eventId as string);
};

/**
 * Whether a patient's e-mails about one appointment read in publish order: each subject is one of the
 * expected (in publish order), none twice, none after a later one, and the last state is among them. An
 * earlier state may be missing: an event handled after a later one of the same appointment is superseded
 * and not e-mailed (functions/notification/deliveries.ts recordNewest).
 */
const inPublishOrder = (got: string[], expected: string[]): boolean => {
  const positions = got.map((subject) => expected.indexOf(subject));
  return (
    positions.every((p, i) => p >= 0 && (i === 0 || p > (positions[i - 1] as number))) &&
    got.at(-1) === expected.at(-1)
  );
};

/**
 * DynamoDB, then SES, unreachable for `outageMs` each (a TCP proxy in front of each is cut, so the store keeps
 * its data) while one appointment's three events (requested, confirmed, cancelled) and `others` requests
 * flow. A record failing for a transient reason is never dead-lettered: the function reports it and the rest
 * of its partition as batch item failures, and the ESM retries them in order (infra/consumers.ts:
 * retryAttempts / maxRecordAgeSeconds) until the endpoint is back. After recovery: nothing in esante.dlq or
 * the SQS on-failure queue, every event audited exactly once and every request e-mailed exactly once, each
 * partition's events in the audit chain in publish order, the trail verifies, each appointment's audit trail
 * (byResource) reads in publish order, and its patient gets no e-mail older than one already received.
 */
export const downstream = async (stack: FaultStack, options: DownstreamOptions): Promise<ScenarioResult> => {
  const run = randomUUID().slice(0, 8);
  const suffix = stack.groupSuffix;
  const service = `faults-downstream-${run}`;
  const topics = [
    TOPICS.USER_REGISTERED,
    TOPICS.APPOINTMENT_REQUESTED,
    TOPICS.APPOINTMENT_CONFIRMED,
    TOPICS.APPOINTMENT_CANCELLED,
  ] as string[];
  const timeout = options.catchUpTimeoutMs ?? 600_000;
  const onFailureBefore = (await sqsDeadLetters(stack)).length;
  const child = new EsmChild(stack, suffix);
  await child.start();
  const producer = new KafkaProducer({ handleSignals: false });
  const published: FaultEvent[] = [];
  const publishAll = async (events: FaultEvent[]) => {
    published.push(...events);
    await Promise.all(events.map((e) => producer.publish(e.topic, e.payload as never, e.meta)));
  };

  const doctors = Array.from({ length: options.doctors }, (_, i) => doctorRegistered(run, i, service));
  await publishAll([...doctors, patientRegistered(run, 0, service), patientRegistered(run, 1, service)]);
  await waitCaughtUp(stack.kafka, suffix, topics, 120_000);

  const expectedEmails = new Map<string, number>();
  const expectEmail = (address: string) =>
    expectedEmails.set(address, (expectedEmails.get(address) ?? 0) + 1);
  const lives: FaultEvent[][] = [];
  let next = 0;
  const outage = async (name: string, proxy: FaultProxy, phase: number) => {
    const refusedBefore = proxy.refused;
    const life = appointmentLife(run, phase, service);
    lives.push(life);
    const half = Math.floor(options.others / 2);
    const batch = (count: number) =>
      Array.from({ length: count }, () => {
        const i = next++;
        const doctor = i % options.doctors;
        expectEmail(doctorEmail(run, doctor));
        return request(run, i, doctor, service);
      });
    proxy.cut();
    const cutAt = Date.now();
    await publishAll(batch(half));
    // The appointment's events one after the other (each acknowledged before the next is sent)
    for (const event of life) await publishAll([event]);
    expectEmail(doctorEmail(run, 0));
    await publishAll(batch(options.others - half));
    await sleep(Math.max(0, options.outageMs - (Date.now() - cutAt)));
    const waiting = await lag(stack.kafka, suffix, topics);
    const lettersDuring = (await kafkaDeadLetters(stack.kafka, (e) => e.letter?.originalTopic !== undefined))
      .length;
    proxy.restore();
    const restoredAt = Date.now();
    const caughtUpMs = await waitCaughtUp(stack.kafka, suffix, topics, timeout);
    return {
      name,
      downMs: restoredAt - cutAt,
      waiting,
      lettersDuring,
      caughtUpMs,
      refused: proxy.refused - refusedBefore,
    };
  };
  const dynamoOutage = await outage('DynamoDB', stack.dynamoProxy, 0);
  const sesOutage = await outage('SES', stack.sesProxy, 1);
  await child.stop();
  await producer.disconnect();

  // Effects
  const ids = new Set(published.map((e) => e.meta.eventId));
  const letters = await kafkaDeadLetters(stack.kafka, (_e, id) => id !== undefined && ids.has(id));
  const onFailure = (await sqsDeadLetters(stack)).length - onFailureBefore;
  const rows = await auditRows(service);
  const perEvent = new Map<string, number>();
  for (const row of rows) perEvent.set(row.eventId, (perEvent.get(row.eventId) ?? 0) + 1);
  const lost = [...ids].filter((id) => !perEvent.has(id)).length;
  const duplicates = [...perEvent.values()].reduce((s, c) => s + Math.max(0, c - 1), 0);
  const patients = [0, 1].map((phase) => patientEmail(run, phase));
  const emails = await sentEmailsTo(stack, new Set([...expectedEmails.keys(), ...patients]));
  const countOf = (address: string) => emails.filter((e) => e.destination.to.includes(address)).length;
  const missingEmails = [...expectedEmails].reduce((s, [a, n]) => s + Math.max(0, n - countOf(a)), 0);
  const duplicateEmails = [...expectedEmails].reduce((s, [a, n]) => s + Math.max(0, countOf(a) - n), 0);

  // Order: within each chain (topic-partition), the run's entries in chain order are in publish order
  const publishIndex = new Map(published.map((e, i) => [e.meta.eventId, i]));
  const chains = new Map<string, AuditRow[]>();
  for (const row of rows) chains.set(row.chainKey, [...(chains.get(row.chainKey) ?? []), row]);
  let outOfOrder = 0;
  for (const entries of chains.values()) {
    const order = entries
      .sort((a, b) => a.chainSeq - b.chainSeq)
      .map((r) => publishIndex.get(r.eventId) ?? -1);
    for (let i = 1; i < order.length; i++) if ((order[i] as number) < (order[i - 1] as number)) outOfOrder++;
  }
  const verify = await verifyAuditTrail();
  // The appointment's three events are on three topics: Kafka orders each partition, not across topics, so
  // they may be processed in any order (reported). What a reader sees is checked: the appointment's audit
  // trail (byResource, sorted by the event's own time) and its patient's e-mails, in publish order.
  const processedInOrder = lives.map((life) => {
    const at = life.map((e) => rows.find((r) => r.eventId === e.meta.eventId)?.recordedAt ?? '');
    return at.every((t, i) => i === 0 || t >= (at[i - 1] as string));
  });
  const trails = await Promise.all(lives.map((_, phase) => auditTrailOf(`a-${run}-life-${phase}`)));
  const trailInOrder = lives.map(
    (life, i) => JSON.stringify(trails[i]) === JSON.stringify(life.map((e) => e.meta.eventId)),
  );
  // Patients read French (patientRegistered): confirmed, then cancelled
  const patientExpected = ['appointment.confirmed', 'appointment.cancelled'].map(
    (t) => render(t as 'appointment.confirmed', 'fr').subject,
  );
  const patientMail = patients.map((address) =>
    emails.filter((e) => e.destination.to.includes(address)).map((e) => e.subject),
  );
  const mailInOrder = patientMail.map((got) => inPublishOrder(got, patientExpected));
  const yesNo = (flags: boolean[]) => flags.map((ok) => (ok ? 'yes' : 'no')).join(' / ');

  const outageFigures = (o: Awaited<ReturnType<typeof outage>>) =>
    `${seconds(o.downMs)} down, ${o.refused} connections refused, ${o.waiting} records waiting at restore, ` +
    `caught up ${seconds(o.caughtUpMs)} after restore`;
  return {
    name: 'Failing downstream (DynamoDB, then SES)',
    figures: [
      [
        'Events per outage (one appointment: requested, confirmed, cancelled; + requests)',
        3 + options.others,
      ],
      ['DynamoDB outage', outageFigures(dynamoOutage)],
      ['SES outage', outageFigures(sesOutage)],
      ['Dead-lettered to esante.dlq', letters.length],
      ['ESM on-failure records (SQS)', onFailure],
      ['Events published (setup included) / audited', `${ids.size} / ${perEvent.size}`],
      ['Lost audit entries', lost],
      ['Duplicate audit entries', duplicates],
      [
        "E-mails expected / sent (the patients' apart)",
        `${[...expectedEmails.values()].reduce((s, n) => s + n, 0)} / ${emails.length - patientMail.flat().length}`,
      ],
      ['Missing e-mails', missingEmails],
      ['Duplicate e-mails', duplicateEmails],
      ['Audit chains with run events / out-of-order entries', `${chains.size} / ${outOfOrder}`],
      ['audit verify: problems', verify.problems.length],
      [
        "The appointment's three events processed in publish order (DynamoDB / SES outage)",
        yesNo(processedInOrder),
      ],
      ["The appointment's audit trail (byResource) in publish order", yesNo(trailInOrder)],
      [
        "The patient's e-mails in publish order (DynamoDB / SES outage); e-mails sent of 2",
        `${yesNo(mailInOrder)}; ${patientMail.map((m) => m.length).join(' / ')}`,
      ],
    ],
    checks: [
      check('0 records in esante.dlq', letters.length === 0, `${letters.length} dead letters`),
      check('0 ESM on-failure records', onFailure === 0, `${onFailure} on-failure records`),
      check(
        'nothing was dead-lettered while the endpoints were down',
        dynamoOutage.lettersDuring === sesOutage.lettersDuring,
      ),
      check('records waited for the endpoint (the partition kept its place)', dynamoOutage.waiting > 0),
      check(
        'the bus caught up after each outage',
        dynamoOutage.caughtUpMs !== null && sesOutage.caughtUpMs !== null,
      ),
      check('0 lost audit entries', lost === 0, `${lost} missing`),
      check('0 duplicate audit entries', duplicates === 0),
      check('0 missing e-mails', missingEmails === 0, `${missingEmails} missing`),
      check('0 duplicate e-mails', duplicateEmails === 0),
      check('each partition audited in publish order', outOfOrder === 0, `${outOfOrder} out of order`),
      check(
        "each appointment's audit trail reads in publish order",
        trailInOrder.every(Boolean),
        `${trails.map((t) => t.length).join(' / ')} entries`,
      ),
      check(
        "each patient's e-mails in publish order (no 'confirmed' after 'cancelled'), the last state sent",
        mailInOrder.every(Boolean),
        patientMail.map((m) => m.join(' → ')).join('; '),
      ),
      check(
        'audit verify reports no problem',
        verify.problems.length === 0,
        JSON.stringify(verify.problems[0]),
      ),
      check('no unexpected exit of the ESM child', child.crashes.length === 0, child.crashes.join('; ')),
    ],
    notes: [
      `The patient's e-mails, in the order SES accepted them: ${patientMail.map((s) => s.join(' → ')).join('; ')}.`,
      'Kafka orders the records of one partition; the three appointment events are on three topics, so their ' +
        'processing order after an outage depends on which partition is retried first (reported, not checked). ' +
        "Readers see publish order regardless: audit entries are sorted by the event's own time, and an e-mail " +
        'for an event older than one already e-mailed about the same appointment is not sent (superseded).',
      '"Records waiting at restore" is the consumers\' lag when the endpoint came back: each of those records ' +
        'kept its place in its partition (reported as a batch item failure and retried by the ESM) and was ' +
        "processed once the endpoint returned; the catch-up time is the local stack's throughput.",
    ],
  };
};
