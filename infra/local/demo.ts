import { randomUUID } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Consumer, Kafka } from 'kafkajs';
import { auditKey } from '../../functions/audit/audit.ts';
import { TOPICS } from '../../shared/events/topics.ts';
import type { KafkaProducer } from '../../shared/kafka/producer.ts';
import type { RawRecord } from '../../shared/kafka/record.ts';
import { dynamo } from '../../shared/lambda/clients.ts';
import { TABLES } from '../resources.ts';
import { sentEmails } from './aws/index.ts';
import type { EsmObserver } from './esm/emulator.ts';

/**
 * `npm start -- --demo`: plays the seed's two flows on the running stack and prints each step as it happens.
 *  - the user registrations the notification contact projection needs (a patient and a doctor);
 *  - flow 1: appointment requested → the doctor is notified; appointment confirmed → the patient is notified;
 *  - flow 2: appointment completed → a consultation draft → `medical.consultation.created` → the patient is
 *    notified;
 *  - every published event gets its audit entry.
 * Printed lines carry ids, topics, functions and channels only: never e-mail addresses or clinical text.
 */
export interface DemoOptions {
  kafka: Kafka;
  producer: KafkaProducer;
  /** SES endpoint, to read back the e-mails the local server accepted. */
  sesEndpoint: string;
  print?: (line: string) => void;
  timeoutMs?: number;
}

export interface DemoResult {
  ok: boolean;
  missing: string[];
}

/**
 * The health data the demo's events carry, as real ones would: synthetic but realistic, unique to the run
 * (so a leak is attributable), never printed. test/e2e/phi-logs.test.ts checks the demo's output for them.
 */
export const demoPhi = (run: string) => ({
  patientEmail: `patient-${run}@example.org`,
  doctorEmail: `doctor-${run}@example.org`,
  patientFirstName: `Camille-${run}`,
  patientLastName: `Durand-${run}`,
  doctorFirstName: `Louise-${run}`,
  doctorLastName: `Martin-${run}`,
  reason: `Douleur thoracique à l'effort depuis trois jours, essoufflement (${run})`,
});

const header = (record: RawRecord, name: string) => record.headers[name]?.toString('utf8');

