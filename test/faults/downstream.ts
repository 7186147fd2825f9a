import { randomUUID } from 'node:crypto';
import type { DlqEntry } from '../../infra/ops/dlq.ts';
import { replayEntry } from '../../infra/ops/dlq-cli.ts';
import { TOPICS } from '../../shared/events/index.ts';
import { KafkaProducer } from '../../shared/kafka/producer.ts';
import { appointmentRequested, doctorEmail, doctorRegistered, type FaultEvent } from './events.ts';
import type { FaultProxy } from './proxy.ts';
import { check, type ScenarioResult, seconds } from './report.ts';
import {
  auditEntries,
  EsmChild,
  emailsPerAddress,
  type FaultStack,
  kafkaDeadLetters,
  sqsDeadLetters,
  waitCaughtUp,
} from './stack.ts';

export interface DownstreamOptions {
  /** Appointment requests published during each outage (one audit entry and one e-mail each). */
  eventsPerOutage: number;
  doctors: number;
  catchUpTimeoutMs?: number;
}

/**
 * DynamoDB, then SES, unreachable while events flow (a TCP proxy in front of each is cut, so the store keeps
 * its data), then back. The in-function tier retries each record (RECORD_RETRY of infra/consumers.ts, bounded)
 * and dead-letters it to esante.dlq with its reason; the ESM tier is reported too. After recovery the dead
 * letters are replayed with the DLQ tool (replayEntry: back to the original topic, same eventId), and then
 * every event must have exactly one audit entry and one e-mail.
 */
