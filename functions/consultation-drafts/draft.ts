import type { PayloadOf } from '../../shared/events/catalog.ts';
import type { BusEvent, EventMeta } from '../../shared/events/envelope.ts';
import type { TOPICS } from '../../shared/events/topics.ts';
import { deterministicUuid } from '../../shared/lambda/ids.ts';

type Completed = BusEvent<typeof TOPICS.APPOINTMENT_COMPLETED>;
type Created = PayloadOf<typeof TOPICS.CONSULTATION_CREATED>;

/** The same appointment always drafts the same consultation: a redelivery finds the draft already there. */
export const draftConsultationId = (appointmentId: string): string =>
  deterministicUuid('consultation-draft', appointmentId);

/** The draft the seed's flow 2 creates: status draft, empty diagnosis, dated on the appointment day. */
export const toDraft = (event: Completed): Created & { status: 'draft' } => ({
  consultationId: draftConsultationId(event.appointmentId),
  appointmentId: event.appointmentId,
  patientId: event.patientId,
  doctorId: event.doctorId,
  consultationDate: event.appointmentDate,
  diagnosis: '',
  status: 'draft',
});

export const DRAFT_ACTOR = { id: 'medical-records-service', type: 'system' } as const;

/**
 * Envelope of the `medical.consultation.created` event; its eventId is derived from the consultation so a
 * re-publish after a crash carries the same id and consumers (audit, notification) dedupe it.
 */
export const createdMeta = (event: Completed, consultationId: string): EventMeta => ({
  actor: DRAFT_ACTOR,
  eventId: deterministicUuid('consultation-created', consultationId),
  causationId: event.eventId,
  correlationId: event.correlationId,
  service: 'medical-records-service',
});
