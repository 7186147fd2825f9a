import type { Topic } from '../../shared/events/catalog.ts';
import type { BusEvent } from '../../shared/events/envelope.ts';
import { TOPICS } from '../../shared/events/topics.ts';
import type { TemplateName, TemplateVars } from './templates.ts';
import { NOTIFYING_TOPICS } from './topics.ts';

export interface Notice {
  recipientId: string;
  template: TemplateName;
  /** Only the non-clinical values a template may show (dates and times). */
  vars: TemplateVars;
}

type Of<T extends Topic> = BusEvent<T>;

/** The topics that notify (topics.ts lists them; RULES must have one rule for each, and no other). */
export type NotifyingTopic = (typeof NOTIFYING_TOPICS)[number];
export { NOTIFYING_TOPICS };

const when = (e: { appointmentDate?: string; appointmentTime?: string }): TemplateVars => ({
  ...(e.appointmentDate ? { date: e.appointmentDate } : {}),
  ...(e.appointmentTime ? { time: e.appointmentTime } : {}),
});

const referral = (
  template: TemplateName,
  e: { patientId: string; referringDoctorId: string; specialistId?: string | undefined },
  vars: TemplateVars = {},
): Notice[] =>
  [e.patientId, e.referringDoctorId, e.specialistId]
    .filter((id): id is string => Boolean(id))
    .map((recipientId) => ({ recipientId, template, vars }));

/**
 * Who hears about what. Appointment requested → the doctor; confirmed, rejected, cancelled → the patient;
 * message sent → the receiver; referral events → the patient and the doctors concerned (referring doctor,
 * specialist when known); consultation created, prescription created, document uploaded → the patient.
 */
const RULES: { readonly [T in NotifyingTopic]: (e: Of<T>) => Notice[] } = {
  [TOPICS.APPOINTMENT_REQUESTED]: (e: Of<typeof TOPICS.APPOINTMENT_REQUESTED>): Notice[] => [
    { recipientId: e.doctorId, template: 'appointment.requested', vars: when(e) },
  ],
  [TOPICS.APPOINTMENT_CONFIRMED]: (e: Of<typeof TOPICS.APPOINTMENT_CONFIRMED>): Notice[] => [
    { recipientId: e.patientId, template: 'appointment.confirmed', vars: when(e) },
  ],
  [TOPICS.APPOINTMENT_REJECTED]: (e: Of<typeof TOPICS.APPOINTMENT_REJECTED>): Notice[] => [
    { recipientId: e.patientId, template: 'appointment.rejected', vars: {} },
  ],
  [TOPICS.APPOINTMENT_CANCELLED]: (e: Of<typeof TOPICS.APPOINTMENT_CANCELLED>): Notice[] => [
    { recipientId: e.patientId, template: 'appointment.cancelled', vars: {} },
  ],
  [TOPICS.MESSAGE_SENT]: (e: Of<typeof TOPICS.MESSAGE_SENT>): Notice[] => [
    { recipientId: e.receiverId, template: 'message.received', vars: {} },
  ],
  [TOPICS.REFERRAL_CREATED]: (e: Of<typeof TOPICS.REFERRAL_CREATED>) => referral('referral.created', e),
  [TOPICS.REFERRAL_SCHEDULED]: (e: Of<typeof TOPICS.REFERRAL_SCHEDULED>) =>
    referral('referral.scheduled', e, when(e)),
  [TOPICS.REFERRAL_ACCEPTED]: (e: Of<typeof TOPICS.REFERRAL_ACCEPTED>) => referral('referral.accepted', e),
  [TOPICS.REFERRAL_REJECTED]: (e: Of<typeof TOPICS.REFERRAL_REJECTED>) => referral('referral.rejected', e),
  [TOPICS.REFERRAL_COMPLETED]: (e: Of<typeof TOPICS.REFERRAL_COMPLETED>) => referral('referral.completed', e),
  [TOPICS.REFERRAL_CANCELLED]: (e: Of<typeof TOPICS.REFERRAL_CANCELLED>) => referral('referral.cancelled', e),
  [TOPICS.CONSULTATION_CREATED]: (e: Of<typeof TOPICS.CONSULTATION_CREATED>): Notice[] => [
    { recipientId: e.patientId, template: 'consultation.available', vars: {} },
  ],
  [TOPICS.PRESCRIPTION_CREATED]: (e: Of<typeof TOPICS.PRESCRIPTION_CREATED>): Notice[] => [
    { recipientId: e.patientId, template: 'prescription.available', vars: {} },
  ],
  [TOPICS.DOCUMENT_UPLOADED]: (e: Of<typeof TOPICS.DOCUMENT_UPLOADED>): Notice[] => [
    { recipientId: e.patientId, template: 'document.available', vars: {} },
  ],
};

export const isNotifyingTopic = (topic: string): topic is NotifyingTopic =>
  (NOTIFYING_TOPICS as readonly string[]).includes(topic);

/** The notices an event gives, one per distinct recipient (a doctor who is both referrer and specialist hears once). */
export const noticesFor = (event: BusEvent): Notice[] => {
  const topic = event.eventType;
  if (!isNotifyingTopic(topic)) return [];
  const rule = RULES[topic] as (e: BusEvent) => Notice[];
  const seen = new Set<string>();
  return rule(event).filter((n) => !seen.has(n.recipientId) && seen.add(n.recipientId));
};
