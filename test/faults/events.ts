import { randomUUID } from 'node:crypto';
import { type EventMeta, type PayloadOf, TOPICS, type Topic } from '../../shared/events/index.ts';
import { PHI_MARKER } from '../fixtures/events.ts';
import { PHI_LITERALS } from './log-tap.ts';

/**
 * Events of the fault runs. Every PHI field (per the catalog) holds a value with PHI_MARKER in it, or one of
 * PHI_LITERALS, so the log tap can find any of them. `service` tags every event of one scenario run: the
 * audit entries are counted by it.
 */
export interface FaultEvent<T extends Topic = Topic> {
  topic: T;
  payload: PayloadOf<T>;
  meta: EventMeta & { eventId: string };
}

/** The actor of a run's events: `service` is unique per scenario run. */
export const faultActor = (service: string) => `faults-runner-${service}`;

export const faultMeta = (service: string): EventMeta & { eventId: string } => ({
  // One actor per run: the audit trail's byActor index then counts a run's entries cheaply (faultActor).
  actor: { id: faultActor(service), type: 'system' },
  service,
  eventId: randomUUID(),
});

/** Topics only the audit function reads: one effect per event (an audit entry). */
export const AUDIT_ONLY_TOPICS = [
  TOPICS.CONSULTATION_ACCESSED,
  TOPICS.DOCUMENT_DELETED,
  TOPICS.USER_LOGGED_IN,
] as const;

export const auditOnlyEvent = (run: string, i: number, service: string): FaultEvent => {
  const topic = AUDIT_ONLY_TOPICS[i % AUDIT_ONLY_TOPICS.length] as (typeof AUDIT_ONLY_TOPICS)[number];
  const meta = faultMeta(service);
  const patientId = `p-${run}-${i % 97}`;
  switch (topic) {
    case TOPICS.CONSULTATION_ACCESSED:
      return {
        topic,
        meta,
        payload: { consultationId: `c-${run}-${i}`, patientId, accessReason: `${PHI_MARKER} access ${i}` },
      };
    case TOPICS.DOCUMENT_DELETED:
      return {
        topic,
        meta,
        payload: { documentId: `d-${run}-${i}`, patientId, reason: `${PHI_MARKER} misfiled ${i}` },
      };
    default:
      return {
        topic,
        meta,
        payload: { userId: `u-${run}-${i % 89}`, sessionId: `s-${run}-${i}`, ipAddress: PHI_LITERALS[0] },
      };
  }
};

/** A doctor whose e-mail address the notification function learns (contact projection). */
export const doctorEmail = (run: string, i: number) => `phi-marker-7f3a.${run}.${i}@example.org`;

export const doctorRegistered = (run: string, i: number, service: string): FaultEvent => ({
  topic: TOPICS.USER_REGISTERED,
  meta: faultMeta(service),
  payload: {
    userId: `doctor-${run}-${i}`,
    email: doctorEmail(run, i),
    role: 'doctor',
    firstName: `${PHI_MARKER}-${i}`,
    language: 'fr',
  },
});

/** An appointment request: one audit entry and one e-mail to doctor `i` (plus an in-app notice). */
export const appointmentRequested = (run: string, i: number, service: string): FaultEvent => ({
  topic: TOPICS.APPOINTMENT_REQUESTED,
  meta: faultMeta(service),
  payload: {
    appointmentId: `a-${run}-${i}`,
    patientId: `p-${run}-${i}`,
    doctorId: `doctor-${run}-${i}`,
    appointmentDate: '2026-12-01',
    appointmentTime: '09:30',
    reason: `${PHI_MARKER} chest pain ${i}`,
  },
});