export const downstream = async (stack: FaultStack, options: DownstreamOptions): Promise<ScenarioResult> => {
  const run = randomUUID().slice(0, 8);
  const suffix = stack.groupSuffix;
  const service = `faults-downstream-${run}`;
  const topics = [TOPICS.USER_REGISTERED, TOPICS.APPOINTMENT_REQUESTED] as string[];
  const timeout = options.catchUpTimeoutMs ?? 600_000;
  const child = new EsmChild(stack, suffix);
  await child.start();
  const producer = new KafkaProducer({ handleSignals: false });
  const publishAll = (events: FaultEvent[]) =>
    Promise.all(events.map((e) => producer.publish(e.topic, e.payload as never, e.meta)));

  const n = options.eventsPerOutage;
  const doctors = Array.from({ length: Math.max(options.doctors, 2 * n) }, (_, i) =>
    doctorRegistered(run, i, service),
  );
  await publishAll(doctors);
  await waitCaughtUp(stack.kafka, suffix, topics, 120_000);

  const outage = async (name: string, proxy: FaultProxy, from: number) => {
    const events = Array.from({ length: n }, (_, i) => appointmentRequested(run, from + i, service));
    proxy.cut();
    const cutAt = Date.now();
    await publishAll(events);
    // Every record of the outage has been handled by the bus: processed, dead-lettered or discarded.
    const handledMs = await waitCaughtUp(stack.kafka, suffix, topics, timeout);
    proxy.restore();
    return { name, events, downMs: Date.now() - cutAt, handledMs, refused: proxy.refused };
  };
  const dynamoOutage = await outage('DynamoDB', stack.dynamoProxy, 0);
  const refusedBefore = stack.sesProxy.refused;
  const sesOutage = await outage('SES', stack.sesProxy, n);
  const restoredAt = Date.now();

  const outageEvents = [...dynamoOutage.events, ...sesOutage.events];
  const ids = new Set([...doctors, ...outageEvents].map((e) => e.meta.eventId));
  const phaseOf = new Map(outageEvents.map((e, i) => [e.meta.eventId, i < n ? 'DynamoDB' : 'SES']));
  const letters = await kafkaDeadLetters(stack.kafka, (_e, id) => id !== undefined && ids.has(id));
  const onFailure = await sqsDeadLetters(stack);

  // Paths: per function and outage, how the records were handled before recovery.
  const paths = new Map<string, number>();
  let maxAttempts = 0;
  for (const entry of letters) {
    const id = entry.letter ? eventIdOfLetter(entry) : undefined;
    const key = `${entry.failedBy} during the ${id ? (phaseOf.get(id) ?? 'setup') : '?'} outage → esante.dlq (${entry.letter?.errorCode ?? entry.letter?.errorClass}, ${entry.letter?.attempts} attempts)`;
    paths.set(key, (paths.get(key) ?? 0) + 1);
    maxAttempts = Math.max(maxAttempts, entry.letter?.attempts ?? 0);
  }
  const auditBefore = await auditEntries(service);
  const emailsBefore = await emailsPerAddress(
    stack,
    new Set(outageEvents.map((_, i) => doctorEmail(run, i))),
  );

  // Recovery: replay every dead letter (Kafka entries back to their topic; SQS entries to their function).
  const kafka = stack.kafka;
  const sqs = { client: stack.sqs.client, queueUrl: stack.sqs.queueUrl };
  let replayFailures = 0;
  for (const entry of [...letters, ...onFailure]) {
    const result = await replayEntry({ kafka, sqs, print: () => undefined }, entry);
    replayFailures += result.failures;
  }
  const recovered = await waitCaughtUp(stack.kafka, suffix, topics, timeout);
  const recoverMs = recovered === null ? null : Date.now() - restoredAt;
  await child.stop();
  await producer.disconnect();

  const audit = await auditEntries(service);
  const missing = [...ids].filter((id) => !audit.has(id)).length;
  const duplicates = [...audit.values()].reduce((s, c) => s + Math.max(0, c - 1), 0);
  const addresses = new Set(outageEvents.map((_, i) => doctorEmail(run, i)));
  const emails = await emailsPerAddress(stack, addresses);
  const missingEmails = [...addresses].filter((a) => !emails.has(a)).length;
  const duplicateEmails = [...emails.values()].reduce((s, c) => s + Math.max(0, c - 1), 0);
  const lettersAfter = await kafkaDeadLetters(stack.kafka, (_e, id) => id !== undefined && ids.has(id));
  const newLetters = lettersAfter.length - letters.length;
  const auditDuringOutage = outageEvents.filter((e) => auditBefore.has(e.meta.eventId)).length;
  const emailsDuringOutage = [...emailsBefore.values()].reduce((s, c) => s + c, 0);

  return {
    name: 'Failing downstream (DynamoDB, then SES)',
    figures: [
      ['Events during each outage', n],
      ['Outages (endpoint cut, then restored)', 2],
      [
        'Outage length DynamoDB / SES (until the bus had handled every record)',
        `${seconds(dynamoOutage.downMs)} / ${seconds(sesOutage.downMs)}`,
      ],
      [
        'Connections refused DynamoDB / SES',
        `${dynamoOutage.refused} / ${sesOutage.refused - refusedBefore}`,
      ],
      ['Audit entries / e-mails written during the outages', `${auditDuringOutage} / ${emailsDuringOutage}`],
      ['Dead-lettered to esante.dlq', letters.length],
      ['ESM on-failure records (SQS)', onFailure.length],
      ['Most in-function attempts before a dead letter (bounded)', maxAttempts],
      [
        'Replayed after recovery (DLQ tool) / failures',
        `${letters.length + onFailure.length} / ${replayFailures}`,
      ],
      ['Lost audit entries after recovery', missing],
      ['Duplicate audit entries', duplicates],
      ['Missing e-mails after recovery', missingEmails],
      ['Duplicate e-mails', duplicateEmails],
      ['New dead letters after the replay', newLetters],
      ['Time to recover (restore → replayed and processed)', seconds(recoverMs)],
    ],
    checks: [
      check(
        'the bus handled every record during each outage (no partition blocked)',
        dynamoOutage.handledMs !== null && sesOutage.handledMs !== null,
      ),
      check('retries are bounded: records were dead-lettered during the outages', letters.length > 0),
      check('after recovery: 0 lost audit entries', missing === 0, `${missing} missing`),
      check('after recovery: 0 duplicate audit entries', duplicates === 0),
      check('after recovery: 0 missing e-mails', missingEmails === 0, `${missingEmails} missing`),
      check('after recovery: 0 duplicate e-mails', duplicateEmails === 0),
      check('the replay created no new dead letters', newLetters === 0 && replayFailures === 0),
      check('no unexpected exit of the ESM child', child.crashes.length === 0, child.crashes.join('; ')),
    ],
    notes: [
      ...[...paths].map(([path, count]) => `${count} × ${path}`),
      'Replaying a Kafka dead letter writes the original record back to its topic, so every function that ' +
        'reads the topic sees it again; the one that had already succeeded finds its effect done and writes nothing.',
    ],
  };
};

const eventIdOfLetter = (entry: DlqEntry): string | undefined => {
  const value = entry.letter?.original.value;
  if (!value) return undefined;
  try {
    return (JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as { eventId?: string }).eventId;
  } catch {
    return undefined;
  }
};
