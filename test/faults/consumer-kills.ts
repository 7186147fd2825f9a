import { randomUUID } from 'node:crypto';
import { CLAIM_LEASE_MS, deliveryId, getDelivery } from '../../functions/notification/deliveries.ts';
import { verifyAuditTrail } from '../../infra/ops/audit-cli.ts';
import { TOPICS } from '../../shared/events/index.ts';
import { KafkaProducer } from '../../shared/kafka/producer.ts';
import {
  AUDIT_ONLY_TOPICS,
  appointmentRequested,
  auditOnlyEvent,
  doctorEmail,
  doctorRegistered,
  type FaultEvent,
  faultActor,
} from './events.ts';
import { check, type ScenarioResult, seconds } from './report.ts';
import {
  auditCount,
  auditEntries,
  EsmChild,
  emailsPerAddress,
  type FaultStack,
  kafkaDeadLetters,
  lag,
  sleep,
  sqsDeadLetters,
  waitCaughtUp,
} from './stack.ts';

export interface ConsumerKillOptions {
  /** Events in the killed phase, `emails` of them appointment requests (one e-mail each). */
  events: number;
  emails: number;
  kills: number;
  catchUpTimeoutMs?: number;
}

const publishAll = async (producer: KafkaProducer, events: FaultEvent[]) => {
  await Promise.all(events.map((e) => producer.publish(e.topic, e.payload as never, e.meta)));
};

/**
 * The ESM child (emulator + audit, notification and consultation-draft handlers) SIGKILLed while it works
 * through a backlog — some but not all of it processed — and restarted at once, `kills` times. Afterwards
 * every event has exactly one audit entry and every appointment request exactly one e-mail.
 */