/** The demo's expectations, ticked off as they are observed; each prints once. */
class Steps {
  readonly #pending = new Set<string>();
  readonly #done = new Set<string>();
  #waiters: (() => void)[] = [];
  constructor(private readonly print: (line: string) => void) {}
  expect(step: string): void {
    if (!this.#done.has(step)) this.#pending.add(step);
  }
  seen(step: string, line: string): void {
    if (this.#done.has(step)) return;
    this.#done.add(step);
    this.#pending.delete(step);
    this.print(line);
    for (const wake of this.#waiters.splice(0)) wake();
  }
  has(step: string): boolean {
    return this.#done.has(step);
  }
  get missing(): string[] {
    return [...this.#pending];
  }
  /** Resolves when every expected step so far was seen (or rejects with the missing ones at the deadline). */
  async settle(deadline: number): Promise<void> {
    while (this.#pending.size > 0) {
      if (Date.now() > deadline) throw new Error(`not observed: ${this.missing.join('; ')}`);
      await new Promise<void>((wake) => {
        this.#waiters.push(wake);
        setTimeout(wake, 250);
      });
    }
  }
}

/** Observes the ESM on behalf of the demo (installed before the consumers start). */
export class DemoObserver implements EsmObserver {
  steps: Steps | undefined;
  /** Only this run's events are printed (the consumers may also be working through older records). */
  readonly known = new Set<string>();
  result: EsmObserver['result'] = (range, result, _invocation, records) => {
    if (!this.steps) return;
    const consumed = result.kind === 'partial' ? result.succeeded : result.kind === 'success' ? records : [];
    consumed.forEach((record) => {
      const eventId = header(record, 'ce_id');
      if (!eventId || !this.known.has(eventId)) return;
      this.steps?.seen(
        `consumed:${range.function}:${eventId}`,
        `  ← consumed by ${range.function.padEnd(19)} ${record.topic} p${record.partition}@${record.offset} (event ${eventId})`,
      );
    });
  };
}

export const playDemo = async (options: DemoOptions, observer: DemoObserver): Promise<DemoResult> => {
  const print = options.print ?? ((line: string) => console.log(line));
  const steps = new Steps(print);
  observer.steps = steps;
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const run = randomUUID().slice(0, 8);
  const ids = {
    patient: `pat-${run}`,
    doctor: `doc-${run}`,
    appointment: `apt-${run}`,
    completed: `apt-${run}-2`,
  };
  // Synthetic PHI: the addresses are also used to read the e-mails back; none of it is ever printed.
  const phi = demoPhi(run);
  const emails = { patient: phi.patientEmail, doctor: phi.doctorEmail };
  const published = new Map<string, string>(); // eventId → topic
  const track = (eventId: string, topic: string) => {
    published.set(eventId, topic);
    observer.known.add(eventId);
  };
  const auditWatch = new Set<string>();

  const watcher: Consumer = options.kafka.consumer({ groupId: `demo-watch-${run}` });
  await watcher.connect();
  await watcher.subscribe({
    topics: [TOPICS.NOTIFICATION_SENT, TOPICS.CONSULTATION_CREATED],
    fromBeginning: false,
  });
  // The watcher must be in its group before anything is published (it reads from the end).
  const joined = new Promise<void>((ready) => {
    const off = watcher.on(watcher.events.GROUP_JOIN, () => {
      off();
      ready();
    });
  });
  await watcher.run({
    eachMessage: async ({ topic, message }) => {
      const event = JSON.parse(message.value?.toString('utf8') ?? '{}') as Record<string, string>;
      if (topic === TOPICS.NOTIFICATION_SENT && published.has(event.sourceEventId ?? '')) {
        steps.seen(
          `sent:${event.sourceEventId}:${event.recipientId}:${event.channel}`,
          `  ✉ notification sent to ${event.recipientId} via ${event.channel} (${event.template}, notification ${event.notificationId})`,
        );
      }
      if (topic === TOPICS.CONSULTATION_CREATED && event.appointmentId === ids.completed && event.eventId) {
        track(event.eventId, topic);
        auditWatch.add(event.eventId);
        steps.seen(
          'draft',
          `  ✚ consultation draft ${event.consultationId} created for appointment ${event.appointmentId}; published ${topic} (event ${event.eventId})`,
        );
        expectNotified(event.eventId, ids.patient);
        steps.expect(`audit:${event.eventId}`);
      }
    },
  });

  await joined;

  const expectNotified = (eventId: string, recipientId: string) => {
    steps.expect(`sent:${eventId}:${recipientId}:in_app`);
    steps.expect(`sent:${eventId}:${recipientId}:email`);
  };
  const publish = async <T extends Parameters<KafkaProducer['publish']>[0]>(
    topic: T,
    payload: Parameters<KafkaProducer['publish']>[1] & object,
    actor: { id: string; type: 'patient' | 'doctor' | 'system' },
    consumers: string[],
  ) => {
    const { eventId } = await options.producer.publish(topic, payload as never, { actor, service: 'demo' });
    track(eventId, topic);
    auditWatch.add(eventId);
    print(`→ published ${topic} (event ${eventId})`);
    steps.expect(`audit:${eventId}`);
    for (const fn of consumers) steps.expect(`consumed:${fn}:${eventId}`);
    return eventId;
  };

  // Audit entries: read back from the audit table while the demo runs.
  let polling = true;
  const pollAudit = (async () => {
    while (polling) {
      for (const eventId of auditWatch) {
        const out = await dynamo()
          .send(new GetCommand({ TableName: process.env[TABLES.audit.env], Key: auditKey(eventId) }))
          .catch(() => undefined);
        if (out?.Item) {
          auditWatch.delete(eventId);
          steps.seen(
            `audit:${eventId}`,
            `  ✎ audit entry written for ${published.get(eventId)} (event ${eventId})`,
          );
        }
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  })();

  try {
    print(`Demo run ${run}: patient ${ids.patient}, doctor ${ids.doctor}`);
    print('— Registrations (the notification function keeps a contact projection from them)');
    await publish(
      TOPICS.USER_REGISTERED,
      {
        userId: ids.patient,
        email: emails.patient,
        role: 'patient',
        firstName: phi.patientFirstName,
        lastName: phi.patientLastName,
        language: 'fr',
      },
      { id: ids.patient, type: 'patient' },
      ['audit', 'notification'],
    );
    await publish(
      TOPICS.USER_REGISTERED,
      {
        userId: ids.doctor,
        email: emails.doctor,
        role: 'doctor',
        firstName: phi.doctorFirstName,
        lastName: phi.doctorLastName,
        language: 'fr',
      },
      { id: ids.doctor, type: 'doctor' },
      ['audit', 'notification'],
    );
    await steps.settle(deadline);

    print('— Flow 1: appointment requested → confirmed');
    const when = { appointmentDate: '2026-12-01', appointmentTime: '09:30' };
    const requested = await publish(
      TOPICS.APPOINTMENT_REQUESTED,
      {
        appointmentId: ids.appointment,
        patientId: ids.patient,
        doctorId: ids.doctor,
        ...when,
        reason: phi.reason,
      },
      { id: ids.patient, type: 'patient' },
      ['audit', 'notification'],
    );
    expectNotified(requested, ids.doctor);
    await steps.settle(deadline);
    const confirmed = await publish(
      TOPICS.APPOINTMENT_CONFIRMED,
      { appointmentId: ids.appointment, patientId: ids.patient, doctorId: ids.doctor, ...when },
      { id: ids.doctor, type: 'doctor' },
      ['audit', 'notification'],
    );
    expectNotified(confirmed, ids.patient);
    await steps.settle(deadline);

    print('— Flow 2: appointment completed → consultation draft → consultation created');
    steps.expect('draft');
    await publish(
      TOPICS.APPOINTMENT_COMPLETED,
      {
        appointmentId: ids.completed,
        patientId: ids.patient,
        doctorId: ids.doctor,
        appointmentDate: '2026-12-01',
        completedAt: '2026-12-01T10:00:00Z',
      },
      { id: ids.doctor, type: 'doctor' },
      ['audit', 'consultation-drafts'],
    );
    await steps.settle(deadline);

    // E-mails as the local SES server accepted them: 1 to the doctor, 2 to the patient.
    const doctorMails = (await sentEmails(options.sesEndpoint, emails.doctor)).length;
    const patientMails = (await sentEmails(options.sesEndpoint, emails.patient)).length;
    print(
      `  ✉ SES accepted ${doctorMails} e-mail(s) for ${ids.doctor} and ${patientMails} for ${ids.patient}`,
    );
    const missing = [
      ...(doctorMails === 1 ? [] : [`1 e-mail to ${ids.doctor} (got ${doctorMails})`]),
      ...(patientMails === 2 ? [] : [`2 e-mails to ${ids.patient} (got ${patientMails})`]),
    ];
    return { ok: missing.length === 0, missing };
  } catch (error) {
    return { ok: false, missing: steps.missing.length ? steps.missing : [(error as Error).message] };
  } finally {
    polling = false;
    await pollAudit;
    await watcher.disconnect();
  }
};