export const consumerKills = async (
  stack: FaultStack,
  options: ConsumerKillOptions,
): Promise<ScenarioResult> => {
  const run = randomUUID().slice(0, 8);
  const suffix = stack.groupSuffix;
  const service = `faults-consumer-${run}`;
  const topics = [TOPICS.USER_REGISTERED, TOPICS.APPOINTMENT_REQUESTED, ...AUDIT_ONLY_TOPICS] as string[];
  const child = new EsmChild(stack, suffix);
  await child.start();
  const producer = new KafkaProducer({ handleSignals: false });
  const alreadyBefore = stack.tap.counted('Audit entry already present');

  // Setup (no fault): the doctors' e-mail addresses reach the notification contact projection.
  const doctors = Array.from({ length: options.emails }, (_, i) => doctorRegistered(run, i, service));
  await publishAll(producer, doctors);
  await waitCaughtUp(stack.kafka, suffix, topics, 120_000);

  // The backlog: every tenth event an appointment request (an e-mail), the rest audit-only.
  const every = Math.max(1, Math.floor(options.events / options.emails));
  let requests = 0;
  const backlog = Array.from({ length: options.events }, (_, i) =>
    i % every === 0 && requests < options.emails
      ? appointmentRequested(run, requests++, service)
      : auditOnlyEvent(run, i, service),
  );
  await publishAll(producer, backlog);
  await producer.disconnect();
  const ids = new Set([...doctors, ...backlog].map((e) => e.meta.eventId));
  const total = ids.size;

  // Each kill lands when the run's audit entries (counted by the byActor index: a scan of the whole table
  // grows with every run and took longer than the batched audit path needs for the whole backlog) reach
  // their share, and after a restart only once the new process has added entries of its own.
  const killedAt: { at: number; processed: number; uncommitted: number }[] = [];
  const kills = Array.from({ length: options.kills }, (_, k) => (k + 1) / (options.kills + 1));
  let before = 0;
  for (const fraction of kills) {
    const threshold = Math.max(before + 1, doctors.length + Math.floor(options.events * fraction * 0.6));
    for (;;) {
      if ((await auditCount(faultActor(service))) >= threshold) {
        await child.kill();
        // The process is dead: the count is final for this kill.
        before = await auditCount(faultActor(service));
        // What the restarted process must redo: records not committed when the process died.
        const uncommitted = await lag(stack.kafka, suffix, topics);
        killedAt.push({ at: Date.now(), processed: before, uncommitted });
        break;
      }
      await sleep(50);
    }
    await child.start();
  }
  const catchUpMs = await waitCaughtUp(stack.kafka, suffix, topics, options.catchUpTimeoutMs ?? 600_000);
  const lastKill = killedAt.at(-1)?.at ?? Date.now();
  const recoverMs = catchUpMs === null ? null : Date.now() - lastKill;

  // A kill between a delivery's claim and the record of its e-mail leaves the claim held for CLAIM_LEASE_MS:
  // the redelivered record finds it busy, which is transient, so its partition waits (in order) until the
  // lease ends and the record takes the claim over. Nothing of this run belongs on esante.dlq.
  const letters = await kafkaDeadLetters(stack.kafka, (_e, id) => id !== undefined && ids.has(id));
  await child.stop();

  const audit = await auditEntries(service);
  const missing = [...ids].filter((id) => !audit.has(id)).length;
  const duplicates = [...audit.values()].reduce((n, c) => n + Math.max(0, c - 1), 0);
  const addresses = new Set(Array.from({ length: options.emails }, (_, i) => doctorEmail(run, i)));
  const emails = await emailsPerAddress(stack, addresses);
  const missingEmails = [...addresses].filter((a) => !emails.has(a)).length;
  const duplicateEmails = [...emails.values()].reduce((n, c) => n + Math.max(0, c - 1), 0);
  // At-least-once at the SES boundary (deliveries.ts): a second e-mail may only follow a claim taken over
  // after a run died holding it, and every takeover is counted on its delivery row.
  const requestsById = backlog.filter((e) => e.topic === TOPICS.APPOINTMENT_REQUESTED);
  let takeovers = 0;
  let unexplained = 0;
  for (const e of requestsById) {
    const payload = e.payload as { doctorId: string };
    const row = await getDelivery(deliveryId(e.meta.eventId as string, payload.doctorId, 'email'));
    takeovers += row?.takeovers ?? 0;
    const i = Number(payload.doctorId.split('-').at(-1));
    const extra = Math.max(0, (emails.get(doctorEmail(run, i)) ?? 0) - 1);
    if (extra > (row?.takeovers ?? 0)) unexplained += extra - (row?.takeovers ?? 0);
  }
  const reasons = [
    ...new Set(letters.map((l) => `${l.failedBy}: ${l.letter?.errorCode ?? l.letter?.errorClass}`)),
  ];
  const onFailure = await sqsDeadLetters(stack);
  const chain = await verifyAuditTrail();
  const redelivered = stack.tap.counted('Audit entry already present') - alreadyBefore;
  // Mid-run: work was left to redo (uncommitted records). With batched audit appends a partition's entries
  // can all be written and its offsets not yet committed: that is mid-run too, and the harder case.
  const midRun = killedAt.every((k) => k.uncommitted > 0);

  return {
    name: 'Consumer kills',
    figures: [
      ['Events', `${total} (${doctors.length} registrations, ${options.events} in the killed phase)`],
      ['E-mails expected (one per appointment request)', options.emails],
      ['ESM process SIGKILLs (each followed by a restart)', child.kills],
      ['Audit entries present when killed', killedAt.map((k) => `${k.processed}/${total}`).join(', ')],
      ['Records not committed when killed (to redo)', killedAt.map((k) => k.uncommitted).join(', ')],
      ['Lost audit entries', missing],
      ['Duplicate audit entries', duplicates],
      ['Missing e-mails', missingEmails],
      ['Duplicate e-mails', duplicateEmails],
      ['E-mail claims taken over after a kill (each may send once more)', takeovers],
      ['Duplicate e-mails without a takeover on record', unexplained],
      ['Records redelivered after a kill (audit found its entry, wrote nothing)', redelivered],
      ['Dead-lettered (esante.dlq / ESM on-failure)', `${letters.length} / ${onFailure.length}`],
      ['Time to recover (last kill → everything committed)', seconds(recoverMs)],
      [
        'Audit hash chains',
        `${chain.chains} chains, ${chain.entries} entries, ${chain.problems.length} broken`,
      ],
    ],
    checks: [
      check(
        'each kill landed mid-run (records left uncommitted to redo)',
        midRun && killedAt.length === options.kills,
      ),
      check('0 lost audit entries', missing === 0, `${missing} missing`),
      check('0 duplicate audit entries', duplicates === 0),
      check(
        'no duplicate e-mail except after a claim taken over from a killed run',
        unexplained === 0,
        `${duplicateEmails} duplicate(s), ${takeovers} takeover(s)`,
      ),
      check('0 missing e-mails', missingEmails === 0, `${missingEmails} missing`),
      check('consumers caught up', catchUpMs !== null),
      check(
        'nothing dead-lettered (a held claim is transient)',
        letters.length + onFailure.length === 0,
        reasons.join('; '),
      ),
      check('audit hash chains verify', chain.problems.length === 0),
      check('no unexpected exit of the ESM child', child.crashes.length === 0, child.crashes.join('; ')),
    ],
    notes: [
      `A kill between a delivery's claim and the record of its e-mail leaves the claim held for ${CLAIM_LEASE_MS / 1000} s ` +
        '(functions/notification/deliveries.ts): the redelivered record waits for it in its partition, then takes ' +
        'it over. Whether the killed run had sent the e-mail is unknown (SES has no idempotency key), so a takeover ' +
        'may send it once more: at-least-once at that boundary, and each takeover is counted on the delivery row.',
      'The kill is a SIGKILL of the whole emulator process: invocations die half-way, nothing is flushed, ' +
        'offsets of unfinished batches stay uncommitted, and the restarted process gets those records again.',
    ],
  };
};
